"""Aligned plain-text tables: the per-epoch metrics of a training run, and any list of records.

Text (not rich markup) so the same table reads right in a terminal, a log file, a CI page and a model card's
`<pre>` block. Numbers are right-aligned with a fixed number of decimals, text is left-aligned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_table", "format_epoch_table", "epoch_rows", "EPOCH_METRICS"]

EPOCH_METRICS = ("srocc", "plcc", "krocc", "rmse")
# Keys of a history record that are not evaluation sets.
_RECORD_KEYS = {"epoch", "step", "lr", "learning_rate", "train_loss", "loss", "selection_score", "time", "eval",
                "metrics", "eval_coverage", "partial"}


def _cell(value: Any, decimals: int) -> tuple[str, bool]:
    """(text, is_number)."""
    if value is None:
        return "-", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int):
        return f"{value:d}", True
    if isinstance(value, float):
        if math.isnan(value):
            return "nan", True
        magnitude = abs(value)
        if magnitude != 0 and (magnitude < 10 ** -decimals or magnitude >= 1e7):
            return f"{value:.{max(decimals - 1, 1)}e}", True  # learning rates such as 3.2e-05 stay readable
        return f"{value:.{decimals}f}", True
    return str(value), False


def format_table(
    rows: Sequence[Mapping[str, Any] | Sequence[Any]],
    columns: Sequence[str | tuple[str, str]],
    title: str | None = None,
    notes: Sequence[str] | str | None = None,
    *,
    decimals: int = 4,
) -> str:
    """An aligned text table.

    Args:
        rows (list of `dict` or of sequences): one record per row; dict rows are read by column key, sequence
            rows by position. Missing values show as `-`, NaN as `nan`.
        columns (list of `str` or `(key, header)`): the columns, in order; a plain string is both key and header.
        title (`str`, *optional*): a line above the table.
        notes (`str` or list of `str`, *optional*): lines below the table (what the columns mean, units).
        decimals (`int`, defaults to 4): decimals of floats (tiny or huge ones use scientific notation).

    Returns:
        `str`: the table, lines joined by newlines, no trailing newline.

    Example:
        ```python
        >>> print(format_table([{"set": "KoNViD-1k", "srocc": 0.8712}, {"set": "LIVE-VQC", "srocc": 0.8}],
        ...                    ["set", ("srocc", "SROCC")]))
        set        SROCC
        ---------  ------
        KoNViD-1k  0.8712
        LIVE-VQC   0.8000
        ```
    """
    if not columns:
        raise ValueError("format_table needs at least one column.")
    keys = [c if isinstance(c, str) else c[0] for c in columns]
    headers = [c if isinstance(c, str) else c[1] for c in columns]
    cells = []
    for row in rows:
        if isinstance(row, Mapping):
            values = [row.get(key) for key in keys]
        else:
            values = list(row) + [None] * (len(keys) - len(row))
        cells.append([_cell(value, decimals) for value in values[: len(keys)]])
    widths = [max([len(h)] + [len(r[i][0]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [bool(cells) and all(r[i][1] or r[i][0] == "-" for r in cells) for i in range(len(keys))]

    def line(texts: Sequence[str], align_numbers: bool = True) -> str:
        parts = [t.rjust(w) if align_numbers and numeric[i] else t.ljust(w) for i, (t, w) in
                 enumerate(zip(texts, widths, strict=True))]
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out.append(line(headers))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line([text for text, _ in r]) for r in cells)
    if notes:
        out.extend([notes] if isinstance(notes, str) else list(notes))
    return "\n".join(out)


def epoch_rows(history: Sequence[Mapping[str, Any]], metrics: Sequence[str] = EPOCH_METRICS,
               selected_epoch: int | None = None) -> list[dict[str, Any]]:
    """One row per epoch x evaluation set from a run's `history` (see [`format_epoch_table`])."""
    rows = []
    for record in history:
        sets = {**(record.get("eval") or {}), **(record.get("metrics") or {})}
        sets.update({k: v for k, v in record.items()
                     if k not in _RECORD_KEYS and isinstance(v, Mapping) and set(metrics) & set(v)})
        lr = record.get("lr", record.get("learning_rate"))
        base = {"epoch": record.get("epoch"), "step": record.get("step"),
                # Learning rates span decades: 3 significant digits, never rounded to 0.0000.
                "lr": f"{lr:.2e}" if isinstance(lr, float) else lr,
                "train_loss": record.get("train_loss", record.get("loss")),
                "selected": "*" if selected_epoch is not None and record.get("epoch") == selected_epoch else ""}
        if not sets:
            rows.append({**base, "eval_set": "-"})
        for name, values in sets.items():
            rows.append({**base, "eval_set": name, **{m: values.get(m) for m in metrics}})
    return rows


def format_epoch_table(
    history: Sequence[Mapping[str, Any]],
    *,
    metrics: Sequence[str] = EPOCH_METRICS,
    selected_epoch: int | None = None,
    fit: str | None = None,
    title: str | None = "Metrics per epoch and evaluation set",
) -> str:
    """The per-epoch metrics of a training run, one row per epoch x evaluation set, aligned.

    Args:
        history (list of `dict`): `results.json`'s `history`: each record has `epoch`, `step`, `lr`, `train_loss`
            and, per evaluation set, `{set name: {"srocc", "plcc", "krocc", "rmse", ...}}` (under `"metrics"`, as
            `training/train.py` writes it, under `"eval"`, or at the top level).
        metrics (list of `str`): the metric columns.
        selected_epoch (`int`, *optional*): marked with `*` (the epoch whose weights are shipped in `best/`).
        fit (`str`, *optional*): the `--fit` used for PLCC/RMSE, stated in the notes.
        title (`str`, *optional*): the line above the table.

    Example:
        ```python
        >>> history = [{"epoch": 0, "step": 5, "lr": 1e-3, "train_loss": 0.61, "test": {"srocc": 0.5, "plcc": 0.52}},
        ...            {"epoch": 1, "step": 10, "lr": 5e-4, "train_loss": 0.42, "test": {"srocc": 0.7, "plcc": 0.71}}]
        >>> print(format_epoch_table(history, metrics=("srocc", "plcc"), selected_epoch=1, title=None))
        epoch  step  lr        train loss  eval set   SROCC    PLCC  best
        -----  ----  --------  ----------  --------  ------  ------  ----
            0     5  1.00e-03      0.6100  test      0.5000  0.5200
            1    10  5.00e-04      0.4200  test      0.7000  0.7100  *
        * = selected epoch.
        ```
    """
    rows = epoch_rows(history, metrics, selected_epoch)
    columns = [("epoch", "epoch"), ("step", "step"), ("lr", "lr"), ("train_loss", "train loss"),
               ("eval_set", "eval set"), *[(m, m.upper()) for m in metrics], ("selected", "best")]
    notes = []
    if selected_epoch is not None:
        notes.append("* = selected epoch.")
    if fit is not None:
        notes.append(f"PLCC and RMSE after fit={fit!r}; SROCC and KROCC on the raw predictions.")
    return format_table(rows, columns, title=title, notes=notes or None)

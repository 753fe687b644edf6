"""Per-video prediction files: `OUTPUT/predictions/<eval_name>.csv` of a training run (and any scored set).

Columns: `file`, `label`, `prediction`, then one `p_<level>` column per quality level (the model's level
probabilities) when given. Plain CSV so a spreadsheet, pandas or the HTML report reads it; floats written with
`repr` precision so re-computing a metric from the file gives the logged value.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import OutputError

__all__ = ["write_predictions", "write_eval_predictions", "read_predictions", "predictions_path", "safe_file_name"]


def safe_file_name(name: str) -> str:
    """`name` usable as a file name on every OS (e.g. an eval-set name `KoNViD-1k/test` -> `KoNViD-1k_test`)."""
    cleaned = re.sub(r"[^\w.\-]+", "_", str(name)).strip("._")
    return cleaned or "eval"


def predictions_path(output_dir: str | os.PathLike, eval_name: str) -> Path:
    """`output_dir/predictions/<eval_name>.csv`."""
    return Path(output_dir) / "predictions" / f"{safe_file_name(eval_name)}.csv"


def write_predictions(
    path: str | os.PathLike,
    files: Sequence[str],
    labels: Sequence[float] | None,
    predictions: Sequence[float],
    level_probabilities: Sequence[Sequence[float]] | None = None,
    level_names: Sequence[str] | None = None,
    *,
    extra_columns: dict[str, Sequence[Any]] | None = None,
) -> Path:
    """Write one row per video: `file, label, prediction, p_<level>...` (+ `extra_columns`). Returns the path.

    Args:
        path (`str` or `os.PathLike`): the CSV to write (parent folders are created). Use
            [`predictions_path`] for `OUTPUT/predictions/<eval_name>.csv`.
        files (list of `str`): the videos, in the order of the other columns (dataset order).
        labels (list of `float`, *optional*): the MOS of each video (`None` for unlabelled scoring).
        predictions (list of `float`): the model's score of each video.
        level_probabilities (`(n, num_levels)` array-like, *optional*): probability of each quality level.
        level_names (list of `str`, *optional*): names of the levels (columns `p_<name>`); default `level_<k>`.
        extra_columns (`dict`, *optional*): more columns, e.g. `{"substituted_frames": [...]}`.

    Raises:
        `ValueError`: columns of different lengths. [`OutputError`]: `path` is a directory.

    Example:
        ```python
        >>> from qclip_hf.reporting.predictions import predictions_path, write_predictions
        >>> write_predictions(predictions_path("runs/x", "KoNViD-1k"), ["a.mp4"], [3.2], [0.41],
        ...                   [[0.1, 0.6, 0.2, 0.05, 0.05]], ["excellent", "good", "fair", "poor", "bad"])
        PosixPath('runs/x/predictions/KoNViD-1k.csv')
        ```
    """
    path = Path(path)
    n = len(files)
    columns: dict[str, Sequence[Any]] = {"file": [str(f) for f in files],
                                         "label": list(labels) if labels is not None else [None] * n,
                                         "prediction": [float(p) for p in predictions]}
    if level_probabilities is not None:
        probabilities = [list(map(float, row)) for row in level_probabilities]
        width = len(probabilities[0]) if probabilities else len(level_names or [])
        names = list(level_names) if level_names is not None else [f"level_{k}" for k in range(width)]
        if any(len(row) != len(names) for row in probabilities):
            raise ValueError(f"level_probabilities rows must have {len(names)} values (one per level {names}).")
        for k, name in enumerate(names):
            columns[f"p_{name}"] = [row[k] for row in probabilities]
    for name, values in (extra_columns or {}).items():
        if name in columns:
            raise ValueError(f"extra column {name!r} clashes with a standard column.")
        columns[name] = list(values)
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"prediction columns have different lengths: {lengths}.")
    if path.is_dir():
        raise OutputError(f"predictions path {str(path)!r} is a directory", "give a .csv file path")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(columns))
        for row in zip(*columns.values(), strict=True):
            writer.writerow(["" if v is None else (repr(float(v)) if isinstance(v, float) else v) for v in row])
    os.replace(tmp, path)  # a crash mid-write never leaves a half file under the final name
    return path


def read_predictions(path: str | os.PathLike) -> dict[str, list]:
    """The columns of a predictions CSV: `file` as `str`, every other column as `float` (`nan` when empty).

    Example:
        ```python
        >>> columns = read_predictions("runs/x/predictions/KoNViD-1k.csv")  # doctest: +SKIP
        >>> columns["prediction"][:2], columns["label"][:2]  # doctest: +SKIP
        ```
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file {str(path)!r} not found.")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or [])
        rows = list(reader)
    if "prediction" not in fieldnames:
        raise ValueError(f"{path} has no 'prediction' column (columns: {fieldnames}).")
    out: dict[str, list] = {}
    for name in fieldnames:
        values = [row[name] for row in rows]
        if name in ("file", "warnings"):
            out[name] = values
            continue
        try:
            out[name] = [math.nan if v in ("", None) else float(v) for v in values]
        except ValueError:
            out[name] = values
    return out


def write_eval_predictions(output_dir: str | os.PathLike, eval_name: str, files: Sequence[str],
                           scored: dict[str, Any], level_names: Sequence[str] | None = None) -> Path:
    """`OUTPUT/predictions/<eval_name>.csv` from an evaluation's gathered arrays.

    Args:
        output_dir (`str`): the run's output directory.
        eval_name (`str`): the evaluation set's name.
        files (list of `str`): every video of the set, in dataset order (e.g. `dataset["video"]` paths).
        scored (`dict`): `qclip_hf.training.evaluation.predict`'s result: `index`, `predictions`, `labels` and,
            when gathered, `level_probs` (`(n, num_levels)`), all ordered by `index`.
        level_names (list of `str`, *optional*): the model's levels (`model.config.level_names`).

    Example:
        ```python
        >>> metrics, scored = evaluate(accelerator, model, loader, fit=args.fit)  # doctest: +SKIP
        >>> write_eval_predictions("runs/x", "KoNViD-1k", paths, scored, model.config.level_names)  # doctest: +SKIP
        ```
    """
    index = [int(i) for i in scored["index"]]
    probabilities = scored.get("level_probs")
    return write_predictions(predictions_path(output_dir, eval_name), [files[i] for i in index],
                             [float(v) for v in scored["labels"]], [float(v) for v in scored["predictions"]],
                             [list(map(float, row)) for row in probabilities] if probabilities is not None else None,
                             level_names)

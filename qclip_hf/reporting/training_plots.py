"""Plots of a training run (matplotlib's object API, Agg canvas, imported lazily): `OUTPUT/plots/*.png`.

- `loss_lr.png`: training loss and learning rate per optimizer step;
- `<metric>.png`: each metric per epoch, one line per evaluation set, the selected epoch marked;
- `scatter_<eval set>.png`: predicted score vs MOS with the fitted mapping (4-parameter logistic by default)
  drawn over it — what "PLCC after a logistic fit" means, visible.

`scatter_with_fit` is shared with the scoring report and the app.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .predictions import read_predictions, safe_file_name
from .tables import EPOCH_METRICS, epoch_rows

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.figure import Figure

__all__ = ["plot_loss_and_lr", "plot_metric_per_epoch", "read_steps_log", "save_figure", "scatter_with_fit",
           "write_training_plots"]

METRIC_LABELS = {"srocc": "SROCC", "plcc": "PLCC", "krocc": "KROCC", "rmse": "RMSE"}


def _figure(width: float = 6.4, height: float = 4.0) -> Figure:
    # No pyplot: no global figure registry and no GUI backend, whatever MPLBACKEND says (Agg canvas on save).
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save_figure(figure: Figure, path: str | os.PathLike) -> Path:
    """Write `figure` as a PNG (parent folders created) with the Agg canvas. Returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png")
    return path


def plot_loss_and_lr(steps: Sequence[Mapping[str, Any]], *, title: str | None = "Training loss and learning rate"
                     ) -> Figure:
    """Loss (left axis) and learning rate (right axis) per optimizer step.

    Args:
        steps (list of `dict`): `{"step": int, "loss": float, "lr": float}` per optimizer step.

    Example:
        ```python
        >>> figure = plot_loss_and_lr([{"step": 1, "loss": 0.9, "lr": 1e-4}, {"step": 2, "loss": 0.7, "lr": 2e-4}])
        ```
    """
    if not steps:
        raise ValueError("plot_loss_and_lr needs at least one step record ({'step', 'loss', 'lr'}).")
    figure = _figure()
    axes = figure.add_subplot()
    x = [record["step"] for record in steps]
    axes.plot(x, [record.get("loss", math.nan) for record in steps], color="tab:blue", marker="." if len(x) < 50
              else None, label="training loss")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("training loss", color="tab:blue")
    lr_axes = axes.twinx()
    lr_axes.plot(x, [record.get("lr", math.nan) for record in steps], color="tab:orange", label="learning rate")
    lr_axes.set_ylabel("learning rate", color="tab:orange")
    lr_axes.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    axes.grid(alpha=0.3)
    if title:
        axes.set_title(title)
    return figure


def plot_metric_per_epoch(history: Sequence[Mapping[str, Any]], metric: str, *, selected_epoch: int | None = None,
                          fit: str | None = None) -> Figure:
    """One metric per epoch, one line per evaluation set; the selected epoch as a dashed vertical line.

    Args:
        history (list of `dict`): `results.json`'s history (see `qclip_hf.reporting.tables.format_epoch_table`).
        metric (`str`): `"srocc"`, `"plcc"`, `"krocc"` or `"rmse"`.
        selected_epoch (`int`, *optional*): the epoch shipped in `best/`.
        fit (`str`, *optional*): the fit PLCC/RMSE were computed after, shown in the axis label.
    """
    rows = epoch_rows(history, (metric,))
    series: dict[str, tuple[list, list]] = {}
    for row in rows:
        if row["eval_set"] == "-":
            continue
        xs, ys = series.setdefault(row["eval_set"], ([], []))
        xs.append(row["epoch"])
        ys.append(math.nan if row.get(metric) is None else float(row[metric]))
    if not series:
        raise ValueError(f"no evaluation set in the history has {metric!r}.")
    figure = _figure()
    axes = figure.add_subplot()
    for name, (xs, ys) in series.items():
        axes.plot(xs, ys, marker="o", label=name)
    if selected_epoch is not None:
        axes.axvline(selected_epoch, color="grey", linestyle="--", label=f"selected (epoch {selected_epoch})")
    label = METRIC_LABELS.get(metric, metric)
    if fit and fit != "none" and metric in ("plcc", "rmse"):
        label += f" (after {fit} fit)"
    axes.set_xlabel("epoch")
    axes.set_ylabel(label)
    axes.set_title(f"{label} per epoch" + (" (lower is better)" if metric == "rmse" else ""))
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def scatter_with_fit(predictions: Sequence[float], labels: Sequence[float], path: str | os.PathLike | None = None,
                     fit: str = "logistic", title: str | None = None, *, label_name: str = "MOS"
                     ) -> Figure | Path:
    """Predicted score vs label, with the fitted mapping drawn and SROCC / PLCC (after the fit) in the legend.

    Args:
        predictions, labels (list of `float`): one per video (non-finite pairs are left out).
        path (`str`, *optional*): write a PNG there and return its `Path`; without it, return the `Figure`.
        fit (`str`, defaults to `"logistic"`): `"none"`, `"rescale"`, `"logistic"` (VQEG 4-parameter) or
            `"logistic5"` (see `qclip_hf.metrics.fit_function`).
        title (`str`, *optional*): e.g. the evaluation set's name.

    Example:
        ```python
        >>> scatter_with_fit([0.1, 0.3, 0.2, 0.5, 0.45], [1.2, 2.9, 2.1, 4.4, 4.0], "scatter.png", title="test")
        PosixPath('scatter.png')
        ```
    """
    import numpy as np

    from ..metrics.compute import compute_vqa_metrics, fit_function

    x = np.asarray(predictions, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"scatter_with_fit: {len(x)} predictions but {len(y)} labels.")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    figure = _figure(5.2, 4.4)
    axes = figure.add_subplot()
    axes.scatter(x, y, s=14, alpha=0.7, color="tab:blue", edgecolors="none", label=f"videos (n={len(x)})")
    if len(x) >= 5 and np.ptp(x) > 0 and np.ptp(y) > 0:
        metrics = compute_vqa_metrics(x, y, fit=fit)
        if fit != "none":
            grid = np.linspace(x.min(), x.max(), 200)
            axes.plot(grid, fit_function(x, y, fit)(grid), color="tab:red", linewidth=2,
                      label=f"{fit} fit (PLCC {metrics['plcc']:.3f})")
        axes.plot([], [], " ", label=f"SROCC {metrics['srocc']:.3f}")
    axes.set_xlabel("predicted score (model scale)")
    axes.set_ylabel(label_name)
    axes.set_title(title or f"Predicted vs {label_name}")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    if path is None:
        return figure
    return save_figure(figure, path)


def read_steps_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The per-step records (`{"step", "loss", "lr", ...}`) of `OUTPUT/train_steps.jsonl`; `[]` if there is none."""
    import json

    path = Path(path)
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_training_plots(
    output_dir: str | os.PathLike,
    history: Sequence[Mapping[str, Any]],
    *,
    steps: Sequence[Mapping[str, Any]] | str | os.PathLike | None = None,
    predictions: Mapping[str, Mapping[str, Sequence[float]]] | str | os.PathLike | None = None,
    selected_epoch: int | None = None,
    fit: str | None = None,
    scatter_fit: str = "logistic",
    metrics: Sequence[str] = EPOCH_METRICS,
) -> list[Path]:
    """Write every training plot into `output_dir/plots/` and return the paths written.

    Args:
        output_dir (`str`): the run's output directory.
        history (list of `dict`): `results.json`'s history (one record per epoch).
        steps (list of `dict` or `str`, *optional*): `{"step", "loss", "lr"}` per optimizer step, or the path of
            `train_steps.jsonl` holding them -> `loss_lr.png`.
        predictions (`dict` or `str`, *optional*): per evaluation set `{"predictions": [...], "labels": [...]}`,
            or the folder of `<eval_name>.csv` prediction files -> `scatter_<eval_name>.png`.
        selected_epoch (`int`, *optional*): marked on the per-epoch plots.
        fit (`str`, *optional*): the run's `--fit` (PLCC/RMSE were computed after it), named on the metric plots.
        scatter_fit (`str`, defaults to `"logistic"`): the mapping drawn on the scatter plots (`"none"` draws none).

    Example:
        ```python
        >>> paths = write_training_plots("runs/x", summary["history"], steps=summary["steps"],
        ...                              predictions="runs/x/predictions", selected_epoch=3)  # doctest: +SKIP
        ```
    """
    plots = Path(output_dir) / "plots"
    written = []
    if isinstance(steps, (str, os.PathLike)):
        steps = read_steps_log(steps)
    if steps:
        written.append(save_figure(plot_loss_and_lr(steps), plots / "loss_lr.png"))
    available = {m for row in epoch_rows(history, metrics) for m in metrics if row.get(m) is not None}
    for metric in metrics:
        if metric in available:
            figure = plot_metric_per_epoch(history, metric, selected_epoch=selected_epoch, fit=fit)
            written.append(save_figure(figure, plots / f"{metric}.png"))
    if isinstance(predictions, (str, os.PathLike)):
        folder = Path(predictions)
        predictions = {p.stem: read_predictions(p) for p in sorted(folder.glob("*.csv"))} if folder.is_dir() else {}
    for name, columns in (predictions or {}).items():
        title = f"{name}" + (f" (epoch {selected_epoch})" if selected_epoch is not None else "")
        written.append(scatter_with_fit(columns["prediction" if "prediction" in columns else "predictions"],
                                        columns["label" if "label" in columns else "labels"],
                                        plots / f"scatter_{safe_file_name(name)}.png", fit=scatter_fit,
                                        title=title))
    return written

"""The scatter of a calibration: raw score vs MOS of the labelled videos, the fitted map and the level bands.

Example:
    ```python
    >>> from qclip_hf.calibration import fit_calibration
    >>> from qclip_hf.reporting.calibration_plot import plot_calibration
    >>> calibration = fit_calibration(scores, mos, mos_range=(1, 5))  # doctest: +SKIP
    >>> plot_calibration(calibration, scores, mos, "calibration.png")  # doctest: +SKIP
    PosixPath('calibration.png')
    ```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .scoring_plots import LEVEL_COLOURS
from .training_plots import _figure, save_figure


def plot_calibration(calibration: Any, scores: Sequence[float], mos: Sequence[float],
                     path: str | os.PathLike | None = None, title: str | None = None) -> Any:
    """Raw score (x) vs MOS (y) of each video, the calibration's map over the scores' range, and its level bands
    shaded, with n, PLCC, SROCC and RMSE of the fit in the legend.

    Args:
        calibration ([`~qclip_hf.calibration.Calibration`]): the fitted map.
        scores, mos (`Sequence[float]`): the videos it was fitted on.
        path (`str`, *optional*): write a PNG there and return its `Path`; without it, return the `Figure`.
        title (`str`, *optional*): the plot's title.
    """
    import numpy as np

    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(mos, dtype=np.float64)
    figure = _figure(6.4, 4.6)
    axes = figure.add_subplot()
    edges = calibration.band_edges()
    for k in range(len(edges) - 1):
        level = calibration.level_of((edges[k] + edges[k + 1]) / 2)
        colour = LEVEL_COLOURS[min(calibration.level_names.index(level), len(LEVEL_COLOURS) - 1)]
        axes.axhspan(edges[k], edges[k + 1], color=colour, alpha=0.12, linewidth=0)
        axes.text(1.01, (edges[k] + edges[k + 1]) / 2, level, transform=axes.get_yaxis_transform(),
                  va="center", fontsize="small", color="#444444")
    axes.scatter(x, y, s=16, alpha=0.75, color="tab:blue", edgecolors="none", label=f"videos (n={len(x)})")
    span = float(np.ptp(x)) or 1.0
    grid = np.linspace(x.min() - 0.05 * span, x.max() + 0.05 * span, 300)
    fit = calibration.fit
    axes.plot(grid, calibration.mos(grid), color="tab:red", linewidth=2, label=f"{calibration.kind} map")
    if fit:
        axes.plot([], [], " ", label=f"PLCC {fit['plcc']:.3f}  SROCC {fit['srocc']:.3f}")
        axes.plot([], [], " ", label=f"RMSE {fit['rmse']:.3f} (MOS)")
    low, high = calibration.mos_range
    pad = 0.04 * (high - low)
    axes.set_ylim(min(low, float(y.min())) - pad, max(high, float(y.max())) + pad)
    axes.set_xlabel("raw score (the model's own scale)")
    axes.set_ylabel(f"MOS ({low:g}-{high:g}, {'higher' if calibration.higher_is_better else 'lower'} = better)")
    axes.set_title(title or "Calibration: raw score -> MOS")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    if path is None:
        return figure
    return save_figure(figure, Path(path))


__all__ = ["plot_calibration"]

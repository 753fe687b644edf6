"""Training plots: loss/LR per step, metrics per epoch, predicted-vs-MOS scatter with the fitted curve."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from qclip_hf.metrics import compute_vqa_metrics, fit_function
from qclip_hf.reporting.predictions import predictions_path, write_predictions
from qclip_hf.reporting.training_plots import (
    plot_metric_per_epoch,
    read_steps_log,
    scatter_with_fit,
    write_training_plots,
)

HISTORY = [{"epoch": e, "step": 5 * (e + 1), "lr": 1e-3, "train_loss": 0.6 - 0.1 * e,
            "test": {"srocc": 0.5 + 0.1 * e, "plcc": 0.5 + 0.08 * e, "krocc": 0.4, "rmse": 1.0 - 0.1 * e},
            "val": {"srocc": 0.4 + 0.1 * e, "plcc": 0.45, "krocc": 0.3, "rmse": 0.9}} for e in range(3)]


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 0.05
    y = 1 + 4 / (1 + np.exp(-x / 0.02)) + rng.normal(size=n) * 0.2
    return x, y


def test_write_training_plots_writes_every_png(tmp_path):
    x, y = _data()
    write_predictions(predictions_path(tmp_path, "test"), [f"{i}.mp4" for i in range(40)], y, x)
    steps = [{"step": s, "loss": 1 / s, "lr": 1e-3 * s / 15} for s in range(1, 16)]
    (tmp_path / "train_steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in steps))
    assert read_steps_log(tmp_path / "train_steps.jsonl") == steps and read_steps_log(tmp_path / "none") == []
    paths = write_training_plots(tmp_path, HISTORY, steps=tmp_path / "train_steps.jsonl",
                                 predictions=tmp_path / "predictions", selected_epoch=2)
    names = sorted(p.name for p in paths)
    assert names == ["krocc.png", "loss_lr.png", "plcc.png", "rmse.png", "scatter_test.png", "srocc.png"]
    for path in paths:
        assert path.parent == tmp_path / "plots"
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width >= 400 and image.height >= 300


def test_scatter_draws_the_fitted_logistic_through_the_points():
    x, y = _data()
    figure = scatter_with_fit(x, y, fit="logistic", title="test")
    axes = figure.axes[0]
    curve = [line for line in axes.get_lines() if len(line.get_xdata()) == 200][0]
    grid = np.asarray(curve.get_xdata())
    np.testing.assert_allclose(curve.get_ydata(), fit_function(x, y, "logistic")(grid))
    assert grid.min() == pytest.approx(x.min()) and grid.max() == pytest.approx(x.max())
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    plcc = compute_vqa_metrics(x, y, fit="logistic")["plcc"]
    assert f"logistic fit (PLCC {plcc:.3f})" in legend and "videos (n=40)" in legend
    no_fit = scatter_with_fit(x, y, fit="none")
    assert not [line for line in no_fit.axes[0].get_lines() if len(line.get_xdata()) == 200]


def test_metric_plot_has_one_line_per_eval_set_and_marks_the_selected_epoch():
    figure = plot_metric_per_epoch(HISTORY, "srocc", selected_epoch=1)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    np.testing.assert_allclose(lines["test"].get_ydata(), [0.5, 0.6, 0.7])
    assert list(lines["val"].get_xdata()) == [0, 1, 2]
    assert list(lines["selected (epoch 1)"].get_xdata()) == [1, 1]
    with pytest.raises(ValueError, match="'psnr'"):
        plot_metric_per_epoch(HISTORY, "psnr")


def test_importing_the_reporting_modules_does_not_import_matplotlib():
    code = ("import sys, qclip_hf.reporting.training_plots, qclip_hf.reporting.tables, "
            "qclip_hf.reporting.predictions; print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

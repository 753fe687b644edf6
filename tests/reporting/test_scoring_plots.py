"""Scoring plots: what they draw is the data given (counts, probabilities, segment scores), as PNG a browser shows."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from qclip_hf.reporting.scoring_plots import (
    SCORE_AXIS_LABEL,
    figure_to_data_uri,
    figure_to_png,
    plot_level_counts,
    plot_level_probabilities,
    plot_score_histogram,
    plot_temporal_curve,
)

LEVELS = {"excellent": 0.1, "good": 0.2, "fair": 0.4, "poor": 0.2, "bad": 0.1}


def test_histogram_counts_every_finite_score_and_labels_the_scale():
    scores = [0.1, 0.2, 0.2, 0.3, None, float("nan"), 0.9]
    figure = plot_score_histogram(scores, bins=4, marks={"median": 0.2})
    axes = figure.axes[0]
    bars = [patch.get_height() for patch in axes.patches]
    assert sum(bars) == 5  # None and NaN are left out
    assert axes.get_xlabel() == SCORE_AXIS_LABEL
    assert [line.get_xdata()[0] for line in axes.lines] == [0.2]
    image = Image.open(io.BytesIO(figure_to_png(figure)))
    assert image.format == "PNG" and image.width > 300


def test_histogram_of_nothing_still_renders():
    figure = plot_score_histogram([])
    assert "no scored videos" in [text.get_text() for text in figure.axes[0].texts]
    assert figure_to_png(figure)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="bins"):
        plot_score_histogram([1.0], bins=0)


def test_level_probability_bars_follow_the_model_order_top_down():
    axes = plot_level_probabilities(LEVELS).axes[0]
    widths = {round(patch.get_y() + patch.get_height() / 2): patch.get_width() for patch in axes.patches}
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    positions = [tick for tick in axes.get_yticks()]
    by_label = {label: widths[round(position)] for label, position in zip(labels, positions, strict=True)}
    assert by_label == pytest.approx(LEVELS)
    assert labels[positions.index(max(positions))] == "excellent"  # excellent drawn at the top
    with pytest.raises(ValueError, match="levels is empty"):
        plot_level_probabilities({})


def test_level_counts_bars():
    axes = plot_level_counts({"excellent": 3, "good": 0, "fair": 7}).axes[0]
    assert [patch.get_height() for patch in axes.patches] == [3, 0, 7]


def test_temporal_curve_in_seconds_or_frames():
    timed = [{"segment": k, "start_frame": 10 * k, "end_frame": 10 * k + 10, "start_time": k / 3,
              "end_time": (k + 1) / 3, "score": s} for k, s in enumerate([0.5, 0.2, 0.4])]
    axes = plot_temporal_curve(timed, overall=0.37).axes[0]
    assert axes.get_xlabel() == "time (s)"
    steps = axes.patches[0]  # the StepPatch drawn by `stairs`
    assert list(steps.get_data().values) == pytest.approx([0.5, 0.2, 0.4])
    assert list(steps.get_data().edges) == pytest.approx([0, 1 / 3, 2 / 3, 1])
    untimed = [{**segment, "start_time": None, "end_time": None} for segment in timed]
    axes = plot_temporal_curve(untimed).axes[0]
    assert axes.get_xlabel() == "frame"
    assert list(axes.patches[0].get_data().edges) == [0, 10, 20, 30]
    with pytest.raises(ValueError, match="return_temporal"):
        plot_temporal_curve([])


def test_data_uri_is_an_inline_png():
    uri = figure_to_data_uri(plot_level_counts({"good": 1}))
    assert uri.startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).format == "PNG"

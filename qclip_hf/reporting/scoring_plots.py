"""Plots of a scoring run (matplotlib, Agg backend, imported lazily): what the HTML report and the demo app draw.

Every function returns a matplotlib `Figure`; [`figure_to_png`] / [`figure_to_data_uri`] turn one into PNG bytes or
an inline `data:` URI (the HTML report embeds its images, so it opens without a network). Gradio's `gr.Plot` takes
the figures as they are.

Example:
    ```python
    >>> from qclip_hf.reporting.scoring_plots import figure_to_png, plot_score_histogram
    >>> png = figure_to_png(plot_score_histogram([0.1, 0.3, 0.35, 0.8]))
    >>> png[:4]
    b'\\x89PNG'
    ```
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.figure import Figure

SCORE_AXIS_LABEL = "quality score (model's own scale; higher = better)"
# One colour per level, excellent (green) ... bad (red); more levels reuse the ends.
LEVEL_COLOURS = ("#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027")


def _new_figure(width: float, height: float) -> Figure:
    # The object-oriented API (no pyplot): no global figure registry, no GUI backend, safe in threads (Gradio).
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure


def _finite(values: Sequence[Any]) -> list[float]:
    out = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if number == number and abs(number) != float("inf"):
            out.append(number)
    return out


def level_colour(index: int, count: int) -> str:
    """The colour of level `index` of `count` (excellent first), spread over the green-to-red palette."""
    if count <= 1:
        return LEVEL_COLOURS[0]
    position = round(index * (len(LEVEL_COLOURS) - 1) / (count - 1))
    return LEVEL_COLOURS[position]


def plot_score_histogram(scores: Sequence[float], *, bins: int = 30, title: str | None = "Score distribution",
                         marks: Mapping[str, float] | None = None, xlabel: str | None = None) -> Figure:
    """Histogram of the scores of a run (non-finite values and `None` are left out).

    Args:
        scores: one score per scored video.
        bins (`int`, *optional*, defaults to 30): number of bins (fewer when there are few distinct scores).
        title (`str`, *optional*): axes title.
        marks (`Mapping[str, float]`, *optional*): vertical lines to draw, e.g. `{"median": 0.42}`.
        xlabel (`str`, *optional*): what the values are (default: the raw score, on the model's own scale).
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    values = _finite(scores)
    figure = _new_figure(6.4, 3.0)
    axes = figure.add_subplot()
    if values:
        axes.hist(values, bins=max(1, min(bins, len(set(values)))), color="#4575b4", edgecolor="white")
    else:
        axes.text(0.5, 0.5, "no scored videos", ha="center", va="center", transform=axes.transAxes)
    for (name, value), style in zip((marks or {}).items(), ("--", ":", "-."), strict=False):
        axes.axvline(value, color="black", linestyle=style, linewidth=1, label=f"{name} {value:.4g}")
    if marks:
        axes.legend(loc="best", fontsize=8, framealpha=0.8)
    axes.set_xlabel(xlabel or SCORE_AXIS_LABEL)
    axes.set_ylabel("videos")
    if title:
        axes.set_title(title)
    return figure


def plot_level_counts(counts: Mapping[str, int], *, title: str | None = "Most likely level") -> Figure:
    """Bar chart: how many videos have each level as their most likely one (levels in the model's order)."""
    names = list(counts)
    figure = _new_figure(4.4, 3.0)
    axes = figure.add_subplot()
    bars = axes.bar(names, [counts[n] for n in names],
                    color=[level_colour(i, len(names)) for i in range(len(names))], edgecolor="#555555")
    axes.bar_label(bars, fontsize=8)
    axes.set_ylabel("videos")
    axes.margins(y=0.15)
    if title:
        axes.set_title(title)
    return figure


def plot_level_probabilities(levels: Mapping[str, float], *, title: str | None = "Level probabilities") -> Figure:
    """Horizontal bars: the probability of each quality level for one video (excellent at the top)."""
    names = list(levels)
    if not names:
        raise ValueError("levels is empty: expected {level name: probability}")
    values = [float(levels[n]) for n in names]
    figure = _new_figure(3.6, 0.3 * len(names) + 0.9)
    axes = figure.add_subplot()
    positions = list(range(len(names)))[::-1]
    bars = axes.barh(positions, values, color=[level_colour(i, len(names)) for i in range(len(names))],
                     edgecolor="#555555")
    axes.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=2, fontsize=8)
    axes.set_yticks(positions, names)
    axes.set_xlim(0, 1.15)
    axes.set_xlabel("probability")
    if title:
        axes.set_title(title, fontsize=10)
    return figure


def plot_temporal_curve(segments: Sequence[Mapping[str, Any]], *, overall: float | None = None,
                        title: str | None = "Quality over time") -> Figure:
    """Step curve of the per-segment scores of one video (the pipeline's `return_temporal=True` output).

    The x axis is in seconds when the segments carry times, else in frames; `overall` (the whole-video score)
    is drawn as a dashed line.
    """
    if not segments:
        raise ValueError("segments is empty: expected the `temporal` list of a result (score with return_temporal)")
    timed = all(segment.get("start_time") is not None and segment.get("end_time") is not None for segment in segments)
    start_key, end_key = ("start_time", "end_time") if timed else ("start_frame", "end_frame")
    edges = [float(segments[0][start_key])] + [float(segment[end_key]) for segment in segments]
    scores = [float(segment["score"]) for segment in segments]
    figure = _new_figure(3.8, 2.4)
    axes = figure.add_subplot()
    axes.stairs(scores, edges, color="#4575b4", linewidth=2, baseline=None)
    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    axes.plot(centres, scores, "o", color="#4575b4", markersize=4)
    if overall is not None:  # named in the title, not a legend box that could hide the curve
        axes.axhline(overall, color="grey", linestyle="--", linewidth=1)
        title = f"{title or 'score'}\n(dashed: whole video {overall:.4g})"
    axes.set_xlabel("time (s)" if timed else "frame")
    axes.set_ylabel("score")
    if title:
        axes.set_title(title, fontsize=9)
    return figure


def figure_to_png(figure: Figure, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def figure_to_data_uri(figure: Figure, *, dpi: int = 100) -> str:
    """The figure as an inline `data:image/png;base64,...` URI (for a self-contained HTML file)."""
    return "data:image/png;base64," + base64.b64encode(figure_to_png(figure, dpi=dpi)).decode("ascii")


def save_figure(figure: Figure, path: str, *, dpi: int = 100) -> str:
    """Write the figure to `path` (format from the extension) and return the path."""
    figure.savefig(path, dpi=dpi)
    return path


__all__ = [
    "SCORE_AXIS_LABEL",
    "figure_to_data_uri",
    "figure_to_png",
    "level_colour",
    "plot_level_counts",
    "plot_level_probabilities",
    "plot_score_histogram",
    "plot_temporal_curve",
    "save_figure",
]

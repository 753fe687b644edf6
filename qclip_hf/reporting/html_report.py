"""The HTML report of a scoring run: one self-contained file a person opens in a browser (no network needed).

It reads a result file written by `qclip-vqa score` (CSV, JSON Lines or Parquet; see
:mod:`qclip_hf.inference.results`) and shows: a summary (counts, score statistics, score histogram, most likely
levels), a sortable, filterable, paginated table of every video, the worst and best N videos with the frames the
model sampled (re-decoded for those N files only), their level probabilities and temporal quality curve (when
scored with `--return_temporal`), and the failures with their reasons.

Example:
    ```python
    >>> from qclip_hf.reporting.html_report import write_report
    >>> write_report("results.csv", "report.html", model="outputs/demo/run/best", top_n=5)  # doctest: +SKIP
    PosixPath('report.html')
    ```
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import OutputError, QClipError
from .html_template import REPORT_TEMPLATE

DEFAULT_TOP_N = 5
MAX_LISTED_FAILURES = 200
REPORT_EXTENSIONS = (".html", ".htm")


class ResultsFileError(QClipError, ValueError):
    """The results file given to the report is missing, empty or not written by `qclip-vqa score`."""


def _check_paths(results_path: Path, report_path: Path) -> None:
    from ..inference.results import OUTPUT_FORMATS

    if not results_path.is_file():
        raise ResultsFileError(f"results file '{results_path}' does not exist",
                               "pass the --output file of a `qclip-vqa score` run")
    if results_path.suffix.lower().lstrip(".") not in OUTPUT_FORMATS:
        raise ResultsFileError(f"results file '{results_path}' is not .csv, .jsonl or .parquet",
                               "pass the --output file of a `qclip-vqa score` run")
    check_report_path(report_path, results_path)


def check_report_path(report_path: str | os.PathLike, results_path: str | os.PathLike | None = None) -> None:
    """Raise `OutputError` unless `report_path` can be a report: an `.html` name, not a folder, not the results.

    Cheap; `qclip-vqa score --report` can call it before scoring so a bad name never fails after the work.
    """
    report_path = Path(report_path)
    if report_path.is_dir():
        raise OutputError(f"report path '{report_path}' is a directory", "pass a file name such as report.html")
    if report_path.suffix.lower() not in REPORT_EXTENSIONS:
        raise OutputError(f"report path '{report_path}' does not end in .html",
                          "name the report file e.g. report.html")
    if results_path is not None and report_path.resolve() == Path(results_path).resolve():
        raise OutputError(f"report path '{report_path}' is the results file", "give the report its own name")


def load_results(results_path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a `qclip-vqa score` result file, checked: non-empty, each with `path` and `status`."""
    from ..inference.results import read_rows

    path = Path(results_path)
    try:
        rows = read_rows(path)
    except Exception as error:  # noqa: BLE001 — any parse failure means the same thing to the user
        raise ResultsFileError(f"results file '{path}' cannot be read ({type(error).__name__}: {error})",
                               "pass the --output file of a `qclip-vqa score` run") from error
    if not rows:
        raise ResultsFileError(f"results file '{path}' has no rows", "score some videos into it first")
    missing = {"path", "status"} - set(rows[0])
    if missing:
        raise ResultsFileError(f"results file '{path}' has no {sorted(missing)} column(s), so it was not written "
                               "by `qclip-vqa score`", "pass the --output file of a `qclip-vqa score` run")
    return rows


def level_names(rows: list[dict[str, Any]]) -> list[str]:
    """The quality levels of the run, in the model's order (the order of the `prob_<level>` columns)."""
    names: list[str] = []
    for row in rows:
        for key in row:
            if key.startswith("prob_") and key[5:] not in names:
                names.append(key[5:])
    return names


def most_likely_level(row: dict[str, Any], levels: list[str]) -> str | None:
    probs = [(row.get(f"prob_{name}"), name) for name in levels]
    probs = [(float(p), name) for p, name in probs if p is not None]
    return max(probs)[1] if probs else None


def _common_prefix(paths: list[str]) -> str:
    if len(paths) < 2:
        return os.path.dirname(paths[0]) + os.sep if paths and os.path.dirname(paths[0]) else ""
    try:
        prefix = os.path.commonpath(paths)
    except ValueError:  # mixed absolute / relative paths
        return ""
    return prefix + os.sep if prefix and prefix != os.sep else ""


def _relative(path: str, prefix: str) -> str:
    return path[len(prefix):] if prefix and path.startswith(prefix) else path


def _rounded(value: Any, significant: int = 6) -> float | None:
    """`value` to `significant` digits (scores may be ~1e-3 on a model's scale: decimals would lose them)."""
    if value is None:
        return None
    number = float(value)
    return float(f"{number:.{significant}g}") if number == number else None


def table_data(rows: list[dict[str, Any]], levels: list[str], prefix: str) -> dict[str, Any]:
    """Columns and compact row arrays of the table (paths relative to `prefix`, numbers rounded)."""
    has_temporal = any(row.get("temporal") for row in rows)
    has_substituted = any(float(row.get("substituted_frames") or 0) > 0 for row in rows)
    has_errors = any(row.get("error") for row in rows)
    has_warnings = any(row.get("warnings") for row in rows)
    columns = [
        {"key": "path", "label": "video", "type": "text", "help": "the video file"},
        {"key": "status", "label": "status", "type": "text", "help": "ok = scored, failed = could not be scored"},
        {"key": "score", "label": "score", "type": "number", "precision": 4,
         "help": "quality score on the model's own scale; higher = better"},
        {"key": "level", "label": "most likely level", "type": "text",
         "help": "the quality level with the highest probability"},
        *({"key": f"prob_{name}", "label": f"P({name})", "type": "number", "digits": 3,
           "help": f"probability that the video looks '{name}'"} for name in levels),
    ]
    if has_temporal:
        columns.append({"key": "worst_segment", "label": "worst segment", "type": "number", "precision": 4,
                        "help": "lowest score of the temporal curve's segments"})
    if has_substituted:
        columns.append({"key": "substituted_frames", "label": "substituted frames", "type": "number", "digits": 0,
                        "help": "sampled frames that could not be decoded and were replaced by a neighbour"})
    if has_warnings:
        columns.append({"key": "warnings", "label": "warnings", "type": "text", "help": "decoding warnings"})
    if has_errors:
        columns.append({"key": "error", "label": "error", "type": "text",
                        "help": "why the video could not be scored"})
    data_rows = []
    for row in rows:
        values = []
        for column in columns:
            key = column["key"]
            if key == "path":
                values.append(_relative(str(row["path"]), prefix))
            elif key == "level":
                values.append(most_likely_level(row, levels) if row.get("status") == "ok" else None)
            elif key == "worst_segment":
                segments = row.get("temporal") or []
                values.append(_rounded(min(s["score"] for s in segments)) if segments else None)
            elif column["type"] == "number":
                values.append(_rounded(row.get(key), 4 if key.startswith("prob_") else 6))
            else:
                value = row.get(key)
                values.append(None if value in (None, "") else str(value))
        data_rows.append(values)
    return {"columns": columns, "rows": data_rows, "sort_key": "score"}


def _resolve_video(path: str, results_dir: Path) -> Path | None:
    candidate = Path(path)
    for option in (candidate, results_dir / candidate):
        if option.is_file():
            return option
    return None


def _card(row: dict[str, Any], rank: int, levels: list[str], results_dir: Path, sampler: Any,
          thumbnail_height: int, prefix: str = "") -> dict[str, Any]:
    from .scoring_plots import figure_to_data_uri, plot_level_probabilities, plot_temporal_curve
    from .thumbnails import image_to_data_uri, sampled_frames, thumbnail

    probs = {name: float(row[f"prob_{name}"]) for name in levels if row.get(f"prob_{name}") is not None}
    card: dict[str, Any] = {
        "rank": rank, "name": _relative(str(row["path"]), prefix), "score": f"{float(row['score']):.4g}",
        "level": most_likely_level(row, levels) or "—", "warnings": row.get("warnings") or "",
        "frames": [], "frames_error": None, "levels_uri": None, "temporal_uri": None,
    }
    if probs:
        card["levels_uri"] = figure_to_data_uri(plot_level_probabilities(probs))
    if row.get("temporal"):
        card["temporal_uri"] = figure_to_data_uri(plot_temporal_curve(row["temporal"], overall=float(row["score"])))
    if sampler is None:
        card["frames_error"] = "thumbnails turned off"
        return card
    video = _resolve_video(str(row["path"]), results_dir)
    if video is None:
        card["frames_error"] = "the file is not found any more"
        return card
    try:
        sampled = sampled_frames(str(video), sampler)
    except Exception as error:  # noqa: BLE001 — a file that no longer decodes still gets its card
        card["frames_error"] = f"{type(error).__name__}: {error}"
        return card
    for frame, index in zip(sampled.frames, sampled.indices.tolist(), strict=True):
        image = thumbnail(frame, thumbnail_height)
        card["frames"].append({"uri": image_to_data_uri(image), "index": int(index), "height": image.height})
    return card


def _score_stats(scores: list[float]) -> list[tuple[str, str]]:
    if not scores:
        return []
    stats = [("mean score", statistics.fmean(scores)), ("median", statistics.median(scores)),
             ("min", min(scores)), ("max", max(scores))]
    if len(scores) > 1:
        stats.insert(2, ("std", statistics.stdev(scores)))
    return [(name, f"{value:.4g}") for name, value in stats]


def build_report(rows: list[dict[str, Any]], *, results_path: str = "", model: str | None = None,
                 top_n: int = DEFAULT_TOP_N, sampler: Any = None, results_dir: Path | None = None,
                 thumbnail_height: int = 72, title: str | None = None) -> str:
    """The report's HTML for already-loaded result rows (see [`write_report`] for the arguments)."""
    from jinja2 import Environment

    from .._version import __version__
    from .scoring_plots import figure_to_data_uri, plot_level_counts, plot_score_histogram

    levels = level_names(rows)
    ok_rows = [row for row in rows if row.get("status") == "ok" and row.get("score") is not None]
    failed_rows = [row for row in rows if row.get("status") != "ok"]
    scores = [float(row["score"]) for row in ok_rows]
    ranked = sorted(ok_rows, key=lambda row: float(row["score"]))
    count = min(top_n, len(ranked) // 2 if len(ranked) > 1 else len(ranked))  # worst and best never overlap
    results_dir = results_dir or Path(".")
    prefix = _common_prefix([str(row["path"]) for row in rows])
    worst = [_card(row, i + 1, levels, results_dir, sampler, thumbnail_height, prefix)
             for i, row in enumerate(ranked[:count])]
    best_rows = ranked[::-1][:count] if len(ranked) > 1 else []
    best = [_card(row, i + 1, levels, results_dir, sampler, thumbnail_height, prefix)
            for i, row in enumerate(best_rows)]

    summary_plots = []
    if scores:
        marks = {"median": statistics.median(scores)}
        summary_plots.append({"uri": figure_to_data_uri(plot_score_histogram(scores, marks=marks)),
                              "alt": "score histogram"})
    if levels and ok_rows:
        counts = Counter(most_likely_level(row, levels) for row in ok_rows)
        summary_plots.append({"uri": figure_to_data_uri(plot_level_counts({n: counts.get(n, 0) for n in levels})),
                              "alt": "most likely level counts"})
    data = table_data(rows, levels, prefix)
    if sampler is not None:
        frames_note = (f"Frames: the {sampler.num_frames} frames the model samples ({sampler.sampling_strategy}), "
                       "re-decoded from the files; frame numbers count from 0.")
    else:
        frames_note = "Frames are not shown (thumbnails turned off)."
    # "</" inside the JSON would end the <script> element early.
    data_json = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    template = Environment(autoescape=True).from_string(REPORT_TEMPLATE)
    return template.render(
        title=title or f"Video quality report — {Path(results_path).name or 'results'}",
        version=__version__, results_path=results_path, model=model,
        created=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        total=len(rows), ok=len(ok_rows), failures_total=len(failed_rows),
        failures=[{"path": row["path"], "error": row.get("error") or "unknown error"}
                  for row in failed_rows[:MAX_LISTED_FAILURES]],
        score_stats=_score_stats(scores), level_names=levels, summary_plots=summary_plots,
        common_prefix=prefix, worst=worst, best=best, frames_note=frames_note,
        data_json=_Markup(data_json),
    )


def _Markup(text: str) -> Any:  # noqa: N802 — mirrors markupsafe.Markup: already-safe text
    from markupsafe import Markup

    return Markup(text)


def write_report(results_path: str | os.PathLike, report_path: str | os.PathLike, *, model: str | None = None,
                 top_n: int = DEFAULT_TOP_N, num_frames: int | None = None, sampling_strategy: str | None = None,
                 revision: str | None = None, thumbnails: bool = True, thumbnail_height: int = 72,
                 title: str | None = None) -> Path:
    """Write the self-contained HTML report of a `qclip-vqa score` result file.

    Args:
        results_path (`str` or `os.PathLike`): a `.csv`, `.jsonl` or `.parquet` written by `qclip-vqa score`.
        report_path (`str` or `os.PathLike`): the `.html` file to write (parent folders are created).
        model (`str`, *optional*): the model directory or Hub id that scored the run; its saved video processor
            decides which frames the thumbnails show (otherwise 8 uniformly sampled frames).
        top_n (`int`, *optional*, defaults to 5): how many worst and best videos get a card with frames.
        num_frames (`int`, *optional*): frames per video, when the run overrode the model's (`--num_frames`).
        sampling_strategy (`str`, *optional*): frame sampler, when the run overrode the model's.
        revision (`str`, *optional*): Hub revision of `model`.
        thumbnails (`bool`, *optional*, defaults to `True`): re-decode the 2 x `top_n` shown videos for their frames.
        thumbnail_height (`int`, *optional*, defaults to 72): height of a frame thumbnail in pixels.
        title (`str`, *optional*): the page title.

    Returns:
        `Path`: `report_path`.

    Raises:
        `ResultsFileError`: the results file is missing, empty or not a `qclip-vqa score` output.
        `OutputError`: `report_path` is a directory or does not end in `.html`.
    """
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 0:
        raise ValueError(f"top_n must be an int >= 0, got {top_n!r}")
    results, report = Path(results_path), Path(report_path)
    _check_paths(results, report)
    rows = load_results(results)
    sampler = None
    if thumbnails and top_n:
        from .thumbnails import frame_sampler

        sampler = frame_sampler(model, num_frames=num_frames, sampling_strategy=sampling_strategy, revision=revision)
    html = build_report(rows, results_path=str(results), model=None if model is None else str(model), top_n=top_n,
                        sampler=sampler, results_dir=results.resolve().parent, thumbnail_height=thumbnail_height,
                        title=title)
    report.parent.mkdir(parents=True, exist_ok=True)
    temporary = report.with_name(f".{report.name}.tmp.{os.getpid()}")
    temporary.write_text(html, encoding="utf-8")
    os.replace(temporary, report)
    return report


__all__ = ["DEFAULT_TOP_N", "ResultsFileError", "build_report", "check_report_path", "level_names", "load_results",
           "table_data", "write_report"]

"""The HTML report of a scoring run: one self-contained file a person opens in a browser (no network needed).

It reads a result file written by `qclip-vqa score` (CSV, JSON Lines or Parquet; see
:mod:`qclip_hf.inference.results`) and shows: a summary (counts, MOS or score statistics and histogram, videos per
level), a sortable, filterable, paginated table of every video, the worst and best N videos with the frames the
model sampled (re-decoded for those N files only), their prompt similarities and temporal quality curve (when
scored with `--return_temporal`), and the failures with their reasons.

A run of a calibrated model shows each video's `mos` (its score on the MOS scale the model was calibrated on) and
`level` (the band of that MOS) beside the raw score, and ranks by MOS; a run of an uncalibrated model says so and
shows the raw score only, with no level (the prompt similarities are shown as what they are, not as a level).

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
    """The model's prompt levels, in its order (the order of the `prompt_prob_<level>` columns)."""
    from ..inference.results import PROMPT_PROB_PREFIX

    names: list[str] = []
    for row in rows:
        for key in row:
            if key.startswith(PROMPT_PROB_PREFIX) and key[len(PROMPT_PROB_PREFIX):] not in names:
                names.append(key[len(PROMPT_PROB_PREFIX):])
    return names


def is_calibrated(rows: list[dict[str, Any]]) -> bool:
    """Whether the run's scored rows carry a calibrated `mos` (the model had a calibration when it scored them)."""
    scored = [row for row in rows if row.get("status") == "ok"]
    return bool(scored) and all(row.get("mos") is not None for row in scored)


def _prompt_probs(row: dict[str, Any], levels: list[str]) -> dict[str, float]:
    return {name: float(row[f"prompt_prob_{name}"]) for name in levels if row.get(f"prompt_prob_{name}") is not None}


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
    """Columns and compact row arrays of the table (paths relative to `prefix`, numbers rounded).

    With calibrated rows: `mos` and `level` after the raw score, and the table sorted by MOS; without: the raw score
    only (no level column: nothing is guessed)."""
    calibrated = is_calibrated(rows)
    has_temporal = any(row.get("temporal") for row in rows)
    has_substituted = any(float(row.get("substituted_frames") or 0) > 0 for row in rows)
    has_errors = any(row.get("error") for row in rows)
    has_warnings = any(row.get("warnings") for row in rows)
    columns = [
        {"key": "path", "label": "video", "type": "text", "help": "the video file"},
        {"key": "status", "label": "status", "type": "text", "help": "ok = scored, failed = could not be scored"},
        {"key": "score", "label": "score", "type": "number", "precision": 4,
         "help": "raw quality score on the model's own scale; higher = better"},
        *([{"key": "mos", "label": "MOS", "type": "number", "digits": 2,
            "help": "the score mapped to the MOS scale the model was calibrated on"},
           {"key": "level", "label": "level", "type": "text",
            "help": "the band of the MOS: the MOS range cut into five equal bands, bad to excellent"}]
          if calibrated else []),
        *({"key": f"prompt_prob_{name}", "label": f"prompt {name}", "type": "number", "digits": 3,
           "help": f"softmax of the video's similarity to the prompt '... {name} quality': what the video looks like "
                   "to the backbone, which the trained score need not follow (not the level)"} for name in levels),
    ]
    if has_temporal:
        columns.append({"key": "worst_segment", "label": "worst segment", "type": "number", "precision": 4,
                        "help": "lowest score of the temporal curve's segments"})
    if has_substituted:
        columns.append({"key": "substituted_frames", "label": "substituted frames", "type": "number", "digits": 0,
                        "help": "sampled frames that could not be decoded and were replaced by a neighbour"})
    if has_warnings:
        columns.append({"key": "warnings", "label": "warnings", "type": "text", "help": "decoding warnings",
                        "display": "detail"})  # a line under the row, in full (see the template)
    if has_errors:
        columns.append({"key": "error", "label": "error", "type": "text",
                        "help": "why the video could not be scored", "display": "detail"})
    data_rows = []
    for row in rows:
        values = []
        for column in columns:
            key = column["key"]
            if key == "path":
                values.append(_relative(str(row["path"]), prefix))
            elif key == "level":
                values.append(row.get("level") if row.get("status") == "ok" else None)
            elif key == "worst_segment":
                segments = row.get("temporal") or []
                values.append(_rounded(min(s["score"] for s in segments)) if segments else None)
            elif column["type"] == "number":
                values.append(_rounded(row.get(key), 4 if key.startswith("prompt_prob_") else 6))
            else:
                value = row.get(key)
                values.append(None if value in (None, "") else str(value))
        data_rows.append(values)
    return {"columns": columns, "rows": data_rows, "sort_key": "mos" if calibrated else "score"}


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

    probs = _prompt_probs(row, levels)
    card: dict[str, Any] = {
        "rank": rank, "name": _relative(str(row["path"]), prefix), "score": f"{float(row['score']):.4g}",
        "mos": f"{float(row['mos']):.2f}" if row.get("mos") is not None else None, "level": row.get("level"),
        "warnings": row.get("warnings") or "",
        "frames": [], "frames_error": None, "levels_uri": None, "temporal_uri": None,
    }
    if probs:
        card["levels_uri"] = figure_to_data_uri(plot_level_probabilities(probs, title="Prompt similarity (softmax)"))
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


def _score_stats(scores: list[float], what: str = "score") -> list[tuple[str, str]]:
    if not scores:
        return []
    stats = [(f"mean {what}", statistics.fmean(scores)), ("median", statistics.median(scores)),
             ("min", min(scores)), ("max", max(scores))]
    if len(scores) > 1:
        stats.insert(2, ("std", statistics.stdev(scores)))
    digits = ".3g" if what == "MOS" else ".4g"
    return [(name, f"{value:{digits}}") for name, value in stats]


def calibration_note(calibration: Any, calibrated: bool) -> dict[str, Any]:
    """What the summary says about the scale: calibrated (the scale, the bands, what it was fitted on) or not."""
    from ..calibration.mapping import KIND_DESCRIPTIONS

    if not calibrated:
        return {"calibrated": False}
    if calibration is None:  # the rows carry MOS, but the model's calibration.json was not given or not found
        return {"calibrated": True, "scale": "the MOS scale the model was calibrated on", "bands": [], "fitted": None}
    low, high = calibration.mos_range
    edges = calibration.band_edges()
    bands = [(calibration.level_of((a + b) / 2), f"{a:g}", f"{b:g}") for a, b in zip(edges, edges[1:], strict=False)]
    direction = "higher = better" if calibration.higher_is_better else "lower = better"
    fitted = ", ".join(filter(None, [KIND_DESCRIPTIONS[calibration.kind], calibration.provenance()]))
    return {"calibrated": True, "scale": f"MOS {low:g}-{high:g} ({direction})", "bands": bands, "fitted": fitted}


def build_report(rows: list[dict[str, Any]], *, results_path: str = "", model: str | None = None,
                 top_n: int = DEFAULT_TOP_N, sampler: Any = None, results_dir: Path | None = None,
                 thumbnail_height: int = 72, title: str | None = None, calibration: Any = None) -> str:
    """The report's HTML for already-loaded result rows (see [`write_report`] for the arguments; `calibration`: the
    model's [`~qclip_hf.calibration.Calibration`], which names the MOS scale and its bands in the summary)."""
    from jinja2 import Environment

    from .._version import __version__
    from ..calibration.mapping import DEFAULT_LEVEL_NAMES
    from .scoring_plots import figure_to_data_uri, plot_level_counts, plot_score_histogram

    levels = level_names(rows)
    calibrated = is_calibrated(rows)
    ok_rows = [row for row in rows if row.get("status") == "ok" and row.get("score") is not None]
    failed_rows = [row for row in rows if row.get("status") != "ok"]
    scores = [float(row["score"]) for row in ok_rows]
    shown = [float(row["mos"]) for row in ok_rows] if calibrated else scores  # what the summary describes
    # Worst and best by MOS when calibrated (a map may run against the raw score), else by the raw score.
    ranked = sorted(ok_rows, key=lambda row: float(row["mos"] if calibrated else row["score"]))
    count = min(top_n, len(ranked) // 2 if len(ranked) > 1 else len(ranked))  # worst and best never overlap
    results_dir = results_dir or Path(".")
    prefix = _common_prefix([str(row["path"]) for row in rows])
    worst = [_card(row, i + 1, levels, results_dir, sampler, thumbnail_height, prefix)
             for i, row in enumerate(ranked[:count])]
    best_rows = ranked[::-1][:count] if len(ranked) > 1 else []
    best = [_card(row, i + 1, levels, results_dir, sampler, thumbnail_height, prefix)
            for i, row in enumerate(best_rows)]

    summary_plots = []
    if shown:
        marks = {"median": statistics.median(shown)}
        labels = {"title": "MOS distribution", "xlabel": "MOS (calibrated; higher = better)"} if calibrated else {}
        histogram = plot_score_histogram(shown, marks=marks, **labels)
        summary_plots.append({"uri": figure_to_data_uri(histogram), "alt": "MOS histogram" if calibrated
                              else "score histogram"})
    if calibrated:  # videos per level (the band of the MOS); an uncalibrated run has no level to count
        counts = Counter(row.get("level") for row in ok_rows)
        order = list(calibration.level_names if calibration is not None else DEFAULT_LEVEL_NAMES)
        order += sorted(name for name in counts if name not in order)
        chart = plot_level_counts({n: counts.get(n, 0) for n in order}, title="Videos per level (band of the MOS)")
        summary_plots.append({"uri": figure_to_data_uri(chart), "alt": "videos per level"})
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
        score_stats=_score_stats(shown, "MOS" if calibrated else "score"), level_names=levels,
        summary_plots=summary_plots, calibration=calibration_note(calibration, calibrated),
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
            decides which frames the thumbnails show (otherwise 8 uniformly sampled frames), and its calibration
            names the MOS scale and the level bands in the summary.
        top_n (`int`, *optional*, defaults to 5): how many worst and best videos get a card with frames.
        num_frames (`int`, *optional*): frames per video (default: what the rows record, i.e. what the run used,
            else the model's).
        sampling_strategy (`str`, *optional*): frame sampler (default: what the rows record, else the model's).
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
        from .thumbnails import frame_sampler, recorded_sampling

        # The frames the run scored: its own `num_frames` / `sampling_strategy` columns unless overridden here.
        recorded = recorded_sampling(rows)
        sampler = frame_sampler(model, num_frames=recorded["num_frames"] if num_frames is None else num_frames,
                                sampling_strategy=recorded["sampling_strategy"] if sampling_strategy is None
                                else sampling_strategy, revision=revision)
    from ..calibration.mapping import find_calibration

    html = build_report(rows, results_path=str(results), model=None if model is None else str(model), top_n=top_n,
                        sampler=sampler, results_dir=results.resolve().parent, thumbnail_height=thumbnail_height,
                        title=title, calibration=find_calibration(model, revision) if is_calibrated(rows) else None)
    report.parent.mkdir(parents=True, exist_ok=True)
    temporary = report.with_name(f".{report.name}.tmp.{os.getpid()}")
    temporary.write_text(html, encoding="utf-8")
    os.replace(temporary, report)
    return report


__all__ = ["DEFAULT_TOP_N", "ResultsFileError", "build_report", "calibration_note", "check_report_path",
           "is_calibrated", "level_names", "load_results", "table_data", "write_report"]

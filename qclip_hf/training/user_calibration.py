"""Calibrating a saved model on a user's labelled videos: a scoring run's results + their MOS -> `calibration.json`.

`calibrate(RESULTS, LABELS, model=DIR)` is what `qclip-vqa calibrate` runs:

1. read RESULTS (a `qclip-vqa score` output: CSV, JSON Lines or Parquet) and LABELS, a MOS per video:
   - a CSV with a header naming the video (`path`, `file_name`, `file`, `name` or `video`) and the MOS
     (`label_column`, default `mos`) — a videofolder's `metadata.csv` is one;
   - a JSON list of such objects, a JSON object `{video: mos}`, or JSON Lines of objects;
   - the field's headerless label list (`path, duration, fps, MOS`, read by `qclip_hf.data.labels`);
2. pair them: a label's video is its absolute path, else its path relative to the labels file's folder, else the
   one scored video whose path ends with it (a bare file name works when it is unique);
3. fit the map ([`fit_calibration`]) and write it — all checks (no pairs, fewer than 5, constant MOS, a name that
   matches two videos, a model folder that is not one) fail before anything is written;
4. draw the scatter of raw score vs MOS with the fitted map (a PNG beside the calibration).

Example:
    ```python
    >>> from qclip_hf.training.user_calibration import calibrate
    >>> run = calibrate("results.csv", "videos/metadata.csv", model="my-qclip")  # doctest: +SKIP
    >>> print(run.summary())  # doctest: +SKIP
    ```
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..calibration.fitting import fit_calibration
from ..calibration.mapping import CALIBRATION_NAME, Calibration, CalibrationError

PATH_COLUMNS = ("path", "file_name", "file", "name", "video")
LABEL_EXTENSIONS = (".csv", ".txt", ".json", ".jsonl")


@dataclass
class CalibrationRun:
    """What `calibrate` did: the calibration, where it was written, and how the inputs paired up."""

    calibration: Calibration
    path: Path
    plot: Path | None
    matched: int
    unmatched_labels: list[str] = field(default_factory=list)
    failed_rows: int = 0
    unlabelled_rows: int = 0
    replaced: str | None = None

    def summary(self) -> str:
        """The lines `qclip-vqa calibrate` prints."""
        fit = self.calibration.fit
        low, high = self.calibration.mos_range
        lines = [f"calibration: {self.calibration.describe()}",
                 f"choice: {self.calibration.choice.get('reason') or self.calibration.choice.get('rule')}",
                 f"fit on {fit['n']} videos: PLCC {fit['plcc']:.4f}  SROCC {fit['srocc']:.4f}  "
                 f"RMSE {fit['rmse']:.4f} (MOS units, scale {low:g}-{high:g})"]
        skipped = []
        if self.unmatched_labels:
            skipped.append(f"{len(self.unmatched_labels)} labels with no scored video (first: "
                           f"{', '.join(self.unmatched_labels[:3])})")
        if self.failed_rows:
            skipped.append(f"{self.failed_rows} failed rows")
        if self.unlabelled_rows:
            skipped.append(f"{self.unlabelled_rows} scored videos without a label")
        if skipped:
            lines.append("left out: " + "; ".join(skipped))
        if self.replaced:
            lines.append(f"replaced the previous calibration ({self.replaced})")
        lines.append(f"written: {self.path}")
        if self.plot is not None:
            lines.append(f"scatter plot: {self.plot}")
        return "\n".join(lines)


def _number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CalibrationError(f"{where}: MOS {value!r} is not a number", "fix that label") from None
    if not math.isfinite(number):
        raise CalibrationError(f"{where}: MOS {value!r} is not finite", "fix that label")
    return number


def _from_records(records: list[Any], source: str, label_column: str) -> list[tuple[str, float]]:
    labels = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise CalibrationError(f"labels file '{source}': entry {number} is not an object",
                                   f"give objects with a video name ({', '.join(PATH_COLUMNS)}) and {label_column!r}")
        key = next((k for k in PATH_COLUMNS if record.get(k) not in (None, "")), None)
        if key is None or label_column not in record:
            raise CalibrationError(
                f"labels file '{source}': entry {number} has no video name ({', '.join(PATH_COLUMNS)}) or no "
                f"{label_column!r}", f"name the columns e.g. file_name,{label_column} (or pass --label_column)")
        labels.append((str(record[key]), _number(record[label_column], f"labels file '{source}', entry {number}")))
    return labels


def read_labels(path: str | os.PathLike, label_column: str = "mos") -> list[tuple[str, float]]:
    """`(video, MOS)` pairs from a labels file (formats in the module docstring), in file order.

    Raises:
        [`CalibrationError`]: a missing or unreadable file, no video or MOS column, a MOS that is not a number,
            or no labels at all (naming the file, the entry and what to do).

    Example:
        ```python
        >>> read_labels("videos/metadata.csv")[:2]  # doctest: +SKIP
        [('clip_a.mp4', 4.2), ('clip_b.mp4', 1.8)]
        ```
    """
    source = os.fspath(path)
    if not os.path.isfile(source):
        raise CalibrationError(f"labels file '{source}' does not exist",
                               "pass a CSV or JSON file with one video name and MOS per row")
    extension = os.path.splitext(source)[1].lower()
    if extension not in LABEL_EXTENSIONS:
        raise CalibrationError(f"labels file '{source}' is not {', '.join(LABEL_EXTENSIONS)}",
                               "give the labels as CSV (e.g. file_name,mos) or JSON")
    try:
        with open(source, encoding="utf-8-sig") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CalibrationError(f"labels file '{source}' cannot be read ({error})", "check the file") from error
    if extension in (".json", ".jsonl"):
        try:
            if extension == ".jsonl":
                payload: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                payload = json.loads(text)
        except ValueError as error:
            raise CalibrationError(f"labels file '{source}' is not valid JSON ({error})", "fix the file") from error
        if isinstance(payload, dict):
            labels = [(str(k), _number(v, f"labels file '{source}', video {k!r}")) for k, v in payload.items()]
        elif isinstance(payload, list):
            labels = _from_records(payload, source, label_column)
        else:
            raise CalibrationError(f"labels file '{source}' holds a JSON {type(payload).__name__}",
                                   "give a list of objects or an object {video: mos}")
    else:
        rows = [row for row in csv.reader(text.splitlines()) if any(cell.strip() for cell in row)]
        header = [cell.strip() for cell in rows[0]] if rows else []
        if header and any(name in header for name in PATH_COLUMNS):
            labels = _from_records([dict(zip(header, (c.strip() for c in row), strict=False)) for row in rows[1:]],
                                   source, label_column)
        elif header and len(header) == 4:  # the field's label list: path, duration, fps, MOS (no header)
            from ..data.labels import read_label_file

            try:
                labels = [(row.path, row.mos) for row in read_label_file(source)]
            except ValueError as error:
                raise CalibrationError(str(error), "fix that line") from error
        else:
            raise CalibrationError(
                f"labels file '{source}' has no header naming the video ({', '.join(PATH_COLUMNS)}) and the MOS",
                f"add a header line such as file_name,{label_column}")
    if not labels:
        raise CalibrationError(f"labels file '{source}' lists no videos", "add one video name and MOS per row")
    return labels


def _results(path: str | os.PathLike) -> list[dict[str, Any]]:
    from ..inference.results import read_rows

    source = os.fspath(path)
    if not os.path.isfile(source):
        raise CalibrationError(f"results file '{source}' does not exist",
                               "pass the --output file of a `qclip-vqa score` run")
    try:
        rows = read_rows(source)
    except Exception as error:  # noqa: BLE001 — any parse failure means the same thing to the user
        raise CalibrationError(f"results file '{source}' cannot be read ({type(error).__name__}: {error})",
                               "pass the --output file of a `qclip-vqa score` run") from error
    if not rows or not {"path", "status", "score"} <= set(rows[0]):
        raise CalibrationError(f"results file '{source}' has no rows with path, status and score",
                               "pass the --output file of a `qclip-vqa score` run")
    return rows


def pair_labels(rows: list[dict[str, Any]], labels: list[tuple[str, float]], labels_dir: str
                ) -> tuple[list[tuple[float, float]], list[str], int, int]:
    """`(pairs of (score, MOS), labels with no scored video, failed rows, scored rows without a label)`.

    Raises:
        [`CalibrationError`]: a label that names two videos or is given twice.
    """
    from ..inference.files import is_url
    from ..inference.names import decode_path

    scored = {}
    failed = 0
    for row in rows:
        if row.get("status") != "ok" or row.get("score") is None:
            failed += 1
            continue
        text = str(row["path"])
        key = text if is_url(text) else os.path.normpath(decode_path(text))
        scored[key] = float(row["score"])
    seen: set[str] = set()
    pairs, unmatched, used = [], [], set()
    for name, mos in labels:
        if name in seen:
            raise CalibrationError(f"the labels list {name!r} twice", "keep one MOS per video")
        seen.add(name)
        candidates = [name] if is_url(name) else [os.path.normpath(name)] if os.path.isabs(name) else [
            os.path.normpath(os.path.join(labels_dir, name))]
        match = next((c for c in candidates if c in scored), None)
        if match is None and not is_url(name) and not os.path.isabs(name):
            tail = os.sep + os.path.normpath(name)
            found = [key for key in scored if key.endswith(tail)]
            if len(found) > 1:
                raise CalibrationError(f"label {name!r} matches {len(found)} scored videos ({', '.join(found[:2])})",
                                       "give the labels' paths with their folders (or absolute paths)")
            match = found[0] if found else None
        if match is None:
            unmatched.append(name)
            continue
        used.add(match)
        pairs.append((scored[match], mos))
    return pairs, unmatched, failed, len(scored) - len(used)


def check_model_folder(model: str | os.PathLike) -> Path:
    """The local model folder to calibrate (it must hold config.json)."""
    folder = Path(model)
    if not folder.is_dir():
        raise CalibrationError(f"model folder '{model}' does not exist",
                               "pass the local folder of the model that scored the results (a Hub model: download "
                               "it with `hf download` and pass that folder, or give --output)")
    if not (folder / "config.json").is_file():
        raise CalibrationError(f"'{model}' has no config.json, so it is not a saved Q-CLIP model",
                               "pass the folder written by save_pretrained / training (e.g. outputs/demo/run/best)")
    return folder


def calibrate(
    results: str | os.PathLike,
    labels: str | os.PathLike,
    *,
    model: str | os.PathLike,
    output: str | os.PathLike | None = None,
    kind: str = "auto",
    mos_range: tuple[float, float] | None = None,
    higher_is_better: bool = True,
    label_column: str = "mos",
    plot: bool | str | os.PathLike = True,
) -> CalibrationRun:
    """Fit `model`'s calibration on labelled videos and write it (`<model>/calibration.json`, or `output`).

    Args:
        results (`str`): a `qclip-vqa score` output of the labelled videos, scored by `model`.
        labels (`str`): their MOS (formats in the module docstring).
        model (`str`): the local model folder (its `calibration.json` is written, replacing any earlier one).
        output (`str`, *optional*): write the calibration here instead (a `.json` file or a folder).
        kind (`str`, *optional*, defaults to `"auto"`): `"auto"`, `"logistic4"` or `"isotonic"`.
        mos_range (`tuple[float, float]`, *optional*): the MOS scale (default: the lowest and highest label).
        higher_is_better (`bool`, *optional*, defaults to `True`): `False` for DMOS-like labels.
        label_column (`str`, *optional*, defaults to `"mos"`): the MOS column of a CSV / JSON labels file.
        plot (`bool` or `str`, *optional*, defaults to `True`): write the scatter PNG beside the calibration
            (`calibration.png`), to this path, or not at all (`False`).

    Returns:
        [`CalibrationRun`]: the calibration, the files written and how the inputs paired up.

    Raises:
        [`CalibrationError`]: bad inputs (nothing is written then).
    """
    folder = check_model_folder(model)
    target = Path(output) if output is not None else folder / CALIBRATION_NAME
    if target.suffix.lower() != ".json":
        target = target / CALIBRATION_NAME
    if target.is_dir():
        raise CalibrationError(f"output '{target}' is a folder", "give a .json file name")
    rows = _results(results)
    label_list = read_labels(labels, label_column)
    pairs, unmatched, failed, unlabelled = pair_labels(rows, label_list,
                                                       os.path.dirname(os.path.abspath(os.fspath(labels))))
    if not pairs:
        raise CalibrationError(
            f"none of the {len(label_list)} labels in '{os.fspath(labels)}' names a video scored in "
            f"'{os.fspath(results)}' (first label: {label_list[0][0]!r})",
            "give the videos' paths as scored (absolute, relative to the labels file, or unique file names)")
    scores, mos = zip(*pairs, strict=True)
    data = {"source": "labelled videos (qclip-vqa calibrate)", "labels": os.path.abspath(os.fspath(labels)),
            "results": os.path.abspath(os.fspath(results)), "split": "user"}
    calibration = fit_calibration(scores, mos, kind=kind, mos_range=mos_range, higher_is_better=higher_is_better,
                                  data=data)
    previous = None
    if target.is_file():
        try:
            previous = Calibration.load(target).describe()
        except CalibrationError:
            previous = "unreadable"
    path = calibration.save(target)
    plot_path = None
    if plot:
        from ..reporting.calibration_plot import plot_calibration

        plot_path = plot_calibration(calibration, scores, mos,
                                     path.with_suffix(".png") if plot is True else Path(plot))
    return CalibrationRun(calibration, path, plot_path, len(pairs), unmatched, failed, unlabelled, previous)


__all__ = ["CalibrationRun", "calibrate", "check_model_folder", "pair_labels", "read_labels"]

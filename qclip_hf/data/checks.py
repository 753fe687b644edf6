"""Checking every video a run will read before any model is loaded: present, readable, non-empty, whole raw frames.

A missing file found after an epoch of training (or after tens of seconds loading PE-Core-L) wastes the run; a
`stat` per file costs milliseconds. Problems are collected for every listed file, then either reported at once
(`on_missing="error"`: count + first files) or skipped and recorded (`on_missing="skip"`), so `results.json` can
say what the model never saw.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import QClipError
from ..video.sources import RawVideoFormat
from .raw_format import spec_raw_format
from .specs import load_dataset_from_spec

ON_MISSING_CHOICES = ("error", "skip")


def file_problem(path: str, raw_format: RawVideoFormat | None = None) -> str | None:
    """Why `path` cannot be read as a video, or `None` when it can (a cheap check: `stat` and access, no decode).

    For raw `.yuv` files (with `raw_format`) the size must be a whole, non-zero number of frames.

    Example:
        ```python
        >>> file_problem("/no/such/video.mp4")
        'missing'
        ```
    """
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    if not os.path.isfile(path):
        return "not a file"
    if not os.access(path, os.R_OK):
        return "not readable (permissions)"
    if stat.st_size == 0:
        return "empty (0 bytes)"
    if raw_format is not None and path.lower().endswith(".yuv"):
        frame = raw_format.frame_bytes
        if stat.st_size % frame:
            return (f"raw size {stat.st_size} bytes is not a whole number of {raw_format.width}x{raw_format.height} "
                    f"{raw_format.pixel_format} frames ({frame} bytes each; {stat.st_size // frame} whole frames "
                    f"+ {stat.st_size % frame} bytes): wrong --raw_format or a truncated file")
    return None


def _video_path(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("path")
    return value if isinstance(value, str) else None


@dataclass
class DataCheck:
    """Result of [`check_data_files`].

    Attributes:
        datasets (`dict[str, datasets.Dataset]`): each set's rows, without the skipped ones.
        raw_formats (`dict[str, RawVideoFormat | None]`): each set's raw `.yuv` geometry (pass it to the processor).
        skipped (`dict[str, list[dict]]`): per set, `{"file", "reason"}` of every skipped video.
        on_missing (`str`): the policy applied.
    """

    datasets: dict[str, Any] = field(default_factory=dict)
    raw_formats: dict[str, RawVideoFormat | None] = field(default_factory=dict)
    skipped: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)
    on_missing: str = "error"

    @property
    def num_skipped(self) -> int:
        return sum(len(items) for items in self.skipped.values())

    def to_json(self) -> dict[str, Any]:
        """What `results.json` records: the policy, files checked per set and every skipped file with its reason."""
        return {"on_missing": self.on_missing, "checked": dict(self.checked), "num_skipped": self.num_skipped,
                "skipped": {name: list(items) for name, items in self.skipped.items() if items}}


def check_data_files(
    specs: Mapping[str, str],
    *,
    labels_dir: str | os.PathLike | None = None,
    on_missing: str = "error",
    raw_format: RawVideoFormat | str | None = None,
    label_column: str | None = None,
    max_listed: int = 5,
) -> DataCheck:
    """Load every dataset spec and check every video it lists, before any model is loaded.

    Args:
        specs (`Mapping[str, str]`): `{set name: "KIND:PATH"}` (e.g. `{"train": "LIVE-Qualcomm:/data/LQ",
            "KoNViD-1k": "KoNViD-1k:/data/KoNViD"}`); kinds as in `load_dataset_from_spec`.
        labels_dir (`str`, *optional*): the standard label lists (for the standard datasets).
        on_missing (`str`, defaults to `"error"`): `"error"` raises one [`QClipError`] naming the number of
            problem files and the first `max_listed`; `"skip"` drops them from their set and records them.
        raw_format (`RawVideoFormat` or `str`, *optional*): geometry of raw `.yuv` files (`--raw_format`),
            overriding the dataset's own (LIVE-Qualcomm's 1920x1080 yuv420p is known).
        label_column (`str`, *optional*): a column every set must have (e.g. `"mos"`).

    Returns:
        [`DataCheck`]: the datasets without the skipped rows, their raw formats and what was skipped.

    Raises:
        [`QClipError`]: problem files under `on_missing="error"`, a set left empty by skipping, a missing label
            column. `ValueError` / `FileNotFoundError` from a malformed spec or a missing root / label list.

    Example:
        ```python
        >>> check = check_data_files({"train": "videofolder:data/train"}, on_missing="skip")  # doctest: +SKIP
        >>> check.datasets["train"], check.to_json()["skipped"]  # doctest: +SKIP
        ```
    """
    if on_missing not in ON_MISSING_CHOICES:
        raise ValueError(f"on_missing must be one of {list(ON_MISSING_CHOICES)}, got {on_missing!r}.")
    result = DataCheck(on_missing=on_missing)
    problems: list[tuple[str, str, str]] = []  # (set, file, reason)
    bad_rows: dict[str, list[int]] = {}
    for name, spec in specs.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # missing files are reported below, all sets together
            dataset = load_dataset_from_spec(spec, labels_dir, on_missing="warn")
        if label_column is not None and label_column not in dataset.column_names:
            raise QClipError(f"data set {name!r} ({spec}) has no {label_column!r} column (columns: "
                             f"{dataset.column_names})", "pass --label_column with one of them")
        fmt = spec_raw_format(spec, raw_format)
        result.raw_formats[name] = fmt
        result.checked[name] = len(dataset)
        root = spec.partition(":")[2]
        bad_rows[name] = []
        for index, value in enumerate(dataset["video"]):
            path = _video_path(value)
            reason = "no path" if path is None else file_problem(path, fmt)
            if reason is not None:
                shown = os.path.relpath(path, root) if path else f"row {index}"
                problems.append((name, shown, reason))
                bad_rows[name].append(index)
        result.datasets[name] = dataset
    if problems and on_missing == "error":
        total = sum(result.checked.values())
        listed = "; ".join(f"{file} ({reason}) in {name!r}" for name, file, reason in problems[:max_listed])
        more = f" and {len(problems) - max_listed} more" if len(problems) > max_listed else ""
        raise QClipError(f"{len(problems)} of {total} listed videos cannot be read: {listed}{more}",
                         "fix the paths (data root, --labels_dir, --raw_format) or pass --on_missing skip to leave "
                         "them out (they are recorded in results.json)")
    for name, rows in bad_rows.items():
        result.skipped[name] = [{"file": file, "reason": reason} for set_name, file, reason in problems
                                if set_name == name]
        if rows:
            dataset = result.datasets[name]
            bad = set(rows)
            if len(bad) == len(dataset):
                raise QClipError(f"data set {name!r} ({specs[name]}) has no readable video left after skipping "
                                 f"{len(bad)}", "check its path and --labels_dir")
            result.datasets[name] = dataset.select([i for i in range(len(dataset)) if i not in bad])
    return result

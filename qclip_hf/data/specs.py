"""Dataset specs of the command line (`KIND:PATH`) and the cells of the 🤗 datasets they load.

The data side of the data/training line: `qclip_hf.data.checks` checks the files a spec names, and
`qclip_hf.training` turns loaded datasets into processed clips; neither is imported here.
"""

from __future__ import annotations

import os
from typing import Any

from .videofolder import load_videofolder
from .vqa import VQA_DATASETS, load_vqa_dataset

SPEC_KINDS = ("videofolder", *VQA_DATASETS)


def load_dataset_from_spec(spec: str, labels_dir: str | None = None, on_missing: str = "warn"):
    """A `datasets.Dataset` from a command-line spec `KIND:PATH`.

    `KIND` is `videofolder` (a folder of videos with `metadata.csv`: `file_name`, `mos`) or one of the standard
    datasets (`KoNViD-1k`, `LSVQ-train`, `LSVQ-test`, `LSVQ-1080p`, `LIVE-VQC`, `YouTube-UGC`, `CVD2014`,
    `LIVE-Qualcomm`), with `PATH` the dataset root its label list is relative to.

    Example:
        ```python
        >>> ds = load_dataset_from_spec("videofolder:outputs/synthetic_vqa/train")  # doctest: +SKIP
        >>> ds = load_dataset_from_spec("KoNViD-1k:/data/KoNViD", labels_dir="../shared/data_labels")  # doctest: +SKIP
        ```
    """
    kind, sep, path = spec.partition(":")
    if not sep or not path:
        raise ValueError(f"dataset spec {spec!r} must look like KIND:PATH; KIND one of {list(SPEC_KINDS)}.")
    if kind not in SPEC_KINDS:
        raise ValueError(f"dataset spec {spec!r}: unknown kind {kind!r}; allowed: {list(SPEC_KINDS)}.")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"dataset spec {spec!r}: {path!r} is not a directory.")
    if kind == "videofolder":
        return load_videofolder(path, on_missing=on_missing)
    return load_vqa_dataset(kind, path, labels_dir=labels_dir, on_missing=on_missing)


def video_input(value: Any) -> Any:
    """The processor input of one dataset cell: a path string, or the `{"path", "bytes"}` dict of a `Video` column.

    Example:
        ```python
        >>> video_input({"path": "a.mp4", "bytes": None}), video_input("b.mkv")
        ('a.mp4', 'b.mkv')
        ```
    """
    if isinstance(value, dict):
        return value.get("path") or value.get("bytes")
    return value

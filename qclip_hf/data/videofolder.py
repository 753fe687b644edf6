"""A user's own videos: 🤗 datasets' `videofolder` builder with a `metadata.csv` holding the MOS."""

from __future__ import annotations

import csv
import os
from typing import Any

from .vqa import OnMissing, report_missing


def load_videofolder(
    data_dir: str | os.PathLike,
    *,
    mos_column: str = "mos",
    mos_range: tuple[float, float] | None = None,
    on_missing: OnMissing = "warn",
    decode: bool = False,
    split: str = "train",
    **load_kwargs: Any,
):
    """Load `data_dir` (videos + `metadata.csv` with a `file_name` and a MOS column) as a `datasets.Dataset`.

    The `video` column is a `datasets.Video` feature, undecoded by default (`{"path", "bytes"}` dicts) because
    `QClipVideoProcessor` decodes and samples itself; `decode=True` keeps datasets' torchcodec decoders (the
    processor accepts those too). `mos_normalized` maps `mos_range` (default: the column's min and max) to [0, 1].
    Rows of `metadata.csv` whose file is absent are reported like the standard datasets' (`on_missing`).

    Example:

    ```python
    >>> from qclip_hf.data.videofolder import load_videofolder
    >>> ds = load_videofolder("my_videos")  # my_videos/metadata.csv: file_name,mos
    >>> ds.column_names
    ['video', 'mos', 'mos_normalized']
    ```
    """
    import datasets

    data_dir = os.fspath(data_dir)
    metadata = os.path.join(data_dir, "metadata.csv")
    if not os.path.isfile(metadata):
        raise FileNotFoundError(
            f"{metadata} not found: videofolder needs a metadata.csv with file_name and {mos_column}"
        )
    with open(metadata, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), None)
        has_rows = next(handle, None) is not None
    if not header or "file_name" not in header:
        raise ValueError(f"{metadata} has no 'file_name' column (header: {header}).")
    if not has_rows:
        raise ValueError(f"{metadata} lists no videos (only a header).")
    dataset = datasets.load_dataset("videofolder", data_dir=data_dir, split=split, **load_kwargs)
    if mos_column not in dataset.column_names:
        raise ValueError(f"mos_column {mos_column!r} not in metadata.csv columns {dataset.column_names}")
    dataset = dataset.cast_column("video", datasets.Video(decode=False))
    paths = [entry["path"] for entry in dataset["video"]]
    exists = report_missing(paths, os.path.abspath(data_dir), on_missing, metadata)
    if on_missing == "drop" and not all(exists):
        dataset = dataset.select([i for i, ok in enumerate(exists) if ok])
    scores = [float(v) for v in dataset[mos_column]]
    if mos_range is None:
        mos_range = (min(scores), max(scores)) if scores else (0.0, 1.0)
        if mos_range[1] == mos_range[0]:  # one video (or equal scores): any unit range keeps them in [0, 1]
            mos_range = (mos_range[0], mos_range[0] + 1.0)
    low, high = (float(v) for v in mos_range)
    if not high > low:
        raise ValueError(f"mos_range must have high > low, got {mos_range!r}")
    dataset = dataset.add_column("mos_normalized", [(s - low) / (high - low) for s in scores])
    if decode:
        dataset = dataset.cast_column("video", datasets.Video())
    return dataset

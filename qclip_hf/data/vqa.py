"""🤗 datasets loaders for the six VQA datasets of the Q-CLIP paper, from the standard label lists.

The video column holds **absolute paths** (strings), not a `datasets.Video` feature, because:

- `QClipVideoProcessor` decodes paths itself, choosing seek vs. one pass per video and seeking only the
  frames a strategy needs; a `Video` feature hands out torchcodec decoders whose construction in exact mode
  scans the whole file on every access (and defaults to one FFmpeg thread);
- LIVE-Qualcomm is raw `.yuv`, which needs a width/height/pixel format no `Video` feature carries;
- missing files are reported at load time instead of failing at the first access;
- the motion-profile column (`qclip_hf.video.motion.add_motion_profile`) is computed from these paths once.

Pass `video_feature=True` to get a `datasets.Video` column anyway (containers only).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Literal

from ..video.sources import RawVideoFormat
from .labels import read_label_file

OnMissing = Literal["warn", "drop", "raise"]
ON_MISSING = ("warn", "drop", "raise")


class MissingVideosWarning(UserWarning):
    """Some videos of a label list are not under the dataset root."""


@dataclass(frozen=True)
class VQADatasetSpec:
    """A dataset's label list (relative to the label directory), MOS scale and, for raw video, its geometry.

    Args:
        name (`str`): registry name.
        label_file (`str`): path of the label list inside the standard label directory.
        mos_range (`tuple[float, float]`): the scale `mos_normalized = (mos - low) / (high - low)` maps to [0, 1].
        raw_format (`RawVideoFormat`, *optional*): for headerless `.yuv` datasets.
    """

    name: str
    label_file: str
    mos_range: tuple[float, float]
    raw_format: RawVideoFormat | None = None


LIVE_QUALCOMM_RAW_FORMAT = RawVideoFormat(width=1920, height=1080, pixel_format="yuv420p", fps=30.0)

VQA_DATASETS: dict[str, VQADatasetSpec] = {
    spec.name: spec
    for spec in (
        VQADatasetSpec("LSVQ-train", "LSVQ/train_labels.txt", (0.0, 100.0)),
        VQADatasetSpec("LSVQ-test", "LSVQ/labels_test.txt", (0.0, 100.0)),
        VQADatasetSpec("LSVQ-1080p", "LSVQ/labels_1080p.txt", (0.0, 100.0)),
        VQADatasetSpec("LSVQ-test-all", "LSVQ/labels.txt", (0.0, 100.0)),
        VQADatasetSpec("KoNViD-1k", "KoNViD/labels.txt", (1.0, 5.0)),
        VQADatasetSpec("LIVE-VQC", "LIVE_VQC/labels.txt", (0.0, 100.0)),
        VQADatasetSpec("YouTube-UGC", "YouTubeUGC/labels.txt", (1.0, 5.0)),
        # CVD2014's scores are relative (they go below 0): its list's observed range is the scale.
        VQADatasetSpec("CVD2014", "CVD2014/labels.txt", (-6.5, 93.38)),
        VQADatasetSpec("LIVE-Qualcomm", "LIVE_Qualcomm/labels.txt", (0.0, 100.0), LIVE_QUALCOMM_RAW_FORMAT),
    )
}
"""Registry of the supported datasets by name."""


def report_missing(paths: list[str], root: str, on_missing: OnMissing, source: str) -> list[bool]:
    """Which `paths` exist; warn (count + first names), raise `FileNotFoundError`, or just report for dropping."""
    if on_missing not in ON_MISSING:
        raise ValueError(f"on_missing must be one of {ON_MISSING}, got {on_missing!r}")
    exists = [os.path.isfile(path) for path in paths]
    missing = [os.path.relpath(p, root) for p, ok in zip(paths, exists, strict=True) if not ok]
    if missing:
        message = (
            f"{len(missing)} of {len(paths)} videos of {source} are missing under {root!r} "
            f"(first: {', '.join(missing[:5])})"
        )
        if on_missing == "raise":
            raise FileNotFoundError(message)
        action = "dropped" if on_missing == "drop" else "kept; pass on_missing='drop' to drop them"
        warnings.warn(f"{message}; {action}", MissingVideosWarning, stacklevel=3)
    return exists


def load_vqa_dataset(
    name: str,
    data_root: str | os.PathLike,
    *,
    labels_dir: str | os.PathLike | None = None,
    label_file: str | os.PathLike | None = None,
    on_missing: OnMissing = "warn",
    video_feature: bool = False,
):
    """Load one of `VQA_DATASETS` as a `datasets.Dataset` from its label list and the user's copy of the videos.

    Columns: `video` (absolute path), `relative_path`, `mos` (dataset scale), `mos_normalized` (in [0, 1] on the
    dataset's scale, see `VQADatasetSpec.mos_range`), `duration` and `fps` (`None` when unknown).

    Args:
        name (`str`): a key of `VQA_DATASETS` (e.g. `"KoNViD-1k"`, `"LSVQ-train"`, `"LIVE-Qualcomm"`).
        data_root (`str` or `os.PathLike`): the directory the label list's paths are relative to.
        labels_dir (`str` or `os.PathLike`, *optional*): the standard label directory (holding `KoNViD/`,
            `LSVQ/`, ...); the dataset's list is looked up inside it.
        label_file (`str` or `os.PathLike`, *optional*): an explicit label list (overrides `labels_dir`).
        on_missing (`str`, *optional*, defaults to `"warn"`): for videos not found under `data_root`: `"warn"`
            (keep the rows, warn with the count and the first names), `"drop"` (warn and drop) or `"raise"`.
        video_feature (`bool`, *optional*, defaults to `False`): cast `video` to a `datasets.Video` feature.

    Example:

    ```python
    >>> from qclip_hf.data.vqa import load_vqa_dataset
    >>> ds = load_vqa_dataset("KoNViD-1k", "/data/KoNViD", labels_dir="../shared/data_labels")
    >>> ds.column_names
    ['video', 'relative_path', 'mos', 'mos_normalized', 'duration', 'fps']
    ```
    """
    import datasets

    if name not in VQA_DATASETS:
        raise ValueError(f"unknown VQA dataset {name!r}; allowed: {list(VQA_DATASETS)}")
    spec = VQA_DATASETS[name]
    if label_file is None:
        if labels_dir is None:
            raise ValueError("pass labels_dir (the standard label directory) or label_file")
        label_file = os.path.join(os.fspath(labels_dir), spec.label_file)
    if video_feature and spec.raw_format is not None:
        raise ValueError(f"video_feature=True is not possible for {name}: raw .yuv files need raw_format decoding")
    root = os.path.abspath(os.fspath(data_root))
    rows = read_label_file(label_file)
    paths = [os.path.join(root, row.path) for row in rows]
    exists = report_missing(paths, root, on_missing, f"{name} ({os.fspath(label_file)})")
    low, high = spec.mos_range
    keep = [i for i, ok in enumerate(exists) if ok or on_missing != "drop"]
    features = datasets.Features(
        {
            "video": datasets.Value("string"),
            "relative_path": datasets.Value("string"),
            "mos": datasets.Value("float64"),
            "mos_normalized": datasets.Value("float64"),
            "duration": datasets.Value("float64"),
            "fps": datasets.Value("float64"),
        }
    )
    table = {
        "video": [paths[i] for i in keep],
        "relative_path": [rows[i].path for i in keep],
        "mos": [rows[i].mos for i in keep],
        "mos_normalized": [(rows[i].mos - low) / (high - low) for i in keep],
        "duration": [rows[i].duration for i in keep],
        "fps": [rows[i].fps for i in keep],
    }
    info = datasets.DatasetInfo(
        features=features,
        description=f"{name} from {os.path.basename(os.fspath(label_file))}; MOS scale {spec.mos_range}"
        + (f"; raw video {spec.raw_format.to_dict()}" if spec.raw_format else ""),
    )
    dataset = datasets.Dataset.from_dict(table, features=features, info=info)
    if video_feature:
        dataset = dataset.cast_column("video", datasets.Video())
    return dataset

"""`--raw_format WIDTHxHEIGHT[:PIX_FMT[:FPS]]` and the raw-video geometry of each dataset spec."""

from __future__ import annotations

from ..video.sources import RawVideoFormat
from .vqa import VQA_DATASETS


def parse_raw_format(text: str) -> RawVideoFormat:
    """A [`RawVideoFormat`] from `"WIDTHxHEIGHT[:PIX_FMT[:FPS]]"`, e.g. `"1920x1080"` or `"640x360:yuv420p:25"`.

    The same grammar as the scoring CLI's `--raw_format` (`RawVideoFormat.parse`).

    Raises:
        `ValueError`: naming the text and the expected form.

    Example:
        ```python
        >>> parse_raw_format("640x360:yuv420p:25").to_dict()
        {'width': 640, 'height': 360, 'pixel_format': 'yuv420p', 'fps': 25.0}
        ```
    """
    return RawVideoFormat.parse(text)


def spec_raw_format(spec: str, override: RawVideoFormat | str | None = None) -> RawVideoFormat | None:
    """The geometry of a dataset spec's raw `.yuv` files: `override` (from `--raw_format`) or the dataset's own.

    Example:
        ```python
        >>> spec_raw_format("LIVE-Qualcomm:/data/LIVE-Qualcomm").to_dict()
        {'width': 1920, 'height': 1080, 'pixel_format': 'yuv420p', 'fps': 30.0}
        >>> spec_raw_format("videofolder:/data/yuv", "352x288") .width
        352
        ```
    """
    if isinstance(override, str):
        override = parse_raw_format(override)
    if override is not None:
        return override
    kind = spec.partition(":")[0]
    dataset = VQA_DATASETS.get(kind)
    return dataset.raw_format if dataset is not None else None

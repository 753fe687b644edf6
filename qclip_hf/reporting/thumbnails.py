"""The frames a model looked at, as small images: what the HTML report's frame strips and the demo app show.

Frames are chosen exactly as the model's video processor chooses them in eval mode (same number of frames, same
sampling strategy, same seed), then decoded at full size and shrunk to thumbnails.

Example:
    ```python
    >>> from qclip_hf.reporting.thumbnails import frame_sampler, sampled_frames
    >>> processor = frame_sampler("outputs/demo/run/best")  # doctest: +SKIP
    >>> sampled = sampled_frames("clip.mp4", processor)  # doctest: +SKIP
    >>> sampled.indices.tolist()  # doctest: +SKIP
    [7, 22, 37, 52]
    ```
"""

from __future__ import annotations

import base64
import io
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

    from ..models.qclip.video_processing_qclip import QClipVideoProcessor
    from ..video.reader import SampledVideo

DEFAULT_THUMBNAIL_HEIGHT = 96


def frame_sampler(model: str | os.PathLike | None = None, *, num_frames: int | None = None,
                  sampling_strategy: str | None = None, revision: str | None = None) -> QClipVideoProcessor:
    """The video processor whose frame choice the thumbnails reproduce.

    The processor saved with `model` (a saved directory or Hub id, see `load_saved_processor`) when it has one, as
    the pipeline and `qclip-vqa score` use it; otherwise the processor defaults (`UNISampl`) with the model config's
    `num_frames` (8 without a model). `num_frames` / `sampling_strategy` override it, as
    `qclip-vqa score --num_frames/--sampling_strategy` override the model's.

    Raises:
        [`~qclip_hf.errors.ModelLoadError`]: `model` is neither a folder nor a reachable Hub repo.
    """
    from ..models.qclip.video_processing_qclip import QClipVideoProcessor, load_saved_processor

    options = {key: value for key, value in (("num_frames", num_frames), ("sampling_strategy", sampling_strategy))
               if value is not None}
    processor = None
    if model is not None:
        processor = load_saved_processor(os.fspath(model), revision=revision, **options)
        if processor is None and "num_frames" not in options:  # none saved: the model config's frame count
            try:
                from ..models.qclip.configuration_qclip import QClipConfig

                options["num_frames"] = QClipConfig.from_pretrained(os.fspath(model), revision=revision).num_frames
            except Exception:  # noqa: BLE001 — the report still shows frames with the defaults
                pass
    if processor is None:
        processor = QClipVideoProcessor(**options)
    return processor.eval()


def recorded_sampling(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`{"num_frames", "sampling_strategy"}` the scored rows of a result file record (what `qclip-vqa score` used,
    overrides included), each `None` when the rows do not all agree on it (an output merged from runs with other
    options, or written before these columns existed): the model's processor then decides.

    Example:
        ```python
        >>> recorded_sampling([{"status": "ok", "num_frames": 3, "sampling_strategy": "SegMSEMean"}])
        {'num_frames': 3, 'sampling_strategy': 'SegMSEMean'}
        ```
    """
    scored = [row for row in rows if row.get("status") == "ok"]
    recorded: dict[str, Any] = {}
    for name in ("num_frames", "sampling_strategy"):
        values = {row.get(name) for row in scored}
        recorded[name] = values.pop() if len(values) == 1 else None
    return recorded


def sampled_frames(video: Any, processor: QClipVideoProcessor) -> SampledVideo:
    """Decode the frames `processor` samples from `video` (eval mode: they depend only on the video and seed)."""
    import numpy as np

    from ..video.reader import sample_video

    strategy = processor._strategy(processor.sampling_strategy, {  # the same object the processor itself builds
        "mixed_strategies": processor.mixed_strategies, "mixed_weights": processor.mixed_weights,
        "eval_strategy": processor.eval_strategy,
    })
    is_yuv = isinstance(video, (str, os.PathLike)) and os.fspath(video).lower().endswith(".yuv")
    return sample_video(video, processor.num_frames, strategy, rng=np.random.default_rng(processor.seed),
                        training=False, backend=processor.decode_backend,
                        raw_format=processor.raw_format if is_yuv else None,
                        motion_short_side=processor.motion_short_side, timeout=processor.decode_timeout)


def thumbnail(frame: Any, height: int = DEFAULT_THUMBNAIL_HEIGHT) -> Image:
    """A (H, W, 3) uint8 frame as a PIL image `height` pixels high (aspect ratio kept)."""
    from PIL import Image as PILImage

    if height < 1:
        raise ValueError(f"height must be >= 1, got {height}")
    image = PILImage.fromarray(frame).convert("RGB")
    width = max(1, round(image.width * height / image.height))
    return image.resize((width, height), PILImage.Resampling.BICUBIC)


def image_to_data_uri(image: Image, *, quality: int = 80) -> str:
    """A PIL image as an inline `data:image/jpeg;base64,...` URI (JPEG keeps a report with many frames small)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


__all__ = ["DEFAULT_THUMBNAIL_HEIGHT", "frame_sampler", "image_to_data_uri", "recorded_sampling", "sampled_frames",
           "thumbnail"]

"""File (or decoded frames) -> motion profile -> sampler -> the selected RGB frames, in one call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .decoding import DEFAULT_MAX_PIXELS, DEFAULT_TIMEOUT, Backend, as_openable, decode_frames, index_video
from .motion import compute_motion_profile, motion_profile_from_frames
from .sampling import Mixed, as_generator, get_sampling_strategy
from .sources import RawVideoFormat, VideoSource


@dataclass
class SampledVideo:
    """Frames chosen from one video.

    Args:
        frames (`np.ndarray`): (T, H, W, 3) uint8 RGB.
        indices (`np.ndarray`): the frame indices (presentation order) the frames come from.
        num_frames (`int`): number of frames in the whole video.
        strategy (`str`): name of the strategy actually applied (the drawn one for `Mixed`).
    """

    frames: np.ndarray
    indices: np.ndarray
    num_frames: int
    strategy: str


def is_decoded_video(video: Any) -> bool:
    """Whether `video` is already-decoded frames: a (T, H, W[, C]) array/tensor or a list of PIL images."""
    if isinstance(video, np.ndarray):
        return True
    if type(video).__module__.startswith("torch") and hasattr(video, "numpy"):
        return True
    if isinstance(video, (list, tuple)) and video and all(type(v).__module__.startswith("PIL") for v in video):
        return True
    return False


def frames_to_array(video: Any, name: str = "video") -> np.ndarray:
    """Decoded frames as a (T, H, W, 3) uint8 RGB array (gray repeated, alpha dropped).

    Accepts (T, H, W, C) channels-last uint8 arrays or tensors (channels-first (T, C, H, W) is recognised when
    dim 1 is 1 or 3 and the last dim is not), (T, H, W) gray, and lists of PIL images.
    """
    if isinstance(video, (list, tuple)):
        array = np.stack([np.asarray(image.convert("RGB")) for image in video])
    else:
        array = video.detach().cpu().numpy() if hasattr(video, "detach") else np.asarray(video)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[0] == 0:
        raise ValueError(f"{name}: decoded frames must be shaped (T, H, W, C) with T >= 1, got {array.shape}")
    if array.shape[1] in (1, 3) and array.shape[-1] not in (1, 3, 4):
        array = array.transpose(0, 2, 3, 1)
    if array.dtype != np.uint8:
        raise ValueError(f"{name}: decoded frames must be uint8 (0-255), got dtype {array.dtype}")
    channels = array.shape[-1]
    if channels == 1:
        array = np.repeat(array, 3, axis=-1)
    elif channels == 4:
        array = array[..., :3]
    elif channels != 3:
        raise ValueError(f"{name}: decoded frames must have 1, 3 or 4 channels, got {channels}")
    return np.ascontiguousarray(array)


def sample_video(
    video: VideoSource | np.ndarray | Any,
    num_samples: int = 8,
    strategy: str | Callable[..., np.ndarray] | Mixed = "UNISampl",
    *,
    motion: Sequence[float] | np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    training: bool = False,
    backend: Backend = "auto",
    raw_format: RawVideoFormat | dict | None = None,
    motion_short_side: int = 64,
    timeout: float = DEFAULT_TIMEOUT,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> SampledVideo:
    """Select `num_samples` frames of a video with a sampling strategy and decode only what that needs.

    Uniform-type strategies decode just the selected frames (seek or one partial pass); MSE-driven ones use
    `motion` when given (e.g. a stored dataset column), otherwise compute it with one streaming pass first.

    Args:
        video: a path / bytes / file-like / `{"path", "bytes"}` dict / datasets torchcodec decoder, or decoded
            frames (see :func:`frames_to_array`).
        num_samples (`int`, *optional*, defaults to 8): frames to return (short videos repeat frames).
        strategy (`str`, callable or `Mixed`, *optional*, defaults to `"UNISampl"`): see
            :mod:`qclip_hf.video.sampling`.
        motion (`array-like`, *optional*): precomputed motion profile of the whole video.
        rng (`Generator` or `int`, *optional*): randomness source; `None` is a fixed seed (eval determinism).
        training (`bool`, *optional*, defaults to `False`): lets `Mixed` draw a strategy.
        backend (`str`, *optional*, defaults to `"auto"`): `"auto"`, `"pyav"` or `"torchcodec"`.
        raw_format (`RawVideoFormat` or `dict`, *optional*): geometry of raw `.yuv` input.
        motion_short_side (`int`, *optional*, defaults to 64): resolution of the motion pass.
        timeout (`float`, *optional*): per-pass time limit in seconds.
        max_pixels (`int`, *optional*): largest frame size accepted.

    Example:

    ```python
    >>> from qclip_hf.video.reader import sample_video
    >>> sampled = sample_video("clip.mp4", 8, "SegMSEMedian")
    >>> sampled.frames.shape, sampled.indices.tolist()
    ((8, 1080, 1920, 3), [17, 54, 92, 129, 167, 204, 242, 279])
    ```
    """
    generator = as_generator(rng)
    if isinstance(strategy, str):
        strategy = get_sampling_strategy(strategy)
    chosen = strategy.choose(generator, training) if isinstance(strategy, Mixed) else strategy
    needs_motion = getattr(chosen, "requires_motion", False)

    if is_decoded_video(video):
        frames = frames_to_array(video)
        total = frames.shape[0]
        if needs_motion and motion is None:
            motion = motion_profile_from_frames(frames)
        indices = chosen(total, num_samples, motion=motion, rng=generator)
        return SampledVideo(frames[indices], indices, total, chosen.__name__)

    openable = as_openable(video, raw_format)
    index = index_video(openable, timeout=timeout, max_pixels=max_pixels)
    if needs_motion and motion is None:
        motion = compute_motion_profile(
            openable, short_side=motion_short_side, timeout=max(timeout, 600.0), max_pixels=max_pixels
        )
    total = index.num_frames
    if motion is not None and len(motion) != total:
        # The motion pass counts decoded frames, the index counts packets; trust the decoder when they differ
        # (e.g. a leading packet that decodes to nothing) so indices stay valid for both.
        total = min(total, len(motion))
        motion = np.asarray(motion)[:total]
    indices = chosen(total, num_samples, motion=motion, rng=generator)
    frames = decode_frames(openable, indices, backend=backend, index=index, timeout=timeout, max_pixels=max_pixels)
    return SampledVideo(frames, indices, total, chosen.__name__)

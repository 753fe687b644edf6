"""File (or decoded frames) -> motion profile -> sampler -> the selected RGB frames, in one call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .decoding import (
    DEFAULT_MIN_DECODED_FRACTION,
    Backend,
    FrameSlots,
    check_min_decoded_fraction,
    decode_frames_with_report,
)
from .frame_reads import DecodeReport, FrameTransform
from .motion import motion_profile_from_frames
from .motion_pass import DEFAULT_MOTION_CACHE_BYTES, MOTION_PROFILE_CACHE, frame_numbers, motion_pass_sample
from .sampling import Mixed, as_generator, get_sampling_strategy
from .sources import RawVideoFormat, VideoSource
from .stream import DEFAULT_MAX_PIXELS, DEFAULT_TIMEOUT, Deadline, as_openable, index_video

COUNTED_FRAME_CONTAINERS = frozenset({"mov"})
"""Containers (FFmpeg's "mov,mp4,m4a,3gp,3g2,mj2" demuxer) whose stated frame count cuts SegMSE segments during
the one-decode motion pass; other containers are indexed first (one demux, ~1-4 % of a decode)."""


@dataclass
class SampledVideo:
    """Frames chosen from one video.

    Args:
        frames (`np.ndarray`): (T, H, W, 3) uint8 RGB.
        indices (`np.ndarray`): the frame indices (presentation order) the frames come from.
        num_frames (`int`): number of frames in the whole video.
        strategy (`str`): name of the strategy actually applied (the drawn one for `Mixed`).
        report (`DecodeReport`): how the frames were read (read mode, substitutions, warnings).
    """

    frames: np.ndarray
    indices: np.ndarray
    num_frames: int
    strategy: str
    report: DecodeReport = field(default_factory=DecodeReport)


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
    transform: FrameTransform | None = None,
    min_decoded_fraction: float = DEFAULT_MIN_DECODED_FRACTION,
    motion_cache_bytes: int = DEFAULT_MOTION_CACHE_BYTES,
    cache_motion: bool = True,
) -> SampledVideo:
    """Select `num_samples` frames of a video with a sampling strategy, decoding the file once.

    Uniform-type strategies decode just the selected frames (verified seeks or one partial pass). MSE-driven ones
    use `motion` when given (e.g. a stored dataset column) or cached for this file; otherwise one pass computes
    the profile and keeps the frames the strategy may choose (:mod:`.motion_pass`), so no second decode is
    needed. Undecodable frames are replaced by the nearest decodable one and reported in `SampledVideo.report`.

    Args:
        video: a path / http(s) URL / bytes / file-like / `{"path", "bytes"}` dict / datasets torchcodec decoder,
            or decoded frames (see :func:`frames_to_array`).
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
        transform (`callable`, *optional*): applied to each chosen (H, W, 3) frame as it is decoded (e.g. the
            processor's resize), so memory never holds full-resolution RGB frames.
        min_decoded_fraction (`float`, *optional*, defaults to 0.5): see :func:`~.decoding.decode_frames`.
        motion_cache_bytes (`int`, *optional*, defaults to 1 GiB): cap on decoded frames the motion pass keeps.
        cache_motion (`bool`, *optional*, defaults to `True`): cache motion profiles per file (path, size, mtime).

    Example:

    ```python
    >>> from qclip_hf.video.reader import sample_video
    >>> sampled = sample_video("clip.mp4", 8, "SegMSEMedian")
    >>> sampled.frames.shape, sampled.indices.tolist()
    ((8, 1080, 1920, 3), [17, 54, 92, 129, 167, 204, 242, 279])
    ```
    """
    check_min_decoded_fraction(min_decoded_fraction)
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
        picked = frames[indices]
        if transform is not None:
            picked = np.stack([transform(frame) for frame in picked])
        report = DecodeReport(frames_requested=len(indices), read_mode="array")
        return SampledVideo(picked, indices, total, chosen.__name__, report)

    openable = as_openable(video, raw_format)
    read_options = dict(
        backend=backend, timeout=timeout, max_pixels=max_pixels, transform=transform,
        min_decoded_fraction=min_decoded_fraction,
    )  # fmt: skip
    cache_key = MOTION_PROFILE_CACHE.key(openable.path, motion_short_side) if cache_motion else None
    if needs_motion and motion is None:
        motion = MOTION_PROFILE_CACHE.get(cache_key)
        if motion is None:  # one pass: profile and frames; the index is built only if the pass needs it
            return _sample_in_motion_pass(
                openable, chosen, num_samples, generator, cache_key, read_options,
                short_side=motion_short_side, cache_bytes=motion_cache_bytes,
            )  # fmt: skip
    index = read_options["index"] = index_video(openable, timeout=timeout, max_pixels=max_pixels)
    total = index.num_frames
    if motion is not None and len(motion) != total:
        # The motion pass counts decoded frames, the index counts packets; trust the decoder when they differ
        # (e.g. a leading packet that decodes to nothing) so indices stay valid for both.
        total = min(total, len(motion))
        motion = np.asarray(motion)[:total]
    indices = chosen(total, num_samples, motion=motion, rng=generator)
    frames, report = decode_frames_with_report(openable, indices, **read_options)
    return SampledVideo(frames, indices, total, chosen.__name__, report)


def _sample_in_motion_pass(
    openable: Any,
    chosen: Callable[..., np.ndarray],
    num_samples: int,
    generator: np.random.Generator,
    cache_key: tuple | None,
    read_options: dict[str, Any],
    *,
    short_side: int,
    cache_bytes: int,
) -> SampledVideo:
    """MSE-driven strategy without a known profile: one pass computes it and keeps the candidate frames.

    The container's own frame count cuts SegMSE segments during the pass; a demux index is built only when the
    container states none, or when a chosen frame was not kept (memory cap) and must be read again.
    """
    timeout, max_pixels = read_options["timeout"], read_options["max_pixels"]
    deadline = Deadline(openable.name, max(timeout, 600.0))
    indexes: list[Any] = []

    def index() -> Any:
        if not indexes:
            indexes.append(index_video(openable, timeout=timeout, max_pixels=max_pixels))
        return indexes[0]

    def expected_frames(stats: Any) -> int:
        # MP4/MOV sample tables count exactly the frames; other containers' counts (AVI: empty packed-B-frame
        # placeholders) may not, and a wrong count costs a second read, so they get the demux index.
        if stats.format_name in COUNTED_FRAME_CONTAINERS and stats.stream_frames:
            return stats.stream_frames
        return index().num_frames

    result = motion_pass_sample(
        openable, chosen, num_samples, generator, deadline, short_side=short_side, max_pixels=max_pixels,
        cache_bytes=cache_bytes, expected_frames=expected_frames,
    )  # fmt: skip
    profile, indices, stats = result.profile, result.chosen, result.stats
    MOTION_PROFILE_CACHE.put(cache_key, profile)
    report = DecodeReport(frames_requested=len(indices), read_mode="sequential")
    if stats.decoder_errors or stats.demux_error:
        report.warnings.append(
            f"{stats.decoder_errors} damaged packet(s) skipped; the motion profile covers the {len(profile)} "
            "decodable frames"
        )
    transform = read_options["transform"]
    requested = [int(i) for i in indices]
    out = FrameSlots(openable.name, requested)
    with result.store as store:
        for i in dict.fromkeys(requested):
            if i in store:
                array = store.to_rgb(i)
                out[i] = transform(array) if transform is not None else array
                del array  # free this RGB frame before the next conversion allocates one (reused, not page-faulted)
    missing = [i for i in dict.fromkeys(requested) if i not in out]
    if missing:
        report.warnings.append(
            f"{len(missing)} chosen frame(s) were not kept by the motion pass (memory cap, or fewer frames decoded "
            "than indexed); read in a second decode"
        )
        video_index = index()
        numbers = frame_numbers(result.pts, video_index)
        targets = [min(numbers[i], video_index.num_frames - 1) for i in missing]
        frames, second = decode_frames_with_report(openable, targets, index=video_index, **read_options)
        for j, i in enumerate(missing):
            out[i] = frames[j]
        report.frames_substituted += second.frames_substituted
        report.warnings.extend(second.warnings)
    return SampledVideo(out.stacked(), np.asarray(indices), len(profile), chosen.__name__, report)

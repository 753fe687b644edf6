"""Step 2 from file to frames: decode selected frames to 8-bit RGB, with PyAV (always) or torchcodec (when installed).

Frame `i` is the `i`-th frame in presentation order. Before decoding, one demux pass (:mod:`.stream`) (no decoding, a few ms
for a 10 s clip) builds a :class:`VideoIndex`: the frame count, each frame's timestamp and the keyframe
positions. From it, :func:`decode_frames` chooses between seeking to each requested frame and one
sequential pass, whichever decodes fewer frames: with a 1 s keyframe interval, seeking decodes about a
third of an 8-frame uniform selection's span; with x264's 250-frame default, seeking would decode
nearly every frame several times over, and one pass wins.

Rotation metadata is applied (as the `ffmpeg` CLI does), and 10-bit, grayscale or other pixel formats are
converted to 8-bit RGB by FFmpeg's scaler. Every failure is a :class:`VideoDecodeError`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from typing import Literal

import av
import numpy as np

from .errors import VideoDecodeError
from .frame_reads import (
    INEXACT_SEEK_CONTAINERS,
    DecodeReport,
    FrameTransform,
    SeekUnreliable,
    seek_read,
    sequential_read,
)
from .sources import OpenableVideo, RawVideoFormat, VideoSource, _ffmpeg_reason
from .stream import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_TIMEOUT,
    Deadline,
    VideoIndex,
    as_openable,
    check_frame,
    frame_to_rgb,
    index_video,
    open_video_stream,
)

DEFAULT_MIN_DECODED_FRACTION = 0.5
"""Below this fraction of requested frames really decoded (the rest substituted), a video is rejected."""

# A seek flushes the decoder, whose frame threads must refill before the first frame comes out: counted as
# this many extra decoded frames when comparing the seek plan with one sequential pass.
SEEK_OVERHEAD_FRAMES = 8

Backend = Literal["auto", "pyav", "torchcodec"]
BACKENDS = ("auto", "pyav", "torchcodec")
ReadMode = Literal["auto", "seek", "sequential"]
READ_MODES = ("auto", "seek", "sequential")


def plan_read_mode(index: VideoIndex, indices: Sequence[int]) -> Literal["seek", "sequential"]:
    """Choose between seeking and one sequential pass by the number of frames each would decode.

    Seeking to frame `t` decodes from the keyframe before `t` to `t` (plus `SEEK_OVERHEAD_FRAMES`), unless the
    decoder is already between that keyframe and `t`, where it just continues. One pass decodes every frame up
    to the last requested one.
    """
    targets = sorted(set(int(i) for i in indices))
    if not targets or index.pts is None:
        return "sequential"
    sequential_cost = targets[-1] + 1
    seek_cost, position = 0, 0  # position: next frame the decoder would output
    for t in targets:
        keyframe = index.keyframes[max(0, bisect.bisect_right(index.keyframes, t) - 1)]
        if keyframe <= position <= t:
            seek_cost += t - position + 1
        else:
            seek_cost += t - keyframe + 1 + SEEK_OVERHEAD_FRAMES
        position = t + 1
    return "seek" if seek_cost < sequential_cost else "sequential"


def iter_pyav_frames(
    video: OpenableVideo,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    thread_type: str = "AUTO",
) -> Iterator[av.VideoFrame]:
    """Decode every frame of `video` in presentation order (a streaming generator; nothing is kept).

    Decoder errors and a stream that yields no frame raise :class:`VideoDecodeError`.
    """
    deadline = Deadline(video.name, timeout)
    container, stream = open_video_stream(video, timeout, max_pixels)
    stream.thread_type = thread_type
    count = 0
    with container:
        try:
            for packet in container.demux(stream):
                deadline.check()
                if packet.is_corrupt:
                    raise VideoDecodeError(
                        video.name, f"truncated or corrupt stream: incomplete packet after frame {count}"
                    )
                for frame in packet.decode():
                    check_frame(video.name, frame, max_pixels)
                    count += 1
                    yield frame
        except av.FFmpegError as err:
            raise VideoDecodeError(video.name, f"corrupt or truncated stream ({_ffmpeg_reason(err)})") from err
    if count == 0:
        raise VideoDecodeError(video.name, "zero readable frames: no packet decoded to a frame")


def _decode_torchcodec(video: OpenableVideo, targets: list[int]) -> dict[int, np.ndarray]:
    try:
        from torchcodec.decoders import VideoDecoder
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("backend='torchcodec' needs `pip install torchcodec`") from err
    if video.raw_format is not None:
        raise ValueError("backend='torchcodec' cannot read raw .yuv input; use backend='pyav'")
    try:
        # num_ffmpeg_threads=0 lets FFmpeg pick (datasets' default of 1 thread is about 1.5x slower).
        decoder = VideoDecoder(
            video.torchcodec_source(), dimension_order="NHWC", num_ffmpeg_threads=0, seek_mode="exact"
        )
        batch = decoder.get_frames_at(indices=targets).data.numpy()
    except (RuntimeError, ValueError, IndexError) as err:
        raise VideoDecodeError(video.name, f"torchcodec failed ({str(err).splitlines()[0][:300]})") from err
    return {t: batch[j] for j, t in enumerate(targets)}


def decode_frames_with_report(
    source: VideoSource | OpenableVideo,
    indices: Sequence[int],
    *,
    backend: Backend = "auto",
    read_mode: ReadMode = "auto",
    raw_format: RawVideoFormat | dict | None = None,
    index: VideoIndex | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    transform: FrameTransform | None = None,
    min_decoded_fraction: float = DEFAULT_MIN_DECODED_FRACTION,
) -> tuple[np.ndarray, DecodeReport]:
    """:func:`decode_frames`, also returning the :class:`~.frame_reads.DecodeReport` of the read.

    Frames that cannot be decoded are replaced by the nearest decodable frame (see :mod:`.frame_reads`); when the
    fraction of requested frames actually decoded is below `min_decoded_fraction`, :class:`VideoDecodeError`.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if read_mode not in READ_MODES:
        raise ValueError(f"read_mode must be one of {READ_MODES}, got {read_mode!r}")
    check_min_decoded_fraction(min_decoded_fraction)
    video = as_openable(source, raw_format)
    if index is None:
        index = index_video(video, timeout=timeout, max_pixels=max_pixels)
    requested = [int(i) for i in indices]
    if not requested:
        raise ValueError("indices must not be empty")
    bad = [i for i in requested if not 0 <= i < index.num_frames]
    if bad:
        raise ValueError(f"indices {bad[:5]} out of range for a video of {index.num_frames} frames ({video.name})")
    targets = sorted(set(requested))
    report = DecodeReport(frames_requested=len(requested))
    substitutes: dict[int, int] = {}
    if backend == "torchcodec":
        frames = _decode_torchcodec(video, targets)
        if transform is not None:
            frames = {t: transform(f) for t, f in frames.items()}
        report.read_mode = "seek"
    else:
        frames, substitutes = _decode_pyav(video, index, requested, read_mode, timeout, max_pixels, transform, report)
    if substitutes:
        report.frames_substituted = sum(1 for i in requested if i in substitutes)
        pairs = ", ".join(f"{t}<-{s}" for t, s in list(substitutes.items())[:8])
        report.warnings.append(
            f"{len(substitutes)} of {len(targets)} requested frames could not be decoded and were replaced by the "
            f"nearest decodable frame ({pairs}{', ...' if len(substitutes) > 8 else ''})"
        )
    if report.decoded_fraction < min_decoded_fraction:
        raise VideoDecodeError(
            video.name,
            f"only {report.frames_requested - report.frames_substituted} of {report.frames_requested} requested "
            f"frames could be decoded (minimum fraction {min_decoded_fraction:g}; the file is damaged)",
        )
    if not isinstance(frames, FrameSlots):
        slots = FrameSlots(video.name, requested)
        slots.update(frames)
        frames = slots
    return frames.stacked(), report


class FrameSlots(dict):
    """`{frame number: frame}` that stores each frame straight into its slot of the preallocated output array
    (allocated at the first frame), so decoding N frames holds one copy of them, never a dict plus a stack."""

    def __init__(self, name: str, requested: list[int]) -> None:
        super().__init__()
        self.name, self.requested = name, requested
        self.first_slot: dict[int, int] = {}
        for j, t in enumerate(requested):
            self.first_slot.setdefault(t, j)
        self.array: np.ndarray | None = None

    def __setitem__(self, t: int, frame: np.ndarray) -> None:
        if self.array is None:
            self.array = np.empty((len(self.requested), *frame.shape), dtype=frame.dtype)
        if frame.shape != self.array.shape[1:]:
            raise VideoDecodeError(
                self.name,
                f"frame size changes mid-stream ({frame.shape[1]}x{frame.shape[0]} after "
                f"{self.array.shape[2]}x{self.array.shape[1]}); pass a resizing transform (the processor does)",
            )
        slot = self.first_slot[t]
        self.array[slot] = frame
        super().__setitem__(t, self.array[slot])

    def update(self, other: dict[int, np.ndarray]) -> None:  # type: ignore[override]
        for t, frame in other.items():
            self[t] = frame

    def stacked(self) -> np.ndarray:
        """The (T, ...) output in `requested` order (repeats copied from their first slot)."""
        for j, t in enumerate(self.requested):
            if self.first_slot[t] != j:
                self.array[j] = self.array[self.first_slot[t]]
        return self.array


def check_min_decoded_fraction(value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"min_decoded_fraction must be a number in [0, 1], got {value!r}")


def _decode_pyav(
    video: OpenableVideo,
    index: VideoIndex,
    requested: list[int],
    read_mode: str,
    timeout: float,
    max_pixels: int,
    transform: FrameTransform | None,
    report: DecodeReport,
) -> tuple[dict[int, np.ndarray], dict[int, int]]:
    """Seek (verified) or one pass; unreliable seeking switches to the pass for the frames still missing."""

    def convert(frame: av.VideoFrame) -> np.ndarray:
        array = frame_to_rgb(frame)
        return transform(array) if transform is not None else array

    targets = sorted(set(requested))
    deadline = Deadline(video.name, timeout)
    mode = plan_read_mode(index, targets) if read_mode == "auto" else read_mode
    if mode == "seek" and (index.pts is None or index.format_name in INEXACT_SEEK_CONTAINERS):
        mode = "sequential"  # known beforehand (no timestamps, or AVI's decode-order ones): no warning needed
    out = FrameSlots(video.name, requested)
    count_frames = False
    if mode == "seek":
        try:
            seek_read(video, index, targets, deadline, out, convert=convert, max_pixels=max_pixels)
            report.read_mode = "seek"
            return out, {}
        except SeekUnreliable as why:
            report.warnings.append(f"seeking is unreliable in this file ({why}); read in one sequential pass")
            if why.out_of_order:  # timestamps cannot number frames here: count, and redo what seeks found
                count_frames = True
                out = FrameSlots(video.name, requested)
    report.read_mode = "sequential"
    missing = [t for t in targets if t not in out]
    substitutes, stats = sequential_read(
        video, index, missing, deadline, out, convert=convert, max_pixels=max_pixels, count_frames=count_frames
    )
    if stats.decoder_errors:
        report.warnings.append(f"the decoder rejected {stats.decoder_errors} damaged packet(s)")
    if stats.demux_error:
        report.warnings.append(f"the container is damaged ({stats.demux_error}); frames after it are unreadable")
    return out, substitutes


def decode_frames(
    source: VideoSource | OpenableVideo,
    indices: Sequence[int],
    *,
    backend: Backend = "auto",
    read_mode: ReadMode = "auto",
    raw_format: RawVideoFormat | dict | None = None,
    index: VideoIndex | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    transform: FrameTransform | None = None,
    min_decoded_fraction: float = DEFAULT_MIN_DECODED_FRACTION,
) -> np.ndarray:
    """Decode the frames at `indices` (presentation order; repeats allowed) as a (T, H, W, 3) uint8 RGB array.

    Args:
        source (`VideoSource`): path, http(s) URL, bytes, binary file-like object, `{"path", "bytes"}` dict, or
            the torchcodec decoder a 🤗 datasets `Video` column yields.
        indices (`Sequence[int]`): frame indices in `[0, num_frames)`; output follows their order.
        backend (`str`, *optional*, defaults to `"auto"`): `"pyav"`, `"torchcodec"`, or `"auto"` (PyAV, whose
            seek-or-pass choice is the fastest measured here; see docs/video.md).
        read_mode (`str`, *optional*, defaults to `"auto"`): PyAV only: `"seek"`, `"sequential"`, or `"auto"`
            (:func:`plan_read_mode`). Seeks are verified; a stream that seeks inexactly is read in one pass.
        raw_format (`RawVideoFormat` or `dict`, *optional*): geometry of raw `.yuv` input.
        index (`VideoIndex`, *optional*): a precomputed index, to skip the demux pass.
        timeout (`float`, *optional*): seconds after which the pass is abandoned with :class:`VideoDecodeError`.
        max_pixels (`int`, *optional*): largest frame size accepted.
        transform (`callable`, *optional*): applied to each decoded (H, W, 3) frame at once (e.g. a resize to the
            model's input size), so memory holds only transformed frames.
        min_decoded_fraction (`float`, *optional*, defaults to 0.5): undecodable frames are replaced by the
            nearest decodable one; below this fraction of really decoded frames, :class:`VideoDecodeError`.

    Example:

    ```python
    >>> from qclip_hf.video.decoding import decode_frames
    >>> decode_frames("clip.mp4", [0, 150, 299]).shape
    (3, 1080, 1920, 3)
    ```
    """
    frames, _ = decode_frames_with_report(
        source,
        indices,
        backend=backend,
        read_mode=read_mode,
        raw_format=raw_format,
        index=index,
        timeout=timeout,
        max_pixels=max_pixels,
        transform=transform,
        min_decoded_fraction=min_decoded_fraction,
    )
    return frames

"""Step 1 from file to frames: open a video's stream and index it (one demux pass, nothing decoded).

The path from a file to the frames the model sees, one module a step (each imports only the steps before it):

1. `stream` (this module): open the container and its video stream, refuse what is not a video, index the
   packets (frame count, timestamps, keyframes), and the per-frame checks and RGB conversion every read uses;
2. `decoding`: decode the requested frames, choosing between the two reads of `frame_reads` by their cost;
3. `frame_reads`: verified seeks, or one fault-tolerant sequential pass with nearest-frame substitution;
4. `motion` / `motion_pass`: the motion profile (paper eq. 13), in the same single pass that keeps the candidates
   of the MSE-driven strategies;
5. `sampling`: the seven strategies that pick the frames; `reader.sample_video` runs the steps in this order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import av
import numpy as np

from .errors import VideoDecodeError
from .sources import OpenableVideo, RawVideoFormat, VideoSource, _ffmpeg_reason

DEFAULT_TIMEOUT = 120.0
"""Seconds a single index / decode / motion pass may take before it is abandoned with an error."""

DEFAULT_MAX_PIXELS = 8192 * 8192
"""Largest frame (width x height) accepted; a header claiming more is treated as corrupt."""


@dataclass(frozen=True)
class VideoIndex:
    """What one demux pass tells about a video's video stream.

    Args:
        num_frames (`int`): number of frames (video packets; every packet of the supported codecs is one frame).
        width (`int`), height (`int`): coded frame size, before rotation.
        fps (`float` or `None`): average frame rate, if the container states one.
        pts (`tuple[int, ...]` or `None`): presentation timestamps in presentation order (stream time base), or
            `None` when the container has none (then only sequential reads are possible).
        keyframes (`tuple[int, ...]`): presentation-order indices of the keyframes (seek targets).
        codec (`str`): decoder name.
        format_name (`str`): the container's (first) FFmpeg format name, e.g. `"avi"`, `"mov"`.
    """

    num_frames: int
    width: int
    height: int
    fps: float | None
    pts: tuple[int, ...] | None
    keyframes: tuple[int, ...]
    codec: str
    format_name: str = ""

    @property
    def keyframe_interval(self) -> float:
        """Mean distance between keyframes in frames (the GOP length)."""
        return self.num_frames / max(1, len(self.keyframes))


def as_openable(source: VideoSource | OpenableVideo, raw_format: RawVideoFormat | dict | None = None) -> OpenableVideo:
    """Normalise any accepted input (including a 🤗 datasets torchcodec decoder) to an :class:`OpenableVideo`."""
    if isinstance(source, OpenableVideo):
        return source
    encoded = getattr(source, "_hf_encoded", None)  # datasets.Video(decode=True) yields decoders carrying this
    if encoded is not None:
        source = encoded
    return OpenableVideo(source, raw_format=raw_format)


def open_video_stream(
    video: OpenableVideo, timeout: float = DEFAULT_TIMEOUT, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open `video` and return its first video stream, rejecting audio-only files and absurd frame sizes."""
    container = video.open(timeout=timeout)
    try:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams})
            reason = "audio-only file: no video stream" if "audio" in kinds else f"no video stream (streams: {kinds})"
            raise VideoDecodeError(video.name, reason)
        if container.format.name == "image2" or container.format.name.endswith("_pipe"):
            # A single still image (PNG, JPEG, ...) opens as a one-frame "video"; it is not one.
            raise VideoDecodeError(video.name, f"not a video: a still image ({container.format.name})")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise VideoDecodeError(video.name, f"invalid frame size {width}x{height} in the header")
        if width * height > max_pixels:
            raise VideoDecodeError(
                video.name, f"absurd frame size {width}x{height} in the header (limit {max_pixels} pixels)"
            )
    except BaseException:
        container.close()
        raise
    return container, stream


class Deadline:
    """Bounded time for a pass: checked between packets, so a slow or looping stream cannot hang a worker."""

    def __init__(self, name: str, timeout: float) -> None:
        self.name, self.timeout, self.end = name, timeout, time.monotonic() + timeout

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise VideoDecodeError(self.name, f"decoding took longer than the {self.timeout:g} s time limit")


def index_video(
    source: VideoSource | OpenableVideo,
    *,
    raw_format: RawVideoFormat | dict | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> VideoIndex:
    """Build the :class:`VideoIndex` of a video with one demux pass (packets are read, not decoded).

    Example:

    ```python
    >>> from qclip_hf.video.stream import index_video
    >>> index = index_video("clip.mp4")
    >>> index.num_frames, index.keyframe_interval
    (300, 30.0)
    ```
    """
    video = as_openable(source, raw_format)
    deadline = Deadline(video.name, timeout)
    container, stream = open_video_stream(video, timeout, max_pixels)
    with container:
        fps = float(stream.average_rate) if stream.average_rate else None
        width, height, codec = stream.codec_context.width, stream.codec_context.height, stream.codec_context.name
        format_name = container.format.name.split(",")[0]
        if video.raw_format is not None:
            n = video.raw_num_frames  # whole frames only; headerless data has no packets to trust beyond that
            return VideoIndex(n, width, height, fps, None, tuple(range(n)), codec, format_name)
        pts_list: list[int | None] = []
        key_pts: list[int | None] = []
        try:
            for packet in container.demux(stream):
                deadline.check()
                if packet.size == 0:
                    continue
                # A corrupt (e.g. cut) packet still stands for a frame: the read substitutes it if it fails to decode.
                pts = packet.pts if packet.pts is not None else packet.dts
                pts_list.append(pts)
                if packet.is_keyframe:
                    key_pts.append(pts)
        except av.FFmpegError as err:
            if not pts_list:
                raise VideoDecodeError(video.name, f"truncated or corrupt container ({_ffmpeg_reason(err)})") from err
            # Cut or damaged after some packets: index what was read; the frames after are not addressable.
    if not pts_list:
        raise VideoDecodeError(video.name, "zero readable frames: the video stream has no packets")
    if any(p is None for p in pts_list) or len(set(pts_list)) != len(pts_list):
        # No usable timestamps: frames can only be addressed by counting, i.e. by sequential reads.
        return VideoIndex(len(pts_list), width, height, fps, None, (0,), codec, format_name)
    order = sorted(pts_list)
    rank = {p: i for i, p in enumerate(order)}
    keyframes = tuple(sorted(rank[p] for p in key_pts)) or (0,)
    return VideoIndex(len(order), width, height, fps, tuple(order), keyframes, codec, format_name)


def frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a decoded frame, 8-bit whatever the source depth, with rotation applied."""
    array = frame.to_ndarray(format="rgb24")
    return rotate_for_display(array, frame.rotation)


def rotate_for_display(array: np.ndarray, rotation: float | int | None) -> np.ndarray:
    """Apply display-matrix rotation (degrees counter-clockwise, as PyAV reports it) to (H, W, ...) arrays."""
    quarter_turns = int(round((rotation or 0) / 90.0)) % 4
    if quarter_turns == 0:
        return array
    return np.ascontiguousarray(np.rot90(array, k=quarter_turns))


def check_frame(name: str, frame: av.VideoFrame, max_pixels: int) -> None:
    """Refuse a decoded frame whose size is absurd (a damaged stream can change size mid-way)."""
    if frame.width * frame.height > max_pixels or frame.width <= 0 or frame.height <= 0:
        raise VideoDecodeError(name, f"absurd decoded frame size {frame.width}x{frame.height}")

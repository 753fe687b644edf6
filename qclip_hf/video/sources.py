"""Video inputs: paths, bytes, file-like objects and raw `.yuv` files, opened as PyAV containers.

Everything that can go wrong *before* a decoder runs (missing file, directory, empty file, raw file without
its geometry, a container FFmpeg cannot open) is turned into a :class:`VideoDecodeError` here.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any, BinaryIO

import av

from .errors import VideoDecodeError

VideoSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO | dict
"""A video: a path, its bytes, a binary file-like object, or a 🤗 datasets `Video(decode=False)` dict
(`{"path": ..., "bytes": ...}`)."""

# Bytes per pixel of the raw layouts the datasets use (LIVE-Qualcomm: yuv420p). The value only serves
# to compute frame sizes and to reject files that are not a whole number of frames.
RAW_BYTES_PER_PIXEL: dict[str, float] = {
    "yuv420p": 1.5,
    "nv12": 1.5,
    "nv21": 1.5,
    "yuv422p": 2.0,
    "yuyv422": 2.0,
    "uyvy422": 2.0,
    "yuv444p": 3.0,
    "yuv420p10le": 3.0,
    "gray": 1.0,
    "rgb24": 3.0,
    "bgr24": 3.0,
}


@dataclass(frozen=True)
class RawVideoFormat:
    """Geometry of a headerless raw video (`.yuv`), which a decoder cannot guess.

    Args:
        width (`int`): frame width in pixels.
        height (`int`): frame height in pixels.
        pixel_format (`str`, *optional*, defaults to `"yuv420p"`): FFmpeg pixel format name, one of
            `RAW_BYTES_PER_PIXEL`.
        fps (`float`, *optional*, defaults to `30.0`): frame rate (only used for timestamps).

    Example:

    ```python
    >>> from qclip_hf.video.sources import RawVideoFormat
    >>> fmt = RawVideoFormat(1920, 1080)  # LIVE-Qualcomm
    >>> fmt.frame_bytes
    3110400
    ```
    """

    width: int
    height: int
    pixel_format: str = "yuv420p"
    fps: float = 30.0

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"RawVideoFormat.{name} must be a positive int, got {value!r}")
        if self.pixel_format not in RAW_BYTES_PER_PIXEL:
            raise ValueError(
                f"RawVideoFormat.pixel_format must be one of {sorted(RAW_BYTES_PER_PIXEL)}, got {self.pixel_format!r}"
            )
        if not self.fps > 0:
            raise ValueError(f"RawVideoFormat.fps must be > 0, got {self.fps!r}")

    @property
    def frame_bytes(self) -> int:
        return int(round(self.width * self.height * RAW_BYTES_PER_PIXEL[self.pixel_format]))

    @classmethod
    def from_any(cls, value: RawVideoFormat | dict[str, Any] | None) -> RawVideoFormat | None:
        """Accept a `RawVideoFormat`, a dict of its fields (as stored in JSON configs) or `None`."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = set(value) - {"width", "height", "pixel_format", "fps"}
            if unknown:
                raise ValueError(
                    f"raw_format has unknown keys {sorted(unknown)}; allowed: width, height, pixel_format, fps"
                )
            return cls(**value)
        raise ValueError(f"raw_format must be a RawVideoFormat, a dict or None, got {type(value).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "pixel_format": self.pixel_format, "fps": self.fps}

    @classmethod
    def parse(cls, text: str) -> RawVideoFormat:
        """Parse `"WIDTHxHEIGHT[:PIX_FMT[:FPS]]"` (the CLI's and training's `--raw_format`).

        Example:

        ```python
        >>> RawVideoFormat.parse("1920x1080:yuv420p:25")
        RawVideoFormat(width=1920, height=1080, pixel_format='yuv420p', fps=25.0)
        >>> RawVideoFormat.parse("640x480").pixel_format
        'yuv420p'
        ```
        """
        usage = "expected WIDTHxHEIGHT[:PIX_FMT[:FPS]], e.g. 1920x1080 or 1920x1080:yuv420p:30"
        parts = str(text).strip().split(":")
        if not 1 <= len(parts) <= 3:
            raise ValueError(f"raw format {text!r}: {usage}")
        size = parts[0].lower().split("x")
        if len(size) != 2 or not all(p.strip().isdigit() for p in size):
            raise ValueError(f"raw format {text!r}: {usage}")
        options: dict[str, Any] = {"width": int(size[0]), "height": int(size[1])}
        if len(parts) > 1 and parts[1]:
            options["pixel_format"] = parts[1].strip()
        if len(parts) > 2:
            try:
                options["fps"] = float(parts[2])
            except ValueError:
                raise ValueError(f"raw format {text!r}: FPS {parts[2]!r} is not a number; {usage}") from None
        return cls(**options)


class OpenableVideo:
    """A normalised video input that can be opened (several times) as a PyAV container.

    Checks what can be checked without a decoder (existence, type, size) on construction.

    Args:
        source (`VideoSource`): path, bytes, binary file-like object, or `{"path", "bytes"}` dict.
        raw_format (`RawVideoFormat`, *optional*): geometry for headerless `.yuv` input. Required for
            files ending in `.yuv`; when given, the input is read as raw video whatever its name.

    Example:

    ```python
    >>> from qclip_hf.video.sources import OpenableVideo
    >>> OpenableVideo("missing.mp4")
    Traceback (most recent call last):
    ...
    qclip_hf.video.errors.VideoDecodeError: cannot decode video 'missing.mp4': file not found
    ```
    """

    def __init__(self, source: VideoSource, raw_format: RawVideoFormat | dict | None = None) -> None:
        self.raw_format = RawVideoFormat.from_any(raw_format)
        self.path: str | None = None
        self.url: str | None = None
        self._bytes: bytes | None = None
        self._fileobj: BinaryIO | None = None
        if isinstance(source, dict):
            # 🤗 datasets Video(decode=False) / Image-style storage dicts: bytes win over path, as in datasets.
            if source.get("bytes") is not None:
                source = source["bytes"]
            elif source.get("path") is not None:
                source = source["path"]
            else:
                raise VideoDecodeError("<dict>", "dict input needs a 'path' or 'bytes' entry")
        if isinstance(source, str) and is_url(source):
            # Opened by FFmpeg's own network protocols; errors surface when the container is opened.
            self.path = self.url = source
            self.name = source
        elif isinstance(source, (str, os.PathLike)):
            self.path = os.fspath(source)
            self.name = self.path
            self._check_path()
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self._bytes = bytes(source)
            self.name = f"<bytes: {len(self._bytes)}>"
            if not self._bytes:
                raise VideoDecodeError(self.name, "input is empty (0 bytes)")
        elif hasattr(source, "read"):
            self.name = getattr(source, "name", None) or "<file-like>"
            if not isinstance(self.name, str):
                self.name = "<file-like>"
            if hasattr(source, "seekable") and source.seekable():
                self._fileobj = source
            else:
                # Several passes (index, motion, frames) need to rewind: buffer non-seekable streams once.
                self._bytes = source.read()
            if self._size() == 0:
                raise VideoDecodeError(self.name, "input is empty (0 bytes)")
        else:
            raise VideoDecodeError(
                f"<{type(source).__name__}>",
                "unsupported input type; pass a path, bytes, a binary file-like object or a {'path', 'bytes'} dict",
            )
        if self.raw_format is None and self.name.lower().endswith(".yuv"):
            raise VideoDecodeError(
                self.name,
                "raw .yuv input has no header; pass raw_format=RawVideoFormat(width, height, pixel_format)",
            )
        if self.raw_format is not None and self.url is not None:
            raise VideoDecodeError(
                self.name, "raw (headerless) video over http(s) is not supported; download it first"
            )
        if self.raw_format is not None:
            size = self._size()
            if size < self.raw_format.frame_bytes:
                raise VideoDecodeError(
                    self.name,
                    f"raw input of {size} bytes is shorter than one {self.raw_format.width}x{self.raw_format.height} "
                    f"{self.raw_format.pixel_format} frame ({self.raw_format.frame_bytes} bytes)",
                )
            if size % self.raw_format.frame_bytes:
                frames, extra = divmod(size, self.raw_format.frame_bytes)
                raise VideoDecodeError(
                    self.name,
                    f"raw input of {size} bytes is not a whole number of {self.raw_format.width}x"
                    f"{self.raw_format.height} {self.raw_format.pixel_format} frames ({self.raw_format.frame_bytes} "
                    f"bytes each: {frames} frames + {extra} bytes); check the raw format's size and pixel format",
                )

    def _check_path(self) -> None:
        if not os.path.exists(self.path):
            raise VideoDecodeError(self.name, "file not found")
        if os.path.isdir(self.path):
            raise VideoDecodeError(self.name, "path is a directory, not a video file")
        if not os.path.isfile(self.path):
            raise VideoDecodeError(self.name, "path is not a regular file")
        if os.path.getsize(self.path) == 0:
            raise VideoDecodeError(self.name, "file is empty (0 bytes)")

    def _size(self) -> int:
        if self.url is not None:
            return -1  # unknown without a request
        if self.path is not None:
            return os.path.getsize(self.path)
        if self._bytes is not None:
            return len(self._bytes)
        position = self._fileobj.tell()
        end = self._fileobj.seek(0, io.SEEK_END)
        self._fileobj.seek(position)
        return end

    @property
    def raw_num_frames(self) -> int | None:
        """Frame count of raw input (whole frames only), `None` for containers."""
        if self.raw_format is None:
            return None
        return self._size() // self.raw_format.frame_bytes

    def torchcodec_source(self) -> str | bytes | BinaryIO:
        """What `torchcodec.decoders.VideoDecoder` accepts for this input."""
        if self.path is not None:
            return self.path
        if self._bytes is not None:
            return self._bytes
        self._fileobj.seek(0)
        return self._fileobj

    def open(self, timeout: float | None = None) -> av.container.InputContainer:
        """Open a fresh PyAV input container positioned at the start."""
        if self.path is not None:
            target: Any = self.path
        elif self._bytes is not None:
            target = io.BytesIO(self._bytes)
        else:
            self._fileobj.seek(0)
            target = self._fileobj
        kwargs: dict[str, Any] = {"mode": "r"}
        if timeout is not None:
            kwargs["timeout"] = timeout
        if self.raw_format is not None:
            kwargs["format"] = "rawvideo"
            kwargs["options"] = {
                "video_size": f"{self.raw_format.width}x{self.raw_format.height}",
                "pixel_format": self.raw_format.pixel_format,
                "framerate": str(self.raw_format.fps),
            }
        try:
            return av.open(target, **kwargs)
        except av.FFmpegError as err:
            raise VideoDecodeError(self.name, f"not a readable video container ({_ffmpeg_reason(err)})") from err
        except (OSError, ValueError) as err:
            raise VideoDecodeError(self.name, f"cannot open ({err})") from err


URL_SCHEMES = ("http://", "https://")
"""Network sources opened by FFmpeg (and torchcodec) directly."""


def is_url(source: Any) -> bool:
    """Whether `source` is an http(s) URL string."""
    return isinstance(source, str) and source.lower().startswith(URL_SCHEMES)


def _ffmpeg_reason(err: Exception) -> str:
    """FFmpeg's message without the file name PyAV appends (we already name the file)."""
    message = str(getattr(err, "strerror", None) or err).strip()
    if isinstance(err, av.error.ExitError):
        # PyAV's I/O timeout interrupts FFmpeg with AVERROR_EXIT.
        return f"I/O exceeded the time limit: {message}"
    return message

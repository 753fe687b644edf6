"""Per-frame motion profile (Q-CLIP paper, eq. 13) in one streaming pass, storable as a dataset column.

`m_i = (MSE(v_i, v_{i+1}) + MSE(v_i, v_{i-1})) / 2`, the first and last frames using their single neighbour.

The pass decodes every frame but converts none to RGB: by default it reads the decoder's own luma (Y) plane,
subsampled by a stride to about `short_side` pixels on the short edge, so its cost is the decoder's. Only the
previous small frame and one float per frame are kept, so memory does not grow with the video's length
(beyond 4 bytes per frame for the result). `color="rgb"` follows the paper's H x W x 3 definition literally
(an RGB downscale per frame, about 1.5-2x slower); the strategies only use the profile's ordering, which the
luma version preserves for the motion that matters (see docs/video.md).
"""

from __future__ import annotations

from typing import Any, Literal

import av
import numpy as np

from .frame_reads import PassStats, iter_numbered_frames
from .sources import RawVideoFormat, VideoSource
from .stream import DEFAULT_MAX_PIXELS, Deadline, as_openable


class _CountingIndex:
    """Index stand-in for a pass that numbers frames by counting (the profile is indexed by decoded frame)."""

    pts = None


_COUNTING_INDEX = _CountingIndex()

MotionColor = Literal["luma", "rgb"]
MOTION_COLORS = ("luma", "rgb")

# 8-bit formats whose first plane is the luma (or gray) plane: read directly, no conversion.
_LUMA_PLANE_FORMATS = frozenset(
    {
        "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
        "yuv411p", "yuv410p", "yuva420p", "nv12", "nv21", "nv16", "gray",
    }
)  # fmt: skip


def motion_from_neighbour_mse(next_mse: np.ndarray) -> np.ndarray:
    """Eq. 13 from the MSEs between consecutive frames (`next_mse[i] = MSE(v_i, v_{i+1})`, length N-1)."""
    next_mse = np.asarray(next_mse, dtype=np.float64)
    if next_mse.size == 0:
        return np.zeros(1, dtype=np.float32)
    left = np.concatenate([next_mse[:1], next_mse])  # MSE to the previous frame; frame 0 reuses its only neighbour
    right = np.concatenate([next_mse, next_mse[-1:]])  # MSE to the next frame; the last frame likewise
    return ((left + right) / 2.0).astype(np.float32)


def motion_profile_from_frames(frames: np.ndarray | Any) -> np.ndarray:
    """Eq. 13 on already-decoded frames (T, H, W, C) (or (T, H, W)), MSE over all pixels and channels.

    Example:

    ```python
    >>> import numpy as np
    >>> from qclip_hf.video.motion import motion_profile_from_frames
    >>> frames = np.zeros((4, 8, 8, 3), dtype=np.uint8); frames[2] = 10
    >>> motion_profile_from_frames(frames).tolist()
    [0.0, 50.0, 100.0, 100.0]
    ```
    """
    array = np.asarray(frames)
    if array.ndim not in (3, 4) or array.shape[0] == 0:
        raise ValueError(f"frames must be shaped (T, H, W[, C]) with T >= 1, got {array.shape}")
    diffs = [
        float(np.mean((array[i + 1].astype(np.float32) - array[i].astype(np.float32)) ** 2))
        for i in range(array.shape[0] - 1)
    ]
    return motion_from_neighbour_mse(np.asarray(diffs))


def small_grid(frame: av.VideoFrame, short_side: int) -> tuple[int, tuple[int, int]]:
    """The pixel stride and the (width, height) of the subsampled plane the motion MSE is computed on."""
    stride = max(1, min(frame.width, frame.height) // short_side)
    return stride, (max(1, frame.width // stride), max(1, frame.height // stride))


def neighbour_mse(current: np.ndarray, previous: np.ndarray) -> float:
    """MSE between two consecutive subsampled frames."""
    if current.shape != previous.shape:
        # Resolution changes mid-stream (rare, e.g. adaptive streams): compare at the common crop.
        h, w = min(current.shape[0], previous.shape[0]), min(current.shape[1], previous.shape[1])
        current, previous = current[:h, :w], previous[:h, :w]
    return float(np.mean((current - previous) ** 2))


def _small_luma(frame: av.VideoFrame, stride: int, small_size: tuple[int, int], reformatter: Any = None) -> np.ndarray:
    if frame.format.name in _LUMA_PLANE_FORMATS:
        plane = frame.planes[0]
        # The plane buffer rows are `line_size` bytes (padded); view it without a copy, then subsample.
        rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
        return rows[::stride, : plane.width : stride].astype(np.float32)
    # High bit depth / RGB / palette sources: let the scaler produce 8-bit gray at the small size.
    if reformatter is not None:  # a reused scaler context (same output as frame.reformat's fresh one)
        small = reformatter.reformat(frame, width=small_size[0], height=small_size[1], format="gray")
    else:
        small = frame.reformat(width=small_size[0], height=small_size[1], format="gray")
    return small.to_ndarray().astype(np.float32)


class NeighbourMSE:
    """Streaming `MSE(v_{i-1}, v_i)` on the subsampled luma, bit-identical to :func:`_small_luma` +
    :func:`neighbour_mse`, with the per-frame Python work of the one-decode motion pass kept small.

    :meth:`push` only copies the sampled rows of the decoder's luma plane (whole rows: the memory system streams
    them, ~2x faster than a strided gather when the plane is not in this core's cache); :meth:`flush` computes
    the pending MSEs in a few array operations. A float32 sum over each frame's contiguous (h, w) block gives the
    same value as `np.mean` of that block (same pairwise summation, same float64 division by an intp count,
    back to float32): tests/video/test_motion_pass.py compares the profile with :func:`compute_motion_profile`.
    Frames of another format or size take the per-frame path.

    Example:

    ```python
    >>> differ = NeighbourMSE(first_frame, short_side=64)
    >>> values = []
    >>> for frame in frames:
    ...     differ.push(frame)
    ...     if differ.full:
    ...         values += differ.flush()
    >>> values += differ.flush()  # one MSE per frame after the first
    [12.5, 13.0, ...]
    ```
    """

    def __init__(self, first: av.VideoFrame, short_side: int, batch: int = 16) -> None:
        from av.video.reformatter import VideoReformatter

        self.stride, self.small_size = small_grid(first, short_side)
        self._size = (first.width, first.height)
        self._reformatter = VideoReformatter()
        self._batch = batch
        self._rows: np.ndarray | None = None  # (batch, sampled rows, width) uint8
        self._pending: list[int | np.ndarray] = []  # row-buffer slot, or a small float32 frame (other path)
        self._last: np.ndarray | None = None  # small float32 frame before the pending ones
        self._slots = 0  # row-buffer slots in use

    def push(self, frame: av.VideoFrame, planes: tuple | None = None) -> None:
        """Add the next frame; `planes`: `frame.planes` if the caller has them (building them costs ~2 us)."""
        if frame.format.name in _LUMA_PLANE_FORMATS and (frame.width, frame.height) == self._size:
            plane = (planes or frame.planes)[0]
            rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
            sampled = rows[:: self.stride, : plane.width]
            if self._rows is None or self._rows.shape[1:] != sampled.shape:
                self._rows = np.empty((self._batch, *sampled.shape), dtype=np.uint8)
            slot = self._slots
            np.copyto(self._rows[slot], sampled)
            self._pending.append(slot)
            self._slots += 1
        else:
            self._pending.append(_small_luma(frame, self.stride, self.small_size, self._reformatter))

    @property
    def full(self) -> bool:
        """The caller must :meth:`flush` before the next :meth:`push`."""
        return self._slots == self._batch or len(self._pending) >= self._batch

    def flush(self) -> list[float]:
        """MSE of each pending frame with its predecessor (none for the very first frame), in order."""
        pending, self._pending, self._slots = self._pending, [], 0
        if not pending:
            return []
        if all(isinstance(item, int) for item in pending):
            n = len(pending)
            small = np.empty((n + 1, *self._rows.shape[1:2], -(-self._rows.shape[2] // self.stride)), np.float32)
            np.copyto(small[1:], self._rows[:n, :, :: self.stride])
            head: list[float] = []
            if self._last is not None and self._last.shape == small.shape[1:]:
                small[0] = self._last
                first = 0
            else:  # the very first frame, or a size change between batches (that pair as neighbour_mse does)
                head = [] if self._last is None else [neighbour_mse(small[1], self._last)]
                first = 1
            difference = np.subtract(small[first + 1 :], small[first:-1])
            np.square(difference, out=difference)
            count = np.intp(difference.shape[1] * difference.shape[2])
            values = (np.add.reduce(difference, axis=(1, 2)) / count).astype(np.float32)
            self._last = small[n].copy()
            return head + values.tolist()
        # Mixed formats or sizes: one frame at a time, as _small_luma + neighbour_mse.
        out: list[float] = []
        for item in pending:
            current = self._rows[item, :, :: self.stride].astype(np.float32) if isinstance(item, int) else item
            if self._last is not None:
                out.append(neighbour_mse(current, self._last))
            self._last = current
        return out


def compute_motion_profile(
    source: VideoSource,
    *,
    short_side: int = 64,
    color: MotionColor = "luma",
    raw_format: RawVideoFormat | dict | None = None,
    timeout: float = 600.0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Motion score of every frame (paper eq. 13) in one streaming pass at reduced resolution.

    Args:
        source (`VideoSource`): path, bytes, file-like, `{"path", "bytes"}` dict or datasets torchcodec decoder.
        short_side (`int`, *optional*, defaults to 64): approximate short edge of the frames the MSE is computed
            on (an integer stride of the decoded size; 1080p -> stride 16 -> 68 x 120).
        color (`str`, *optional*, defaults to `"luma"`): `"luma"` (decoder's Y plane, fastest) or `"rgb"`
            (RGB downscale, the paper's literal H x W x 3).
        raw_format (`RawVideoFormat` or `dict`, *optional*): geometry for raw `.yuv` input.
        timeout (`float`, *optional*, defaults to 600): seconds before the pass is abandoned with an error.
        max_pixels (`int`, *optional*): largest frame size accepted.

    Returns:
        `np.ndarray`: float32 of shape (num_frames,), in 8-bit pixel units squared.

    Example:

    ```python
    >>> from qclip_hf.video.motion import compute_motion_profile
    >>> profile = compute_motion_profile("clip.mp4")
    >>> profile.shape
    (300,)
    ```
    """
    if color not in MOTION_COLORS:
        raise ValueError(f"color must be one of {MOTION_COLORS}, got {color!r}")
    if not isinstance(short_side, int) or short_side < 1:
        raise ValueError(f"short_side must be a positive int, got {short_side!r}")
    video = as_openable(source, raw_format)
    previous: np.ndarray | None = None
    next_mse: list[float] = []
    stride, small_size = 1, (1, 1)
    # Damaged packets are skipped (as in every read): the profile covers the frames that decode.
    deadline = Deadline(video.name, timeout)
    frames = iter_numbered_frames(video, _COUNTING_INDEX, deadline, PassStats(), max_pixels=max_pixels)
    for i, (_, frame) in enumerate(frames):
        if i == 0:
            stride, small_size = small_grid(frame, short_side)
        if color == "luma":
            current = _small_luma(frame, stride, small_size)
        else:
            small = frame.reformat(width=small_size[0], height=small_size[1], format="rgb24")
            current = small.to_ndarray().astype(np.float32)
        if previous is not None:
            next_mse.append(neighbour_mse(current, previous))
        previous = current
    return motion_from_neighbour_mse(np.asarray(next_mse))


def add_motion_profile(
    dataset: Any,
    video_column: str = "video",
    output_column: str = "motion_profile",
    *,
    short_side: int = 64,
    color: MotionColor = "luma",
    raw_format: RawVideoFormat | dict | None = None,
    num_proc: int | None = None,
    **map_kwargs: Any,
) -> Any:
    """Compute the motion profile of every row once and store it as a `Sequence(float32)` column.

    Works on a `datasets.Dataset` whose `video_column` holds paths, `{"path", "bytes"}` dicts or a `Video`
    feature (read undecoded for the pass). The result is cached by 🤗 datasets like any `map`, so training
    epochs pass `motion_profile=row["motion_profile"]` to the samplers instead of decoding every frame again.

    Example:

    ```python
    >>> from datasets import Dataset
    >>> from qclip_hf.video.motion import add_motion_profile
    >>> ds = add_motion_profile(Dataset.from_dict({"video": ["a.mp4", "b.mp4"]}))
    >>> len(ds[0]["motion_profile"])
    300
    ```
    """
    import datasets

    if video_column not in dataset.column_names:
        raise ValueError(f"video_column {video_column!r} not in the dataset's columns {dataset.column_names}")
    feature = dataset.features[video_column]
    restore = None
    if isinstance(feature, datasets.Video) and feature.decode:
        dataset = dataset.cast_column(video_column, datasets.Video(decode=False))
        restore = feature
    raw = RawVideoFormat.from_any(raw_format)

    def _profile(row: dict[str, Any]) -> dict[str, Any]:
        profile = compute_motion_profile(row[video_column], short_side=short_side, color=color, raw_format=raw)
        return {output_column: profile.tolist()}

    features = dataset.features.copy()
    features[output_column] = datasets.Sequence(datasets.Value("float32"))
    dataset = dataset.map(_profile, num_proc=num_proc, features=features, **map_kwargs)
    if restore is not None:
        dataset = dataset.cast_column(video_column, restore)
    return dataset

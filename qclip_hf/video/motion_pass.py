"""Motion-driven sampling in one decode: the motion pass keeps the frames a strategy may still choose.

MSE-driven strategies (MSESortedUNI, SegMSEMean, SegMSEMedian) need the motion profile of the whole video
before they can choose, and used to decode the file twice (profile, then the chosen frames). Here the profile
pass also keeps the candidate frames (YUV, converted to RGB only if chosen; see :mod:`.frame_store` for how:
a few held decoder frames, the rest copied into a warm, capped arena):

- SegMSE*: a segment's pick depends only on the motion inside it. Frames that can no longer be their segment's
  pick are dropped while it is decoded (exact bounds, see :class:`_SegmentCandidates`), and once its motion is
  known (one frame after its end) every frame of it but the pick: memory holds about one segment, held by
  reference (the decoder recycles those buffers segment after segment).
- MSESortedUNI (or any other strategy): the choice depends on the global ranking, so every frame is a candidate
  to the end; each is copied into the arena as it arrives.

No demux index is built first: the container's frame count cuts the SegMSE segments (an index only when it
states none). Copies are capped at `cache_bytes`; a chosen frame not kept (cap reached, or fewer frames decoded
than announced) is read by a second, targeted decode, so the result is always exact. Motion profiles are cached
per file (path, size, mtime) in :data:`MOTION_PROFILE_CACHE`, so a training epoch that re-samples a file
decodes only the frames it chooses.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .frame_reads import FrameTransform, PassStats, iter_numbered_frames, uses_pts_numbering
from .frame_store import RetainedFrames
from .motion import NeighbourMSE, motion_from_neighbour_mse
from .sampling import SegMSEMean, SegMSEMedian, _segment_bounds, _segment_pick

DEFAULT_MOTION_CACHE_BYTES = 1024 * 1024 * 1024
"""Cap on decoded frames the motion pass retains (1 GiB: 10 s of 1080p30 for MSESortedUNI)."""


MOTION_CACHE_DIR_ENV = "QCLIP_HF_MOTION_CACHE_DIR"
"""When set, profiles are also stored as `.npy` files in this directory, shared by DataLoader worker processes
(whose in-process caches are lost every epoch unless `persistent_workers=True`)."""


class MotionProfileCache:
    """LRU cache of motion profiles keyed by (path, size, mtime, short side), in-process and optionally on disk.

    Only path inputs are cached (bytes and file objects have no stable identity). A file rewritten in place
    changes size or mtime, so a stale profile is never used. With `directory` (or the environment variable
    `QCLIP_HF_MOTION_CACHE_DIR`), profiles are also written there, one `.npy` per key, atomically.

    Example:

    ```python
    >>> from qclip_hf.video.motion_pass import MOTION_PROFILE_CACHE
    >>> MOTION_PROFILE_CACHE.clear()
    >>> len(MOTION_PROFILE_CACHE)
    0
    ```
    """

    def __init__(self, max_entries: int = 100_000, directory: str | os.PathLike | None = None) -> None:
        self.max_entries = max_entries
        self.directory = directory
        self._profiles: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def _file(self, key: tuple) -> str | None:
        directory = self.directory or os.environ.get(MOTION_CACHE_DIR_ENV)
        if not directory:
            return None
        import hashlib

        return os.path.join(os.fspath(directory), hashlib.sha1(repr(key).encode()).hexdigest() + ".npy")

    @staticmethod
    def key(path: str | None, short_side: int) -> tuple | None:
        if path is None or "://" in path:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, short_side)

    def get(self, key: tuple | None) -> np.ndarray | None:
        if key is None:
            return None
        if key not in self._profiles:
            path = self._file(key)
            if path is None or not os.path.exists(path):
                return None
            try:
                self._remember(key, np.load(path))
            except (OSError, ValueError):  # a damaged cache file is ignored (and rewritten by the next put)
                return None
        self._profiles.move_to_end(key)
        return self._profiles[key]

    def _remember(self, key: tuple, profile: np.ndarray) -> None:
        self._profiles[key] = np.asarray(profile, dtype=np.float32)
        self._profiles.move_to_end(key)
        while len(self._profiles) > self.max_entries:
            self._profiles.popitem(last=False)

    def put(self, key: tuple | None, profile: np.ndarray) -> None:
        if key is None:
            return
        self._remember(key, profile)
        path = self._file(key)
        if path is not None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            temporary = f"{path}.{os.getpid()}.tmp.npy"
            np.save(temporary, self._profiles[key])
            os.replace(temporary, path)

    def clear(self) -> None:
        self._profiles.clear()

    def __len__(self) -> int:
        return len(self._profiles)


MOTION_PROFILE_CACHE = MotionProfileCache()
"""The process-wide motion-profile cache used by :func:`~.reader.sample_video`."""


class _CountingIndex:
    """Index stand-in: the pass numbers frames by decoder output (the profile is indexed by decoded frame)."""

    pts = None


class _SegmentCandidates:
    """Which frames of the current SegMSE segment can still be its pick, from the motion known so far.

    A segment's pick depends only on the motion inside it. Frames are dropped as soon as no motion of the
    segment's frames still unknown could make them the pick; the rest of the segment is dropped once it is
    complete. Exact: `mean` keeps every frame that is nearest to some possible segment mean (unknown motion is
    >= 0, so the mean is at least the known sum / length; a relative margin of 1e-9 covers rounding), `median`
    every frame whose final rank could still be the lower median.
    """

    def __init__(self, bounds: np.ndarray, statistic: str) -> None:
        self.bounds, self.statistic = [int(b) for b in bounds], statistic  # Python ints: checked every frame
        self.segment, self.values = 0, []

    def needs_motion(self, newest: int, store: RetainedFrames) -> bool:
        """Whether the motion up to frame `newest - 1` is needed now: its segment ended, or frames crowd."""
        return newest >= self.bounds[self.segment + 1] or store.crowded

    def known(self, index: int, value: float, store: RetainedFrames) -> None:
        """Frame `index` (in order) has its final motion `value`: drop the frames that can no longer be picks."""
        last = len(self.bounds) - 2
        a, b = self.bounds[self.segment], self.bounds[self.segment + 1]
        if index >= b or index != a + len(self.values):
            return  # more frames than the container announced: keep them, the final choice decides
        self.values.append(value)
        length = b - a
        if len(self.values) == length and self.segment < last:
            values = np.asarray(self.values, dtype=np.float64)
            pick = a + int(_segment_pick(values, 1, self.statistic)[0])
            for j in range(a, b):
                if j != pick:
                    store.drop(j)
            self.segment, self.values = self.segment + 1, []
            return
        if len(self.values) < 2 or not store.crowded:
            return  # pruning only matters (for memory and copies) once the held frames are about to spill
        values = np.asarray(self.values, dtype=np.float64)
        for j in np.flatnonzero(~self._candidates(values, length)):
            store.drop(a + int(j))

    def _candidates(self, values: np.ndarray, length: int) -> np.ndarray:
        if self.statistic == "median":
            rank = np.empty(values.shape[0], dtype=np.int64)
            rank[np.argsort(values, kind="stable")] = np.arange(values.shape[0])  # ties: earlier frame first
            target, unknown = (length - 1) // 2, length - values.shape[0]
            return (rank <= target) & (target <= rank + unknown)
        low = float(values.sum()) / length
        low -= 1e-9 * abs(low) + 1e-12
        distinct, first = np.unique(values, return_index=True)  # a later equal value never wins argmin
        upper = np.append((distinct[:-1] + distinct[1:]) / 2.0, np.inf)  # right end of each value's region
        keep = np.zeros(values.shape[0], dtype=bool)
        keep[first[upper >= low]] = True
        return keep


DEFAULT_HELD_BYTES = 256 * 1024 * 1024
"""SegMSE passes hold up to a segment of decoder frames by reference, within this many bytes."""


def _held_frames(segments: _SegmentCandidates | None, frame: Any, max_held: int | None, held_bytes: int) -> int:
    """How many decoder frames the pass holds by reference before copying the oldest one.

    Measured on H.264 (docs/performance.md): each frame held beyond the decoder's slack makes its buffer pool
    allocate one more buffer (~1.5 ms per 1080p frame, once per video), while a copy costs ~0.3 ms per frame,
    every frame. SegMSE holds about one segment (the pool's buffers are recycled segment after segment: cheaper
    than copying most frames); MSESortedUNI keeps every frame, so it copies each one as it arrives.
    """
    if max_held is not None:
        return max_held
    if segments is None:
        return 0
    frame_bytes = max(1, sum(plane.buffer_size for plane in frame.planes))
    longest = max(b - a for a, b in zip(segments.bounds[:-1], segments.bounds[1:], strict=True))
    return max(1, min(longest + 2, held_bytes // frame_bytes))


@dataclass
class MotionPassResult:
    """What one motion pass produced: the profile, the choice, and the frames kept for it.

    Args:
        profile (`np.ndarray`): float32 motion of every decoded frame.
        chosen (`np.ndarray`): the strategy's indices into `profile`.
        store (`RetainedFrames`): the kept candidates (close it when done).
        pts (`list`): timestamp of each decoded frame, to number frames for a second read.
        stats (`PassStats`): the pass's counters.
    """

    profile: np.ndarray
    chosen: np.ndarray
    store: RetainedFrames
    pts: list
    stats: PassStats


def motion_pass_sample(
    video: Any,
    strategy: Any,
    num_samples: int,
    generator: np.random.Generator,
    deadline: Any,
    *,
    short_side: int,
    max_pixels: int,
    cache_bytes: int = DEFAULT_MOTION_CACHE_BYTES,
    expected_frames: Callable[[PassStats], int] | None = None,
    max_held: int | None = None,
    held_bytes: int = DEFAULT_HELD_BYTES,
) -> MotionPassResult:
    """One decode: motion profile, the strategy's choice, and the candidate frames still held.

    `expected_frames(stats)` (called once the pass has opened the file) gives the frame count SegMSE segments are
    cut from while decoding; when the decoder yields another count, the final choice uses the decoded count and
    any chosen frame released early is simply not in the store (the caller reads it again).
    """
    segment_stat = {SegMSEMean: "mean", SegMSEMedian: "median"}.get(strategy)
    stats = PassStats()
    store = RetainedFrames(cache_bytes, max_held=0)
    segments: _SegmentCandidates | None = None
    next_mse: list[float] = []
    pts: list = []
    differ: NeighbourMSE | None = None
    try:
        frames = iter_numbered_frames(video, _CountingIndex, deadline, stats, max_pixels=max_pixels)
        for k, (_, frame) in enumerate(frames):
            pts.append(frame.pts)
            if differ is None:
                differ = NeighbourMSE(frame, short_side)
                if segment_stat is not None:
                    expected = expected_frames(stats) if expected_frames is not None else stats.stream_frames
                    expected = expected or 0
                    if expected >= num_samples:
                        segments = _SegmentCandidates(_segment_bounds(expected, num_samples), segment_stat)
                store.max_held = _held_frames(segments, frame, max_held, held_bytes)
            planes = frame.planes  # built once per frame (a few microseconds each time)
            store.keep(k, frame, planes)  # a copy, if any, first: the frame is still in the CPU cache
            differ.push(frame, planes)
            del frame, planes  # the store decides how long this frame's decoder buffer stays referenced
            # MSEs are computed in batches; SegMSE needs them when a segment ends or the held frames crowd.
            if differ.full or (segments is not None and segments.needs_motion(k, store)):
                _absorb(differ.flush(), next_mse, segments, store)
        _absorb(differ.flush() if differ is not None else [], next_mse, segments, store)
        profile = motion_from_neighbour_mse(np.asarray(next_mse))
        chosen = np.asarray(strategy(len(profile), num_samples, motion=profile, rng=generator))
    except BaseException:
        store.close()
        raise
    return MotionPassResult(profile, chosen, store, pts, stats)


def _absorb(values: list[float], next_mse: list[float], segments: _SegmentCandidates | None, store: Any) -> None:
    """Append neighbour MSEs; each makes one more frame's motion final (eq. 13, float32 as in the profile)."""
    for mse in values:
        next_mse.append(mse)
        if segments is not None:  # m_{j-1} is final once d_{j-1} = MSE(v_{j-1}, v_j) is known
            left = next_mse[-2] if len(next_mse) >= 2 else mse
            segments.known(len(next_mse) - 1, float(np.float32((left + mse) / 2.0)), store)


def frame_numbers(pts: list, index: Any) -> list[int]:
    """Stream frame numbers of the decoded frames, as :func:`~.frame_reads.iter_numbered_frames` numbers them."""
    by_pts = uses_pts_numbering(index.format_name, index)
    rank = {p: i for i, p in enumerate(index.pts)} if by_pts else {}
    numbers, last = [], -1
    for p in pts:
        position = rank.get(p) if by_pts else None
        if position is None or position <= last:
            position = last + 1
        numbers.append(position)
        last = position
    return numbers


__all__ = [
    "DEFAULT_HELD_BYTES",
    "DEFAULT_MOTION_CACHE_BYTES",
    "MOTION_CACHE_DIR_ENV",
    "MOTION_PROFILE_CACHE",
    "FrameTransform",
    "MotionPassResult",
    "MotionProfileCache",
    "frame_numbers",
    "motion_pass_sample",
]

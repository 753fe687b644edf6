"""Motion-driven sampling in one decode: the motion pass keeps the frames a strategy may still choose.

MSE-driven strategies (MSESortedUNI, SegMSEMean, SegMSEMedian) need the motion profile of the whole video
before they can choose, and used to decode the file twice (profile, then the chosen frames). Here the profile
pass also retains decoded frames (references to the decoder's YUV frames: 1.5 bytes per pixel, converted to RGB
only if chosen):

- SegMSE*: a segment's pick depends only on the motion inside it, so once a segment's motion is known (one
  frame after its end) every frame of it but the pick is released: memory holds about one segment.
- MSESortedUNI (or any other strategy): the choice depends on the global ranking, so every frame is kept.

Either way the retained frames are capped at `cache_bytes`; past the cap retention stops and the chosen frames
not retained are read by a second, targeted decode (today's behaviour, correct, just slower). Motion profiles
are cached per file (path, size, mtime) in :data:`MOTION_PROFILE_CACHE`, so a training epoch that re-samples a
file decodes only the frames it chooses.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import av
import numpy as np

from .frame_pass import DecodeReport, FrameTransform, PassStats, iter_numbered_frames
from .motion import _small_luma, motion_from_neighbour_mse, neighbour_mse, small_grid
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


def _frame_bytes(frame: av.VideoFrame) -> int:
    return sum(plane.buffer_size for plane in frame.planes)


def motion_pass_sample(
    video: Any,
    index: Any,
    strategy: Any,
    num_samples: int,
    generator: np.random.Generator,
    deadline: Any,
    *,
    short_side: int,
    max_pixels: int,
    cache_bytes: int = DEFAULT_MOTION_CACHE_BYTES,
) -> tuple[np.ndarray, np.ndarray, dict[int, av.VideoFrame], list[int], PassStats]:
    """One decode: motion profile, the strategy's choice, and the retained decoded frames.

    Returns `(profile, chosen indices, {chosen index: retained frame}, frame numbers of the decoded frames,
    stats)`. Indices count decoded frames (as the motion profile does); `numbers[k]` is the stream's number
    of the `k`-th decoded frame, for a second read of chosen frames that were not retained.
    """
    segment_stat = {SegMSEMean: "mean", SegMSEMedian: "median"}.get(strategy)
    expected = index.num_frames
    bounds = _segment_bounds(expected, num_samples) if segment_stat and expected >= num_samples else None
    retained: dict[int, av.VideoFrame] = {}
    retained_bytes, overflow = 0, False
    next_mse: list[float] = []
    numbers: list[int] = []
    previous: np.ndarray | None = None
    stride, small_size = 1, (1, 1)
    segment = 0
    stats = PassStats()
    for k, (number, frame) in enumerate(iter_numbered_frames(video, index, deadline, stats, max_pixels=max_pixels)):
        if k == 0:
            stride, small_size = small_grid(frame, short_side)
        current = _small_luma(frame, stride, small_size)
        if previous is not None:
            next_mse.append(neighbour_mse(current, previous))
        previous = current
        numbers.append(number)
        if not overflow:
            retained[k] = frame
            retained_bytes += _frame_bytes(frame)
        # A segment [a, b) is settled once m_{b-1} is known, i.e. after frame b arrived (next_mse has b entries).
        while bounds is not None and segment < num_samples - 1 and len(next_mse) >= bounds[segment + 1]:
            a, b = bounds[segment], bounds[segment + 1]
            partial = motion_from_neighbour_mse(np.asarray(next_mse))  # exact for every frame before the last seen
            pick = a + int(_segment_pick(partial[a:b], 1, segment_stat)[0])
            for j in range(a, b):
                if j != pick and j in retained:
                    retained_bytes -= _frame_bytes(retained.pop(j))
            segment += 1
        if not overflow and retained_bytes > cache_bytes:
            overflow = True  # stop retaining: the chosen frames not kept are read by a second decode
            retained.clear()
            retained_bytes = 0
    profile = motion_from_neighbour_mse(np.asarray(next_mse))
    chosen = strategy(len(profile), num_samples, motion=profile, rng=generator)
    kept = {int(i): retained[int(i)] for i in np.unique(chosen) if int(i) in retained}
    return profile, np.asarray(chosen), kept, numbers, stats


def frames_from_motion_pass(
    video: Any,
    index: Any,
    chosen: np.ndarray,
    kept: dict[int, av.VideoFrame],
    numbers: list[int],
    report: DecodeReport,
    *,
    convert: Any,
    second_read: Any,
) -> np.ndarray:
    """The chosen frames, converted: from the retained ones, and a targeted read for any not retained."""
    arrays: dict[int, np.ndarray] = {i: convert(frame) for i, frame in kept.items()}
    missing = sorted({int(i) for i in chosen} - set(arrays))
    if missing:
        report.warnings.append(
            f"{len(missing)} chosen frame(s) were not kept by the motion pass (memory cap, or fewer frames decoded than indexed); read in a second decode"
        )
        frames, second = second_read([numbers[i] for i in missing])
        for j, i in enumerate(missing):
            arrays[i] = frames[j]
        report.frames_substituted += second.frames_substituted
        report.warnings.extend(second.warnings)
    return np.stack([arrays[int(i)] for i in chosen])


__all__ = [
    "DEFAULT_MOTION_CACHE_BYTES",
    "MOTION_CACHE_DIR_ENV",
    "MOTION_PROFILE_CACHE",
    "FrameTransform",
    "MotionProfileCache",
    "motion_pass_sample",
]

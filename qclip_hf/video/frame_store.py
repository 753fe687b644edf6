"""Decoded frames a motion pass keeps for later: held decoder frames, then copies in a warm, capped arena.

Why not just keep the `av.VideoFrame` objects. While a frame is referenced, the decoder cannot recycle its
buffer and allocates a fresh one (page faults and zeroing, ~1.5 ms per 1080p frame here: +37 % on a full
decode when every frame is kept). Holding a handful is free (the decoder's pool has slack), and a plain
memory copy of the YUV planes into memory that is already mapped costs ~0.2-0.3 ms per 1080p frame. So a
:class:`RetainedFrames` holds the newest `max_held` candidates by reference and moves older ones into a
:class:`FrameArena`: slots in anonymous memory maps that stay mapped across the videos of a process, so a
folder of videos pays the page faults once, and backed by transparent huge pages where the kernel offers them, so
that once costs ~512x fewer faults (:func:`advise_huge_pages`).

A chosen frame that was copied is rebuilt for conversion by writing its planes into a *template*: a decoded
frame with the same pixel format, size, line sizes, colour space, colour range, transfer, primaries,
interlacing and rotation (one template per such signature, usually one per video). The template carries every
other field FFmpeg's scaler reads (chroma location, ...), so the RGB conversion is bit-identical to converting
the original frame. Frames of an unusual layout (palettes, negative line sizes, more than
`MAX_SIGNATURES` signatures) are only ever held by reference.

Memory bound: the arena never holds more than the caller's cap (`motion_cache_bytes`, 1 GiB by default) and,
between passes, keeps the largest use of the last `KEEP_PASSES` passes (so Mixed training that alternates
strategies does not re-fault); :func:`release_frame_arena` frees it. Held references add at most `max_held`
frames (plus one template per signature) to the decoder's own buffers.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections import deque
from typing import Any

import av
import numpy as np

ARENA_CHUNK_BYTES = 64 * 1024 * 1024
"""Arena memory is mapped in chunks of this size (or one frame, if larger)."""

KEEP_PASSES = 8
"""Between passes the arena keeps the largest peak use of this many most recent passes."""

MAX_SIGNATURES = 16
"""Distinct frame layouts per pass that may be copied (a resolution change is a new layout)."""

DEFAULT_MAX_HELD = 8
"""Decoder frames a pass may hold by reference (measured free up to ~12 on H.264; see the module docstring)."""

# Pixel formats whose planes are all image data (no palette): safe to copy plane by plane and write back.
_COPYABLE_FORMATS = frozenset(
    {
        "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "yuv411p",
        "yuv410p", "yuva420p", "yuva444p", "nv12", "nv21", "nv16", "nv24", "gray", "gray10le", "gray12le",
        "yuv420p10le", "yuv422p10le", "yuv444p10le", "yuv420p12le", "yuv422p12le", "yuv444p12le",
        "yuv420p16le", "yuv444p16le", "p010le", "p016le", "gbrp", "gbrp10le", "gbrp12le",
        "rgb24", "bgr24", "rgba", "bgra", "argb", "abgr", "rgb0", "bgr0",
    }
)  # fmt: skip


class FrameArena:
    """Fixed-size slots in anonymous memory maps, reused across passes (one pass at a time).

    Example:

    ```python
    >>> from qclip_hf.video.frame_store import FrameArena
    >>> arena = FrameArena()
    >>> arena.begin(slot_bytes=1000, cap_bytes=10_000)
    True
    >>> slot = arena.take(); arena.view(slot).shape
    (1000,)
    >>> arena.end(); arena.release()
    ```
    """

    def __init__(self, chunk_bytes: int = ARENA_CHUNK_BYTES) -> None:
        self.chunk_bytes = chunk_bytes
        self._lock = threading.Lock()
        self._chunks: list[tuple[mmap.mmap, np.ndarray]] = []
        self._chunk_size = 0
        self._peaks: deque[int] = deque(maxlen=KEEP_PASSES)
        self.slot_bytes = 0
        self._per_chunk = 1
        self._limit = 0
        self._next = 0
        self._free: list[int] = []

    @property
    def mapped_bytes(self) -> int:
        """Bytes currently mapped (kept warm between passes)."""
        return len(self._chunks) * self._chunk_size

    def begin(self, slot_bytes: int, cap_bytes: int) -> bool:
        """Start a pass with slots of `slot_bytes`, at most `cap_bytes` in use. False if another pass runs."""
        if not self._lock.acquire(blocking=False):
            return False
        chunk = max(self.chunk_bytes, slot_bytes)
        if chunk != self._chunk_size:
            self._unmap(0)
            self._chunk_size = chunk
        self.slot_bytes = slot_bytes
        self._per_chunk = chunk // slot_bytes
        self._limit = max(0, cap_bytes) // slot_bytes
        self._next, self._free = 0, []
        return True

    def take(self) -> int | None:
        """A free slot id, or `None` when the cap is reached."""
        if self._free:
            return self._free.pop()
        if self._next >= self._limit:
            return None
        slot = self._next
        if slot // self._per_chunk >= len(self._chunks):
            self._map_chunk()
        self._next += 1
        return slot

    def give_back(self, slot: int) -> None:
        self._free.append(slot)

    def view(self, slot: int) -> np.ndarray:
        """The slot's bytes as a writable 1-D uint8 array."""
        chunk, index = divmod(slot, self._per_chunk)
        start = index * self.slot_bytes
        return self._chunks[chunk][1][start : start + self.slot_bytes]

    def end(self) -> None:
        """End the pass: keep the largest peak of the recent passes mapped (warm), unmap the rest."""
        self._peaks.append(-(-self._next // self._per_chunk) if self._next else 0)
        self._unmap(max(self._peaks))
        self._next, self._free = 0, []
        self._lock.release()

    def release(self) -> None:
        """Unmap everything (the next pass maps, and page-faults, afresh)."""
        self._unmap(0)
        self._peaks.clear()

    def _map_chunk(self) -> None:
        memory = mmap.mmap(-1, self._chunk_size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        advise_huge_pages(memory)
        self._chunks.append((memory, np.frombuffer(memory, dtype=np.uint8)))

    def _unmap(self, keep: int) -> None:
        while len(self._chunks) > keep:
            memory, array = self._chunks.pop()
            del array
            try:
                memory.close()
            except BufferError:  # a view is still alive somewhere: let the garbage collector unmap it
                pass


def advise_huge_pages(memory: mmap.mmap) -> bool:
    """Ask the kernel to back `memory` with transparent huge pages; whether the hint was accepted.

    The first fill of a fresh chunk is mostly page faults: with 2 MiB pages there are 512x fewer of them, so the
    first motion pass of a process (the arena not yet mapped) costs ~1.2x a full decode instead of ~1.5x
    (docs/performance.md). A hint for these mappings alone (`madvise`, not a process-wide setting); where THP is
    off or the platform has no `MADV_HUGEPAGE` it is ignored and the arena works as before.
    """
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if advice is None:
        return False
    try:
        memory.madvise(advice)
    except OSError:  # THP compiled out of the kernel (EINVAL), or the call is not permitted
        return False
    return True


FRAME_ARENA = FrameArena()
"""The process-wide arena of motion passes (a concurrent pass in another thread gets a private one)."""


def _reset_after_fork() -> None:
    # A DataLoader worker forked while another thread of the parent ran a pass must not inherit a held lock.
    FRAME_ARENA._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def release_frame_arena() -> None:
    """Free the memory the motion passes keep mapped between videos (see :mod:`.frame_store`).

    Example:

    ```python
    >>> from qclip_hf.video.frame_store import release_frame_arena
    >>> release_frame_arena()
    ```
    """
    if FRAME_ARENA._lock.acquire(blocking=False):
        try:
            FRAME_ARENA.release()
        finally:
            FRAME_ARENA._lock.release()


_LOCAL = threading.local()


def _frame_bytes(frame: av.VideoFrame) -> int:
    return sum(plane.buffer_size for plane in frame.planes)


def rgb_reformatter() -> Any:
    """A per-thread `VideoReformatter`: its scaler context is reused, instead of one built per frame."""
    reformatter = getattr(_LOCAL, "reformatter", None)
    if reformatter is None:
        from av.video.reformatter import VideoReformatter

        reformatter = _LOCAL.reformatter = VideoReformatter()
    return reformatter


def _signature(frame: av.VideoFrame, planes: tuple) -> tuple | None:
    """Everything the RGB conversion reads that differs between frames, or None if not copyable."""
    name = frame.format.name
    if name not in _COPYABLE_FORMATS:
        return None
    layout = tuple((plane.line_size, plane.height, plane.buffer_size) for plane in planes)
    if any(line <= 0 for line, _, _ in layout):
        return None
    return (
        name, frame.width, frame.height, layout, frame.colorspace, frame.color_range, frame.color_trc,
        frame.color_primaries, frame.interlaced_frame, frame.rotation,
    )  # fmt: skip


class RetainedFrames:
    """Candidate frames of one pass, by decoded-frame index: newest held by reference, older ones copied.

    Args:
        cap_bytes (`int`): at most this many bytes of copies (plus frames of uncopyable layouts held instead).
        max_held (`int`, *optional*): decoder frames held by reference before the oldest is copied.
        arena (`FrameArena`, *optional*): where copies go (the process-wide one by default).

    A frame that cannot be kept within the cap is not kept (`lost` counts them); the caller reads such a frame
    again if it is chosen. Use as a context manager (the arena is free for the next pass on exit).
    """

    def __init__(self, cap_bytes: int, max_held: int = DEFAULT_MAX_HELD, arena: FrameArena | None = None) -> None:
        self.cap_bytes, self.max_held = cap_bytes, max_held
        self._arena = arena or FRAME_ARENA
        self._arena_ready: bool | None = None  # decided at the first copy
        self.held: dict[int, tuple] = {}  # newest candidates (frame, planes), by reference (insertion order = age)
        self.pinned: dict[int, av.VideoFrame] = {}  # uncopyable layouts, by reference, counted in the cap
        self.copied: dict[int, tuple[int, int]] = {}  # index -> (slot, signature id)
        self._pinned_bytes = 0
        self._signatures: dict[tuple, int] = {}
        self._templates: list[av.VideoFrame] = []
        self._layouts: list[tuple] = []
        self._sizes: list[int] = []
        self.lost = 0

    def __enter__(self) -> RetainedFrames:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.held.clear()
        self.pinned.clear()
        self.copied.clear()
        self._templates.clear()
        if self._arena_ready:
            self._arena.end()
        self._arena_ready = False

    def __contains__(self, index: int) -> bool:
        return index in self.held or index in self.copied or index in self.pinned

    def __len__(self) -> int:
        return len(self.held) + len(self.copied) + len(self.pinned)

    @property
    def crowded(self) -> bool:
        """Whether the next kept frame makes the oldest held one move to the arena."""
        return len(self.held) >= self.max_held

    @property
    def used_bytes(self) -> int:
        return len(self.copied) * self._arena.slot_bytes * bool(self._arena_ready) + self._pinned_bytes

    def keep(self, index: int, frame: av.VideoFrame, planes: tuple | None = None) -> None:
        """Retain `frame` as candidate `index` (held; the oldest held one moves to the arena past `max_held`)."""
        self.held[index] = (frame, planes or frame.planes)
        if len(self.held) > self.max_held:
            oldest = next(iter(self.held))
            self._store(oldest, *self.held.pop(oldest))

    def drop(self, index: int) -> None:
        """`index` can no longer be chosen: free what holds it."""
        if self.held.pop(index, None) is not None:
            return
        entry = self.copied.pop(index, None)
        if entry is not None:
            self._arena.give_back(entry[0])
            return
        frame = self.pinned.pop(index, None)
        if frame is not None:
            self._pinned_bytes -= _frame_bytes(frame)

    def _store(self, index: int, frame: av.VideoFrame, planes: tuple) -> None:
        signature = _signature(frame, planes)
        sid = None if signature is None else self._signatures.get(signature)
        if signature is not None and sid is None and len(self._signatures) < MAX_SIGNATURES:
            sid = self._signatures[signature] = len(self._templates)
            self._templates.append(frame)  # one decoded frame per layout, rewritten at conversion time
            self._layouts.append(signature[3])
            self._sizes.append(sum(plane_size for _, _, plane_size in signature[3]))
        size = None if sid is None else self._sizes[sid]
        if size is not None and self._arena_ready is None:
            self._arena_ready = self._arena.begin(size, self.cap_bytes)
            if not self._arena_ready:  # another thread's pass owns the shared arena: use a private one
                self._arena = FrameArena()
                self._arena_ready = self._arena.begin(size, self.cap_bytes)
        if size is None or size > self._arena.slot_bytes:
            # Uncopyable (palette, odd layout, larger frames after a resolution change): hold it, within the cap.
            nbytes = _frame_bytes(frame)
            if self.used_bytes + nbytes > self.cap_bytes:
                self.lost += 1
                return
            self.pinned[index] = frame
            self._pinned_bytes += nbytes
            return
        slot = self._arena.take() if self.used_bytes + self._arena.slot_bytes <= self.cap_bytes else None
        if slot is None:
            self.lost += 1
            return
        target, offset = self._arena.view(slot), 0
        for plane in planes:
            nbytes = plane.buffer_size
            target[offset : offset + nbytes] = np.frombuffer(plane, dtype=np.uint8, count=nbytes)
            offset += nbytes
        self.copied[index] = (slot, sid)

    def frame(self, index: int) -> av.VideoFrame:
        """The decoded frame `index` (rebuilt in its template when copied; valid until the next call)."""
        if index in self.held:
            return self.held[index][0]
        if index in self.pinned:
            return self.pinned[index]
        slot, sid = self.copied[index]
        # The template is a frame that was itself copied (its pixels are safe in its slot); after the pass it is
        # ours alone, so make_writable() does not copy (it would, safely, while the decoder still shares it).
        template = self._templates[sid]
        template.make_writable()
        source, offset = self._arena.view(slot), 0
        for plane, (line, height, size) in zip(template.planes, self._layouts[sid], strict=True):
            target = np.frombuffer(plane, dtype=np.uint8, count=plane.buffer_size)
            if plane.line_size == line:
                target[:size] = source[offset : offset + size]
            else:  # rows padded differently after make_writable: copy row by row (pixels only)
                width = min(line, plane.line_size)
                rows = target.reshape(height, plane.line_size)
                rows[:, :width] = source[offset : offset + size].reshape(height, line)[:, :width]
            offset += size
        return template

    def to_rgb(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB of frame `index`, as :func:`~.stream.frame_to_rgb` converts it (bit-identical)."""
        from .stream import rotate_for_display  # av-free at import: this module is imported by the pass

        frame = self.frame(index)
        array = rgb_reformatter().reformat(frame, format="rgb24").to_ndarray()
        if index in self.copied and frame.format.name == "rgb24":
            array = array.copy()  # an RGB source converts to itself: a view of the template, rewritten next call
        return rotate_for_display(array, frame.rotation)


__all__ = [
    "FRAME_ARENA",
    "FrameArena",
    "RetainedFrames",
    "advise_huge_pages",
    "release_frame_arena",
    "rgb_reformatter",
]

"""The one-decode motion pass gives exactly what the two-decode path gives: same profile, frames and pixels.

The two-decode path is today's reference: `compute_motion_profile` (one pass), the strategy on that profile,
then `decode_frames` (a second, sequential or seeking read converted with `frame_to_rgb`). The one-decode pass
keeps candidates by reference or as copies in the frame arena and rebuilds copied frames in a template frame
before converting them; every combination must be bit-identical, on 8-bit, 10-bit, odd-width (padded rows) and
resolution-changing streams.
"""

import numpy as np
import pytest

from qclip_hf.video.decoding import decode_frames
from qclip_hf.video.stream import Deadline, as_openable
from qclip_hf.video.frame_store import FRAME_ARENA, FrameArena, RetainedFrames, release_frame_arena
from qclip_hf.video.motion import compute_motion_profile
from qclip_hf.video.motion_pass import MOTION_PROFILE_CACHE, _SegmentCandidates, motion_pass_sample
from qclip_hf.video.reader import sample_video
from qclip_hf.video.sampling import SAMPLING_STRATEGIES, _segment_bounds, _segment_pick

MOTION_STRATEGIES = ["MSESortedUNI", "SegMSEMean", "SegMSEMedian"]


@pytest.fixture(scope="module")
def clips(video_dir, vt, testsrc_video, long_gop_video, pattern_video):
    """Streams of every layout the pass must handle."""
    ten_bit = video_dir / "pass_10bit.mp4"
    vt.ffmpeg("-f", "lavfi", "-i", "testsrc2=size=96x64:rate=30", "-t", 1, "-c:v", "libx264",
              "-pix_fmt", "yuv420p10le", "-g", 10, ten_bit)  # fmt: skip
    odd = video_dir / "pass_odd_width.mp4"  # 150 px rows: the decoder pads them, a fresh frame would not
    vt.ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=150x100:rate=30", "-t", 1, "-c:v", "libx264",
              "-pix_fmt", "yuv420p", "-g", 12, odd)  # fmt: skip
    return {"testsrc": testsrc_video, "long_gop": long_gop_video, "pattern": pattern_video, "10bit": ten_bit,
            "odd_width": odd}  # fmt: skip


def _two_decodes(path, name, transform=None):
    profile = compute_motion_profile(path)
    indices = SAMPLING_STRATEGIES[name](len(profile), 8, motion=profile, rng=np.random.default_rng(0))
    return profile, indices, decode_frames(path, indices, transform=transform)


@pytest.mark.parametrize("max_held", [0, 1000], ids=["copied", "held"])
@pytest.mark.parametrize("name", MOTION_STRATEGIES)
def test_pass_profile_choice_and_pixels_equal_the_two_decode_path(clips, name, max_held):
    for label, path in clips.items():
        profile, indices, frames = _two_decodes(path, name)
        video = as_openable(path)
        result = motion_pass_sample(
            video, SAMPLING_STRATEGIES[name], 8, np.random.default_rng(0), Deadline(video.name, 60),
            short_side=64, max_pixels=1 << 26, max_held=max_held,
        )  # fmt: skip
        with result.store as store:
            assert np.array_equal(result.profile, profile), label  # bit-identical motion, so identical choices
            assert result.chosen.tolist() == indices.tolist(), label
            assert all(int(i) in store for i in indices), label  # nothing needs a second read
            if max_held == 0 and label != "10bit":
                assert store.copied and not store.held, label  # the arena path really ran
            for i, frame in zip(indices, frames, strict=True):
                assert np.array_equal(store.to_rgb(int(i)), frame), (label, int(i))


@pytest.mark.parametrize("name", MOTION_STRATEGIES)
def test_sample_video_frames_unchanged_versus_two_decodes(clips, name):
    """What users call: one decode (no profile cached) equals the two-decode path, frames and indices."""
    for label, path in clips.items():
        MOTION_PROFILE_CACHE.clear()
        _, indices, frames = _two_decodes(path, name)
        one = sample_video(path, 8, name, cache_motion=False)
        assert one.indices.tolist() == indices.tolist(), label
        assert np.array_equal(one.frames, frames), label
        assert not one.report.warnings and one.report.frames_substituted == 0, label


def test_resolution_change_mid_stream(tmp_path, vt):
    """A stream whose frame size changes (new SPS mid-stream): profile and frames as the two-decode path."""
    parts = []
    for size, seconds in (("96x64", 0.6), ("128x96", 0.5), ("64x48", 0.5)):
        part = tmp_path / f"part_{size}.ts"
        vt.ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30", "-t", seconds, "-c:v", "libx264",
                  "-pix_fmt", "yuv420p", "-g", 8, part)  # fmt: skip
        parts.append(part.read_bytes())
    path = tmp_path / "changes.ts"
    path.write_bytes(b"".join(parts))

    def crop(frame):
        return np.ascontiguousarray(frame[:40, :60])

    for name in MOTION_STRATEGIES:
        _, indices, frames = _two_decodes(path, name, transform=crop)
        MOTION_PROFILE_CACHE.clear()
        one = sample_video(path, 8, name, cache_motion=False, transform=crop)
        assert one.indices.tolist() == indices.tolist() and np.array_equal(one.frames, frames), name


@pytest.mark.parametrize("statistic", ["mean", "median"])
def test_segment_pruning_never_drops_the_pick(statistic):
    """Frames are dropped while a segment is still open; on random profiles (with ties) the segment's final pick
    is never among them, whatever the values that arrive later."""

    class Recorder:
        crowded = True  # prune at every frame

        def __init__(self):
            self.dropped = set()

        def drop(self, index):
            self.dropped.add(index)

    rng = np.random.default_rng(7)
    pruned = 0
    for trial in range(300):
        n = int(rng.integers(8, 120))
        if trial % 3 == 0:
            profile = rng.integers(0, 4, n).astype(np.float32)  # many ties
        elif trial % 3 == 1:
            profile = rng.exponential(50.0, n).astype(np.float32)
        else:
            profile = np.sort(rng.uniform(0, 10, n)).astype(np.float32)[:: 1 if trial % 2 else -1].copy()
        bounds = _segment_bounds(n, 8)
        store, tracker = Recorder(), _SegmentCandidates(bounds, statistic)
        for i, value in enumerate(profile):
            tracker.known(i, float(value), store)
        picks = _segment_pick(profile.astype(np.float64), 8, statistic)
        assert not store.dropped & set(picks.tolist()), (trial, statistic)
        # settled segments keep exactly their pick
        for s in range(7):
            a, b = bounds[s], bounds[s + 1]
            assert set(range(a, b)) - store.dropped == {int(picks[s])}
        pruned += len(store.dropped & set(range(bounds[7], n)))
    assert pruned > 0  # the open (last) segment really was pruned before its end


def test_memory_cap_bounds_copies_and_the_rest_is_read_again(testsrc_video):
    frame_bytes = 160 * 120 * 3 // 2
    video = as_openable(testsrc_video)
    result = motion_pass_sample(
        video, SAMPLING_STRATEGIES["MSESortedUNI"], 8, np.random.default_rng(0), Deadline(video.name, 60),
        short_side=64, max_pixels=1 << 26, cache_bytes=10 * frame_bytes,
    )  # fmt: skip
    with result.store as store:
        assert len(store.copied) <= 10 and store.used_bytes <= 10 * frame_bytes
        assert store.lost == 60 - len(store.copied) - len(store.held)
    MOTION_PROFILE_CACHE.clear()
    capped = sample_video(testsrc_video, 8, "MSESortedUNI", cache_motion=False, motion_cache_bytes=10 * frame_bytes)
    full = sample_video(testsrc_video, 8, "MSESortedUNI", cache_motion=False)
    assert capped.indices.tolist() == full.indices.tolist() and np.array_equal(capped.frames, full.frames)
    assert any("second decode" in w for w in capped.report.warnings)


def test_arena_stays_warm_within_the_cap_and_can_be_released(testsrc_video):
    release_frame_arena()
    assert FRAME_ARENA.mapped_bytes == 0
    sample_video(testsrc_video, 8, "MSESortedUNI", cache_motion=False)
    warm = FRAME_ARENA.mapped_bytes
    assert 0 < warm <= max(FRAME_ARENA.chunk_bytes, 60 * 160 * 120 * 3 // 2)
    sample_video(testsrc_video, 8, "SegMSEMedian", cache_motion=False)
    assert FRAME_ARENA.mapped_bytes == warm  # a smaller pass does not unmap what a recent pass needed
    release_frame_arena()
    assert FRAME_ARENA.mapped_bytes == 0


def test_arena_slots_recycle_and_respect_the_cap():
    arena = FrameArena(chunk_bytes=4096)
    assert arena.begin(slot_bytes=1000, cap_bytes=5000)
    assert not arena.begin(slot_bytes=1000, cap_bytes=5000)  # one pass at a time
    slots = [arena.take() for _ in range(5)]
    assert None not in slots and arena.take() is None  # the cap
    arena.view(slots[0])[:] = 7
    arena.give_back(slots[0])
    assert arena.take() == slots[0] and arena.mapped_bytes == 2 * 4096
    arena.end()
    arena.release()
    assert arena.mapped_bytes == 0


def _vm_flags(address: int) -> list[str] | None:
    """The kernel's VmFlags of the mapping that contains `address` (Linux /proc/self/smaps), or None."""
    try:
        with open("/proc/self/smaps") as smaps:
            lines = smaps.read().splitlines()
    except OSError:
        return None
    inside = False
    for line in lines:
        head = line.split()[0] if line else ""
        if "-" in head and ":" not in head:  # a mapping's first line: "start-end perms offset ..."
            start, end = (int(part, 16) for part in head.split("-"))
            inside = start <= address < end
        elif inside and line.startswith("VmFlags:"):
            return line.split()[1:]
    return None


def test_arena_chunks_ask_for_transparent_huge_pages():
    import mmap

    arena = FrameArena(chunk_bytes=8 * 1024 * 1024)
    assert arena.begin(slot_bytes=1 << 20, cap_bytes=8 << 20)
    try:
        view = arena.view(arena.take())
        flags = _vm_flags(view.ctypes.data)
        if flags is None or not hasattr(mmap, "MADV_HUGEPAGE"):
            pytest.skip("no /proc/self/smaps or no MADV_HUGEPAGE on this platform")
        # "hg": the mapping was madvise(MADV_HUGEPAGE)d. The arena's first fill page-faults 512x less with THP.
        assert "hg" in flags, flags
        view[:] = 3  # still ordinary writable memory
        assert int(view.sum()) == 3 * view.size
    finally:
        arena.end()
        arena.release()


def test_retained_frames_uses_a_private_arena_when_the_shared_one_is_busy(testsrc_video):
    import av

    with av.open(str(testsrc_video)) as container:
        frames = [frame for _, frame in zip(range(3), container.decode(video=0), strict=False)]
    expected = [frame.to_ndarray(format="rgb24") for frame in frames]
    busy = FrameArena()
    assert busy.begin(slot_bytes=10, cap_bytes=100)
    with RetainedFrames(1 << 20, max_held=0, arena=busy) as store:
        for i, frame in enumerate(frames):
            store.keep(i, frame)
        assert len(store.copied) == 3
        for i in range(3):
            assert np.array_equal(store.to_rgb(i), expected[i])
    busy.end()

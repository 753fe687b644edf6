import numpy as np
import pytest
import torch
from PIL import Image

from qclip_hf.video.motion import compute_motion_profile
from qclip_hf.video.reader import frames_to_array, sample_video
from qclip_hf.video.sampling import STRATEGY_NAMES, Mixed


def test_each_strategy_on_known_pattern(pattern_video, vt):
    burst = set(vt.BURST)
    results = {name: sample_video(pattern_video, 8, name, rng=0) for name in STRATEGY_NAMES}
    uniform = results["UNISampl"].indices.tolist()
    assert uniform == [0, 9, 18, 27, 36, 45, 54, 63]
    assert sum(i in burst for i in uniform) == 1
    profile = compute_motion_profile(pattern_video)

    # MSESortedUNI: 64 ranks, 50 of them still (motion 0) -> 6 still frames, then the two most agitated frames
    mse_sorted = results["MSESortedUNI"].indices.tolist()
    still_picks = [i for i in mse_sorted if i not in burst]
    assert still_picks == [0, 9, 18, 27, 36, 59]  # ranks 0, 9, ..., 45 of the still frames 0-38, 53-63
    assert len([i for i in mse_sorted if i in burst]) == 2 and int(np.argmax(profile)) in mse_sorted

    # Seg*: one pick per 8-frame segment; still segments give their first (mean) / fourth (median, rank 3 of 8) frame
    seg_mean, seg_median = results["SegMSEMean"].indices.tolist(), results["SegMSEMedian"].indices.tolist()
    assert [seg_mean[s] for s in (0, 1, 2, 3, 4, 7)] == [0, 8, 16, 24, 32, 56]
    assert [seg_median[s] for s in (0, 1, 2, 3, 4, 7)] == [3, 11, 19, 27, 35, 59]  # lower median: 4th of 8
    assert 40 <= seg_mean[5] < 48 and 40 <= seg_median[5] < 48
    # segment 48-55 holds 4 burst frames, the border frame 52 and 3 still frames: its median is frame 52
    assert seg_median[6] == 52
    for name in ("MSESortedUNI", "SegMSEMean", "SegMSEMedian"):
        assert results[name].indices.tolist() != uniform

    for result in results.values():
        assert result.frames.shape == (8, 48, 64, 3) and result.num_frames == 64
    assert results["Mixed"].strategy == "UNISampl"  # eval: Mixed uses its eval strategy


def test_selected_frames_are_the_indexed_frames(pattern_video):
    result = sample_video(pattern_video, 8, "SegMSEMean")
    full = sample_video(pattern_video, 64, "UNISampl")  # 64 of 64: every frame
    assert np.array_equal(result.frames, full.frames[result.indices])


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_eval_mode_same_video_same_frames(name, testsrc_video):
    a = sample_video(testsrc_video, 8, name)
    b = sample_video(testsrc_video.read_bytes(), 8, name)
    assert a.indices.tolist() == b.indices.tolist() and np.array_equal(a.frames, b.frames)


def test_training_deterministic_per_seed(testsrc_video):
    mixed = Mixed()

    def run(seed):
        rng = np.random.default_rng(seed)
        return [sample_video(testsrc_video, 8, mixed, rng=rng, training=True).indices.tolist() for _ in range(6)]

    assert run(1) == run(1)
    assert run(1) != run(2)


# The reference release's indices for short videos, written out by hand from its formula
# `np.linspace(0, n - 1, 8).round()` (datasets/vqa_datasets.py `_frame_indices`), not computed by our code:
# 3 frames: 0, .29, .57, .86, 1.14, 1.43, 1.71, 2 -> 0 0 1 1 1 1 2 2 ; 7 frames: 0, .86, 1.71, 2.57, ... -> 0 1 2 3 3 4 5 6
RELEASE_SHORT_INDICES = {1: [0] * 8, 3: [0, 0, 1, 1, 1, 1, 2, 2], 7: [0, 1, 2, 3, 3, 4, 5, 6]}


@pytest.mark.parametrize("length", sorted(RELEASE_SHORT_INDICES))
def test_short_video_files_use_the_release_indices(length, tmp_path, vt):
    from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor

    frames = vt.pattern_frames()[38 : 38 + length]  # crosses into the burst: every frame differs
    path = vt.write_video(tmp_path / f"short{length}.mp4", frames, options={"qp": "0"})
    expected = RELEASE_SHORT_INDICES[length]
    for name in STRATEGY_NAMES:
        result = sample_video(path, 8, name)
        assert result.indices.tolist() == expected, name
        for j, i in enumerate(expected):
            assert np.array_equal(result.frames[j], result.frames[expected.index(i)])
    processor = QClipVideoProcessor(size={"height": 16, "width": 16})
    assert processor(str(path), return_frame_indices=True)["frame_indices"].tolist() == [expected]


def test_decoded_inputs(vt):
    frames = vt.pattern_frames()[:20]
    expected = sample_video(frames, 4, "SegMSEMean")
    tensor = sample_video(torch.from_numpy(frames), 4, "SegMSEMean")
    channels_first = sample_video(torch.from_numpy(frames).permute(0, 3, 1, 2), 4, "SegMSEMean")
    pil = sample_video([Image.fromarray(f) for f in frames], 4, "SegMSEMean")
    for other in (tensor, channels_first, pil):
        assert other.indices.tolist() == expected.indices.tolist()
        assert np.array_equal(other.frames, expected.frames)
    assert np.array_equal(sample_video(frames, 4, "UNISampl").frames, frames[[0, 6, 13, 19]])


def test_frames_to_array_conversions():
    gray = np.zeros((2, 4, 5), dtype=np.uint8)
    assert frames_to_array(gray).shape == (2, 4, 5, 3)
    assert frames_to_array(np.zeros((2, 4, 5, 4), dtype=np.uint8)).shape == (2, 4, 5, 3)
    with pytest.raises(ValueError, match="must be uint8"):
        frames_to_array(np.zeros((2, 4, 5, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(T, H, W, C\)"):
        frames_to_array(np.zeros((4, 5), dtype=np.uint8))


@pytest.mark.parametrize("name", ["MSESortedUNI", "SegMSEMean", "SegMSEMedian"])
def test_motion_strategies_decode_once(name, testsrc_video, monkeypatch):
    """The motion pass keeps the candidate frames: one demux (index) and ONE decode pass, same frames as two."""
    from qclip_hf.video import frame_reads
    from qclip_hf.video.motion_pass import MOTION_PROFILE_CACHE

    MOTION_PROFILE_CACHE.clear()
    two_pass = sample_video(testsrc_video, 8, name, motion=compute_motion_profile(testsrc_video))
    passes = []
    original = frame_reads.iter_numbered_frames
    monkeypatch.setattr(frame_reads, "iter_numbered_frames", lambda *a, **k: passes.append(1) or original(*a, **k))
    import qclip_hf.video.motion_pass as motion_pass

    monkeypatch.setattr(motion_pass, "iter_numbered_frames", frame_reads.iter_numbered_frames)
    one_pass = sample_video(testsrc_video, 8, name)
    assert len(passes) == 1 and one_pass.report.read_mode == "sequential" and not one_pass.report.warnings
    assert one_pass.indices.tolist() == two_pass.indices.tolist()
    assert np.array_equal(one_pass.frames, two_pass.frames)
    # the profile is now cached for this file (path, size, mtime): the next epoch decodes only the chosen frames
    passes.clear()
    again = sample_video(testsrc_video, 8, name)
    assert again.indices.tolist() == one_pass.indices.tolist() and np.array_equal(again.frames, one_pass.frames)
    assert again.report.read_mode in ("seek", "sequential")


def test_memory_cap_falls_back_to_a_second_read(testsrc_video):
    from qclip_hf.video.motion_pass import MOTION_PROFILE_CACHE

    MOTION_PROFILE_CACHE.clear()
    capped = sample_video(testsrc_video, 8, "MSESortedUNI", motion_cache_bytes=1, cache_motion=False)
    full = sample_video(testsrc_video, 8, "MSESortedUNI", cache_motion=False)
    assert capped.indices.tolist() == full.indices.tolist() and np.array_equal(capped.frames, full.frames)
    assert any("second decode" in w for w in capped.report.warnings) and not full.report.warnings


def test_transform_applies_at_decode(testsrc_video):
    small = sample_video(testsrc_video, 4, "UNISampl", transform=lambda f: f[::2, ::2].copy())
    full = sample_video(testsrc_video, 4, "UNISampl")
    assert small.frames.shape == (4, 60, 80, 3) and np.array_equal(small.frames, full.frames[:, ::2, ::2])

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


def test_short_video_file_repeats(tmp_path, vt):
    path = vt.write_video(tmp_path / "short.mp4", vt.pattern_frames()[38:41], options={"qp": "0"})
    for name in STRATEGY_NAMES:
        result = sample_video(path, 8, name)
        assert result.indices.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
        assert np.array_equal(result.frames[0], result.frames[2])


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

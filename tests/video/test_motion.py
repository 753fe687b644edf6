import datasets
import numpy as np
import pytest

from qclip_hf.video.motion import (
    add_motion_profile,
    compute_motion_profile,
    motion_from_neighbour_mse,
    motion_profile_from_frames,
)
from qclip_hf.video.reader import sample_video


def test_eq13_neighbours_and_ends():
    # MSE(v0,v1)=2, MSE(v1,v2)=4, MSE(v2,v3)=6: ends use their single neighbour
    assert motion_from_neighbour_mse(np.array([2.0, 4.0, 6.0])).tolist() == [2.0, 3.0, 5.0, 6.0]
    assert motion_from_neighbour_mse(np.array([])).tolist() == [0.0]  # one-frame video


def test_profile_from_frames_over_all_channels():
    frames = np.zeros((3, 2, 2, 3), dtype=np.uint8)
    frames[1, :, :, 0] = 6  # one channel of three changes by 6 -> MSE 36 / 3 = 12
    assert motion_profile_from_frames(frames).tolist() == [12.0, 12.0, 12.0]
    with pytest.raises(ValueError, match=r"\(T, H, W"):
        motion_profile_from_frames(np.zeros((0, 2, 2, 3)))


def test_profile_of_known_pattern(pattern_video, vt):
    profile = compute_motion_profile(pattern_video, short_side=16)
    assert profile.shape == (64,) and profile.dtype == np.float32
    still = [i for i in (*vt.STILL_A, *vt.STILL_B) if i not in (39, 52)]  # 39 and 52 border the burst
    burst = list(vt.BURST)
    assert profile[still].max() == 0.0  # lossless still frames: exactly no motion
    assert profile[burst].min() > 1000  # fresh noise every frame
    assert 0 < profile[39] < profile[burst].min() and 0 < profile[52] < profile[burst].max()


def test_luma_and_rgb_agree_on_ranking(pattern_video):
    luma = compute_motion_profile(pattern_video)
    rgb = compute_motion_profile(pattern_video, color="rgb")
    assert np.array_equal(luma == 0, rgb == 0)
    assert np.corrcoef(luma, rgb)[0, 1] > 0.9
    with pytest.raises(ValueError, match="color must be one of"):
        compute_motion_profile(pattern_video, color="hsv")


def test_stored_as_dataset_column_and_reused(pattern_video, testsrc_video, monkeypatch):
    ds = datasets.Dataset.from_dict({"video": [str(pattern_video), str(testsrc_video)]})
    ds = add_motion_profile(ds, short_side=16)
    assert ds.features["motion_profile"] == datasets.Sequence(datasets.Value("float32"))
    assert len(ds[0]["motion_profile"]) == 64 and len(ds[1]["motion_profile"]) == 60
    np.testing.assert_allclose(ds[0]["motion_profile"], compute_motion_profile(pattern_video, short_side=16))
    expected = sample_video(pattern_video, 8, "SegMSEMedian", motion_short_side=16).indices

    # with the stored column, samplers never run the motion pass again
    import qclip_hf.video.reader as reader

    def _no_pass(*args, **kwargs):
        raise AssertionError("motion profile recomputed")

    monkeypatch.setattr(reader, "motion_pass_sample", _no_pass)
    again = sample_video(pattern_video, 8, "SegMSEMedian", motion=ds[0]["motion_profile"])
    assert again.indices.tolist() == expected.tolist()


def test_video_feature_column(testsrc_video):
    ds = datasets.Dataset.from_dict({"video": [str(testsrc_video)]}).cast_column("video", datasets.Video())
    ds = add_motion_profile(ds)
    assert isinstance(ds.features["video"], datasets.Video) and ds.features["video"].decode
    assert len(ds[0]["motion_profile"]) == 60
    with pytest.raises(ValueError, match="not in the dataset's columns"):
        add_motion_profile(ds, video_column="clip")


def test_motion_profile_cache_keys_on_file_identity_and_disk(tmp_path, testsrc_video, monkeypatch):
    import shutil

    from qclip_hf.video.motion_pass import MOTION_CACHE_DIR_ENV, MotionProfileCache

    clip = tmp_path / "clip.mp4"
    shutil.copyfile(testsrc_video, clip)
    monkeypatch.setenv(MOTION_CACHE_DIR_ENV, str(tmp_path / "cache"))
    cache = MotionProfileCache()
    key = cache.key(str(clip), 64)
    cache.put(key, np.arange(3))
    assert cache.get(key).tolist() == [0, 1, 2]
    # another process (a fresh cache object) finds it on disk
    assert MotionProfileCache().get(key).tolist() == [0, 1, 2]
    # rewriting the file changes its identity: the old profile is never used for it
    clip.write_bytes(clip.read_bytes() + b"\0")
    assert cache.key(str(clip), 64) != key and cache.get(cache.key(str(clip), 64)) is None
    assert cache.key(None, 64) is None and cache.key("http://host/a.mp4", 64) is None

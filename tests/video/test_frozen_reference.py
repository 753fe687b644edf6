"""Today's frame choices and pixel values, frozen before the one-decode / resize-on-decode rework, still hold.

`data/reference_2026-11-29.json` was written by `data/record_reference.py` on the code before the change:
every strategy's indices (eval and training draws) and the processor's pixels must be unchanged (within 1e-6),
for each resample filter passed explicitly; only the default filter changed (bicubic -> bilinear, issue 14).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor
from qclip_hf.video.motion_pass import MOTION_PROFILE_CACHE
from qclip_hf.video.reader import sample_video

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "reference_2026-11-29.json").read_text())


def _recorder():
    spec = importlib.util.spec_from_file_location("record_reference", DATA / "record_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recorder():
    return _recorder()


@pytest.fixture(scope="module")
def clips(recorder, tmp_path_factory):
    return recorder.reference_clips(tmp_path_factory.mktemp("frozen"))


@pytest.mark.parametrize("cached", [False, True], ids=["one_pass", "cached_profile"])
def test_indices_per_strategy_unchanged(clips, recorder, cached):
    MOTION_PROFILE_CACHE.clear()
    for key, expected in REFERENCE["indices"].items():
        clip, name, num = key.split("/")
        if cached:
            sample_video(clips[clip], int(num), "SegMSEMean")  # fills the profile cache for the file
        sampled = sample_video(clips[clip], int(num), name)
        assert sampled.indices.tolist() == expected, key
        assert sampled.report.frames_substituted == 0


def test_training_draws_unchanged(clips):
    for key, expected in REFERENCE["training_indices"].items():
        clip, name = key.split("/")
        processor = QClipVideoProcessor(num_frames=8, sampling_strategy=name, size={"height": 16, "width": 16}, seed=5)
        processor.train()
        draws = [processor(str(clips[clip]), return_frame_indices=True)["frame_indices"][0].tolist() for _ in range(3)]
        assert draws == expected, key


def test_pixels_unchanged_within_1e6(clips, recorder):
    MOTION_PROFILE_CACHE.clear()
    for case, kwargs in recorder.PROCESSOR_CASES:
        for clip in clips:
            expected = REFERENCE["pixels"][f"{clip}/{case}"]
            processor = QClipVideoProcessor(num_frames=8, size={"height": 40, "width": 56}, **kwargs)
            got = recorder.pixel_stats(processor(str(clips[clip]))["pixel_values_videos"])
            assert got["shape"] == expected["shape"]
            np.testing.assert_allclose(got["samples"], expected["samples"], atol=1e-6, rtol=0, err_msg=case)
            n = np.prod(expected["shape"])
            assert (
                abs(got["sum"] - expected["sum"]) <= 1e-6 * n and abs(got["sum_sq"] - expected["sum_sq"]) <= 1e-6 * n
            )


def test_default_filter_is_now_bilinear_everywhere(clips):
    """The only intended pixel change: `QClipVideoProcessor()` resizes bilinearly, like `for_model` and the release."""
    default = QClipVideoProcessor(num_frames=8, size={"height": 40, "width": 56})
    assert int(default.resample) == 2
    got = default(str(clips["pattern"]))["pixel_values_videos"].double().reshape(-1)
    expected = REFERENCE["pixels"]["pattern/uni_bilinear"]
    assert abs(float(got.sum()) - expected["sum"]) <= 1e-6 * got.numel()
    bicubic = REFERENCE["pixels"]["pattern/uni_bicubic"]["sum"]
    assert abs(bicubic - expected["sum"]) > 1e-3  # the two filters really differ on this clip

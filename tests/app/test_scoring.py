"""What the app shows for one video, without Gradio: MOS and level when calibrated, "uncalibrated" otherwise."""

from __future__ import annotations

import shutil

import pytest

from qclip_hf.app.scoring import VideoScorer
from qclip_hf.calibration import Calibration
from qclip_hf.testing.sample_videos import write_sample_videos


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_sample_videos(tmp_path_factory.mktemp("videos"), broken=False)[0]


def test_an_uncalibrated_model_shows_the_raw_score_and_no_level(model_dir, video):
    result = VideoScorer(model_dir)(video)
    assert result.mos is None and result.level is None and result.calibration is None
    summary = result.summary_markdown()
    assert summary.startswith(f"## Score: {result.score:.4f} (uncalibrated)")
    assert "no level is given" in summary and "qclip-vqa calibrate" in summary
    assert "MOS " not in summary.split("not a MOS")[0]  # no MOS is shown, only said to be missing
    assert set(result.prompt_level_probs) == {"excellent", "good", "fair", "poor", "bad"}


def test_a_calibrated_model_shows_mos_and_the_level_of_its_band(model_dir, video, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    raw = VideoScorer(model_dir)(video).score
    # A DMOS-like 0-100 scale (lower = better): the map and the bands follow it.
    calibration = Calibration("logistic4", {"b1": 90.0, "b2": 10.0, "b3": raw, "b4": 0.01}, mos_range=(0, 100),
                              higher_is_better=False, data={"set": "mine", "size": 40})
    calibration.save(folder)
    result = VideoScorer(folder)(video)
    assert result.mos == pytest.approx(50.0) and result.level == "fair"  # the middle band of 0-100
    summary = result.summary_markdown()
    assert summary.startswith("## MOS 50.00 · fair")
    assert "0–100 (lower = better)" in summary and "excellent 0–20" in summary and "bad 80–100" in summary
    assert f"Raw score: {result.score:.4f}" in summary and "Calibration fitted on 'mine' (40 videos)" in summary

"""`pipeline("video-quality")` on a tiny saved Q-CLIP model and small generated videos."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
import torch
from PIL import Image
from transformers import pipeline

import qclip_hf  # noqa: F401  (registers the model type)
from qclip_hf import QClipModel
from qclip_hf.pipelines import VideoQualityPipeline, register_video_quality_pipeline, segment_bounds


def write_video(path, num_frames: int = 20, seed: int = 0, fps: int = 10) -> np.ndarray:
    """A small H.264 clip of moving noise; returns the frames written."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(num_frames, 48, 64, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"g": "5"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return frames


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    paths = []
    for i in range(5):
        write_video(folder / f"v{i}.mp4", num_frames=12 + 4 * i, seed=i)
        paths.append(str(folder / f"v{i}.mp4"))
    return paths


@pytest.fixture(scope="module")
def pipe(model_dir):
    return VideoQualityPipeline(model=QClipModel.from_pretrained(model_dir), device="cpu")


def test_registered_task_builds_from_a_saved_directory(model_dir, videos):
    register_video_quality_pipeline()
    pipe = pipeline("video-quality", model=model_dir, device="cpu")
    assert isinstance(pipe, VideoQualityPipeline)
    assert pipe.video_processor.num_frames == 4 and pipe.video_processor.size.height == 32  # the backbone's size
    result = pipe(videos[0])
    assert set(result) == {"score", "mos", "level", "prompt_level_probs", "substituted_frames", "warnings"}
    assert isinstance(result["score"], float)
    assert result["mos"] is None and result["level"] is None  # uncalibrated: raw score only, no level guessed
    assert result["substituted_frames"] == 0 and result["warnings"] == []  # a clean file
    assert list(result["prompt_level_probs"]) == ["excellent", "good", "fair", "poor", "bad"]
    assert sum(result["prompt_level_probs"].values()) == pytest.approx(1.0, abs=1e-5)


def test_every_input_type(pipe, videos, tmp_path):
    frames = write_video(tmp_path / "frames.mp4", num_frames=16, seed=7)
    by_path = pipe(videos[0])["score"]
    with open(videos[0], "rb") as handle:
        data = handle.read()
    assert pipe(data)["score"] == pytest.approx(by_path, abs=1e-6)
    assert pipe(io.BytesIO(data))["score"] == pytest.approx(by_path, abs=1e-6)
    listed = pipe(videos[:3])
    assert isinstance(listed, list) and len(listed) == 3
    assert listed[0]["score"] == pytest.approx(by_path, abs=1e-6)

    as_array = pipe(frames)["score"]
    assert pipe(torch.from_numpy(frames))["score"] == pytest.approx(as_array, abs=1e-6)
    assert pipe([Image.fromarray(f) for f in frames])["score"] == pytest.approx(as_array, abs=1e-6)
    batch = pipe(np.stack([frames, frames[::-1].copy()]))  # (B, T, H, W, C): a batch of two videos
    assert len(batch) == 2 and batch[0]["score"] == pytest.approx(as_array, abs=1e-6)


def test_scores_are_bitwise_equal_whatever_the_batch_size(pipe, videos):
    # 8 inputs (files and arrays of different lengths) so batch sizes 3 and 8 split them differently.
    frames = np.random.default_rng(11).integers(0, 256, size=(9, 40, 56, 3), dtype=np.uint8)
    inputs = [*videos, frames, frames[::-1].copy(), frames[:5]]
    runs = {size: pipe(inputs, batch_size=size, return_temporal=True, num_segments=2) for size in (1, 3, 8)}
    for size in (3, 8):
        for a, b in zip(runs[1], runs[size], strict=True):
            assert a["score"] == b["score"]  # bitwise, not approx
            assert a["prompt_level_probs"] == b["prompt_level_probs"]
            assert [s["score"] for s in a["temporal"]] == [s["score"] for s in b["temporal"]]
    # A resumed run scores a suffix of the list on its own: the same bits again.
    assert [r["score"] for r in pipe(inputs[5:], batch_size=3)] == [r["score"] for r in runs[1][5:]]
    # The opt-out (one forward per batch) scores the same videos, up to the last bits.
    batched = pipe(inputs, batch_size=8, batch_invariant=False)
    assert [r["score"] for r in batched] == pytest.approx([r["score"] for r in runs[1]], abs=1e-6)
    with pytest.raises(ValueError, match="batch_invariant"):
        pipe(inputs[0], batch_invariant="yes")


def test_text_tower_runs_once_per_pipeline(model_dir, videos):
    pipe = VideoQualityPipeline(model=QClipModel.from_pretrained(model_dir), device="cpu")
    calls = []
    handle = pipe.model.dual_encoder.text_model.register_forward_hook(lambda *_: calls.append(1))
    try:
        pipe(videos, batch_size=2)
        pipe(videos[0])
        pipe(videos[:2], return_temporal=True)
    finally:
        handle.remove()
    assert len(calls) == 1


def test_return_temporal_scores_each_segment(pipe, videos):
    frames = np.random.default_rng(3).integers(0, 256, size=(18, 40, 40, 3), dtype=np.uint8)
    result = pipe(frames, return_temporal=True, num_segments=3)
    segments = result["temporal"]
    assert [(s["start_frame"], s["end_frame"]) for s in segments] == [(0, 6), (6, 12), (12, 18)]
    assert all(s["start_time"] is None for s in segments)  # decoded frames carry no frame rate
    # Definition: a segment's score is the score of the frames of that range alone.
    for s in segments:
        alone = pipe(frames[s["start_frame"]:s["end_frame"]])["score"]
        assert s["score"] == pytest.approx(alone, abs=1e-5)
    assert result["score"] == pytest.approx(pipe(frames)["score"], abs=1e-6)

    from_file = pipe(videos[1], return_temporal=True)  # 16 frames at 10 fps, default 4 segments
    assert [(s["start_frame"], s["end_frame"]) for s in from_file["temporal"]] == [(0, 4), (4, 8), (8, 12), (12, 16)]
    assert from_file["temporal"][-1]["end_time"] == pytest.approx(1.6)
    batched = pipe(videos[:3], return_temporal=True, batch_size=3)
    for a, b in zip(batched[1]["temporal"], from_file["temporal"], strict=True):
        assert (a["start_frame"], a["end_frame"]) == (b["start_frame"], b["end_frame"])
        assert a["score"] == pytest.approx(b["score"], abs=1e-5)


def test_segment_bounds_cover_the_video():
    assert segment_bounds(10, 4).tolist() == [[0, 2], [2, 5], [5, 7], [7, 10]]
    assert segment_bounds(2, 4).tolist() == [[0, 1], [0, 1], [1, 2], [1, 2]]  # never an empty segment


def test_overrides_and_validation(pipe, videos):
    assert pipe.preprocess(videos[0], num_frames=2)["pixel_values_videos"].shape[2] == 2
    assert pipe.preprocess(videos[0], return_temporal=True, num_segments=2)["pixel_values_videos"].shape[1] == 3
    strategy = pipe(videos[2], sampling_strategy="SegMSEMean")["score"]
    assert isinstance(strategy, float)
    with pytest.raises(ValueError, match="UNISampl"):
        pipe(videos[0], sampling_strategy="nope")
    with pytest.raises(ValueError, match="num_segments"):
        pipe(videos[0], return_temporal=True, num_segments=0)
    with pytest.raises(ValueError, match="unknown video-quality pipeline arguments"):
        pipe(videos[0], top_k=3)


def test_a_calibrated_model_gives_mos_and_the_level_of_its_band(model_dir, videos, tmp_path):
    import shutil

    from qclip_hf.calibration import Calibration, fit_calibration

    uncalibrated = pipeline("video-quality", model=model_dir, device="cpu")
    raw = [r["score"] for r in uncalibrated(videos)]
    # A map fitted so the five videos, in the order of their scores, spread over the MOS range 1-5 (isotonic: exact
    # through the points, one in each band).
    mos = np.empty(5)
    mos[np.argsort(raw)] = [1.2, 2.2, 3.0, 3.9, 4.8]
    calibration = fit_calibration(raw, mos, kind="isotonic", mos_range=(1, 5))
    folder = tmp_path / "calibrated"
    shutil.copytree(model_dir, folder)
    calibration.save(folder)
    pipe = pipeline("video-quality", model=str(folder), device="cpu")
    assert pipe.model.calibration == Calibration.load(folder)
    results = pipe(videos, return_temporal=True, num_segments=2)
    for result, score in zip(results, raw, strict=True):
        assert result["score"] == score  # the raw score is unchanged
        assert result["mos"] == pytest.approx(float(calibration.mos([score])[0]))
        assert result["level"] == calibration.level_of(result["mos"])  # the band of the MOS, not the prompts' argmax
        for segment in result["temporal"]:
            assert segment["mos"] == pytest.approx(float(calibration.mos([segment["score"]])[0]))
    order = np.argsort(raw)
    assert [results[i]["mos"] for i in order] == sorted(r["mos"] for r in results)  # monotonic: same ranks
    assert {r["level"] for r in results} == {"bad", "poor", "fair", "good", "excellent"}

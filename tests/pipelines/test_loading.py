"""`pipeline("video-quality", model=...)`: load failures surface as ModelLoadError, and a normal run is quiet."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import pipeline

import qclip_hf  # noqa: F401  (registers the task)
from qclip_hf.errors import ModelLoadError
from qclip_hf.pipelines import VideoQualityPipeline


def test_missing_folder_raises_model_load_error_itself(tmp_path):
    missing = tmp_path / "no_such_model"
    with pytest.raises(ModelLoadError) as caught:
        pipeline("video-quality", model=str(missing))
    message = str(caught.value)
    assert str(missing) in message and " — " in message  # names the input, says what to do
    assert "Could not load model" not in message and "Repo id must be in the form" not in message


def test_corrupt_weights_raise_model_load_error_itself(model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    weights = sorted(broken.glob("*.safetensors"))
    assert weights, "the saved model has no safetensors file"
    weights[0].write_bytes(weights[0].read_bytes()[:100])  # truncated
    with pytest.raises(ModelLoadError) as caught:
        pipeline("video-quality", model=broken)  # a Path works too
    assert "Could not load model" not in str(caught.value)


def test_a_model_object_is_passed_through(model_dir):
    from qclip_hf import QClipModel

    model = QClipModel.from_pretrained(model_dir)
    pipe = pipeline("video-quality", model=model, device="cpu")
    assert isinstance(pipe, VideoQualityPipeline) and pipe.model is model


def test_building_and_scoring_are_quiet(model_dir, tmp_path):
    """No progress bars, warnings or logs from third-party libraries in a normal pipeline run."""
    from .test_video_quality import write_video

    write_video(tmp_path / "clip.mp4", num_frames=8)
    script = textwrap.dedent(f"""
        import warnings
        warnings.simplefilter("always")  # show every warning that is emitted at all
        import qclip_hf
        from transformers import pipeline
        pipe = pipeline("video-quality", model={model_dir!r}, device="cpu")
        result = pipe({str(tmp_path / "clip.mp4")!r})
        print("score", result["score"])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("score ")
    assert done.stderr == "", done.stderr


def test_the_processor_saved_with_the_model_is_the_one_used(edited_model_dir, tmp_path):
    """Values edited in the saved `video_preprocessor_config.json` reach the pipeline (issue 22 item 3); a model
    saved without one gets a processor built from its config."""
    import numpy as np

    from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor

    from .test_video_quality import write_video

    pipe = pipeline("video-quality", model=edited_model_dir, device="cpu")
    processor = pipe.video_processor
    assert (processor.num_frames, processor.sampling_strategy, processor.seed) == (6, "RandSampl", 5)
    video = tmp_path / "clip.mp4"
    write_video(video, num_frames=40)
    saved = QClipVideoProcessor.from_pretrained(edited_model_dir)
    frames = saved(str(video), return_frame_indices=True)["frame_indices"][0].tolist()
    assert len(frames) == 6 and frames != np.linspace(0, 39, 6).round().astype(int).tolist()  # seeded, not uniform
    inputs = saved(str(video))
    with torch.no_grad():
        expected = pipe.model(pixel_values_videos=inputs["pixel_values_videos"]).scores.item()
    assert pipe(str(video))["score"] == pytest.approx(expected, rel=1e-6)

    bare = tmp_path / "no-processor"
    shutil.copytree(edited_model_dir, bare)
    (bare / "video_preprocessor_config.json").unlink()
    built = pipeline("video-quality", model=str(bare), device="cpu").video_processor
    assert (built.num_frames, built.sampling_strategy, built.seed) == (4, "UNISampl", 0)  # the config's 4 frames


def test_a_hub_model_brings_its_own_processor(edited_model_dir, tmp_path):
    from qclip_hf.testing.hub_server import LocalHubServer, run_with_hub

    code = textwrap.dedent("""
        import sys
        from huggingface_hub import HfApi
        import qclip_hf
        from transformers import pipeline
        api = HfApi()
        api.create_repo("local-user/edited")
        api.upload_folder(folder_path=sys.argv[1], repo_id="local-user/edited")
        processor = pipeline("video-quality", model="local-user/edited", device="cpu").video_processor
        print(processor.num_frames, processor.sampling_strategy, processor.seed)
    """)
    with LocalHubServer() as hub:
        done = run_with_hub(hub.endpoint, code, tmp_path / "cache", edited_model_dir)
    assert done.stdout.strip().splitlines()[-1] == "6 RandSampl 5"

"""`pipeline("video-quality", model=...)`: load failures surface as ModelLoadError, and a normal run is quiet."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest
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

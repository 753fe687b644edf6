"""A saved Q-CLIP repo loads with trust_remote_code=True in a Python where qclip_hf cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

import qclip_hf  # noqa: F401
from qclip_hf import QClipConfig, QClipModel

_LOAD_WITHOUT_PACKAGE = textwrap.dedent(
    """
    import importlib.abc, sys
    class BlockQClip(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "qclip_hf" or name.startswith("qclip_hf."):
                raise ImportError("qclip_hf is blocked in this test")
    sys.meta_path.insert(0, BlockQClip())
    import torch
    from transformers import AutoModel
    model = AutoModel.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
    assert not type(model).__module__.startswith("qclip_hf"), type(model).__module__
    with torch.no_grad():
        torch.save(model(torch.load(sys.argv[2])).scores, sys.argv[3])
    """
)


def test_trust_remote_code_without_the_package(tiny_backbone_dir, tmp_path):
    config = QClipConfig(backbone=tiny_backbone_dir("clip"), scma_config={"r": 4, "layers": 2})
    model = QClipModel(config).eval()
    x = torch.randn(1, 2, 3, 32, 32)
    QClipModel.register_for_auto_class("AutoModel")
    try:
        model.save_pretrained(tmp_path / "repo")
    finally:
        QClipModel._auto_class = None
    written = {p.name for p in (tmp_path / "repo").iterdir()}
    assert {"modeling_qclip.py", "configuration_qclip.py", "tuners_scma_model.py", "backbones_clip.py"} <= written
    torch.save(x, tmp_path / "x.pt")
    subprocess.run([sys.executable, "-c", _LOAD_WITHOUT_PACKAGE, str(tmp_path / "repo"), str(tmp_path / "x.pt"),
                    str(tmp_path / "scores.pt")], check=True, cwd=tmp_path, timeout=300)
    with torch.no_grad():
        assert torch.equal(torch.load(tmp_path / "scores.pt"), model(x).scores)


_PIPELINE_WITHOUT_PACKAGE = textwrap.dedent(
    """
    import importlib.abc, json, sys
    class BlockQClip(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "qclip_hf" or name.startswith("qclip_hf."):
                raise ImportError("qclip_hf is blocked in this test")
    sys.meta_path.insert(0, BlockQClip())
    from transformers import pipeline
    pipe = pipeline(model=sys.argv[1], trust_remote_code=True, device="cpu")  # task read from config.json
    assert not type(pipe).__module__.startswith("qclip_hf"), type(pipe).__module__
    result = pipe(sys.argv[2], return_temporal=True, num_segments=2)
    json.dump(result, open(sys.argv[3], "w"))
    """
)


def test_pipeline_with_trust_remote_code_without_the_package(tiny_backbone_dir, tmp_path):
    import json

    import av
    import numpy as np

    from qclip_hf.pipelines import VideoQualityPipeline

    video = tmp_path / "clip.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for frame in np.random.default_rng(0).integers(0, 256, size=(12, 48, 64, 3), dtype=np.uint8):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    config = QClipConfig(backbone=tiny_backbone_dir("clip"), scma_config={"r": 4, "layers": 2}, num_frames=4)
    model = QClipModel(config).eval()
    QClipModel.register_for_auto_class("AutoModel")
    try:
        model.save_pretrained(tmp_path / "repo")
    finally:
        QClipModel._auto_class = None
    assert json.loads((tmp_path / "repo" / "config.json").read_text())["custom_pipelines"]["video-quality"]["impl"] \
        == "pipelines_video_quality.VideoQualityPipeline"
    local = VideoQualityPipeline(model=model, device="cpu")
    local.video_processor.save_pretrained(tmp_path / "repo")
    subprocess.run([sys.executable, "-c", _PIPELINE_WITHOUT_PACKAGE, str(tmp_path / "repo"), str(video),
                    str(tmp_path / "result.json")], check=True, cwd=tmp_path, timeout=300)
    remote = json.loads((tmp_path / "result.json").read_text())
    expected = local(str(video), return_temporal=True, num_segments=2)
    assert remote["score"] == pytest.approx(expected["score"], abs=1e-5)
    assert [s["score"] for s in remote["temporal"]] == pytest.approx([s["score"] for s in expected["temporal"]],
                                                                      abs=1e-5)

"""A saved Q-CLIP repo loads with trust_remote_code=True in a Python where qclip_hf cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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

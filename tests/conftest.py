"""Shared fixtures: tiny random backbones saved locally, the way transformers' ModelTesters build them."""

from __future__ import annotations

import pytest
import torch

from qclip_hf import QClipConfig, QClipModel
from qclip_hf.testing.tiny_backbones import save_tiny_backbone


@pytest.fixture(scope="session")
def tiny_backbone_dir(tmp_path_factory):
    """Directory factory: `tiny_backbone_dir(family, **config_kwargs)` saves (once) and returns a tiny backbone."""
    cache = {}

    def make(family: str = "clip", **config_kwargs) -> str:
        key = (family, tuple(sorted(config_kwargs.items())))
        if key not in cache:
            name = "-".join([family] + [f"{k}{v}" for k, v in sorted(config_kwargs.items())])
            cache[key] = str(save_tiny_backbone(tmp_path_factory.mktemp(name), family, **config_kwargs))
        return cache[key]

    return make


@pytest.fixture(scope="module")
def model_dir(tiny_backbone_dir, tmp_path_factory) -> str:
    """A saved tiny Q-CLIP (4 frames, SCMA r=4 on the last 2 blocks) on the tiny CLIP backbone."""
    torch.manual_seed(0)
    config = QClipConfig(backbone=tiny_backbone_dir("clip"), scma_config={"r": 4, "layers": 2}, num_frames=4)
    path = tmp_path_factory.mktemp("qclip") / "model"
    QClipModel(config).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def edited_model_dir(model_dir, tmp_path_factory) -> str:
    """`model_dir` with values edited in its saved `video_preprocessor_config.json` (6 frames, RandSampl, seed 5):
    what the pipeline, the CLI, the report and the app must use, where a processor built from the model's config
    would take 4 frames, UNISampl, seed 0."""
    import json
    import shutil

    path = tmp_path_factory.mktemp("edited") / "model"
    shutil.copytree(model_dir, path)
    saved = path / "video_preprocessor_config.json"
    saved.write_text(json.dumps({**json.loads(saved.read_text()), "num_frames": 6, "sampling_strategy": "RandSampl",
                                 "seed": 5}))
    return str(path)

"""Scores and level probabilities of tiny Q-CLIP models, frozen before the release-fidelity and loading changes.

`data/frozen_outputs.json` was written by this file (`python tests/models/qclip/test_frozen_outputs.py --write`)
on the code before `head_bias`, the release converter and meta-device loading landed; the test shows those changes
kept every output within 1e-6. Regenerate it only for an intended numeric change, and say so in the CHANGELOG.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from qclip_hf import QClipConfig, QClipModel
from qclip_hf.testing.tiny_backbones import save_tiny_backbone, save_tiny_pe_core_backbone

DATA = Path(__file__).parent / "data" / "frozen_outputs.json"
CASES = {
    # The `model_dir` fixture's layout on the tiny CLIP: SCMA r=4 on the last 2 blocks, default (biased) head.
    "clip_default": dict(family="clip", config=dict(scma_config={"r": 4, "layers": 2}, num_frames=4)),
    # The reference preset on a tiny PE-Core (the paper's backbone family), adapter on the last 2 of 4 blocks.
    # The presets' head lost its bias on purpose (issue 14); `head_bias=True` keeps the frozen layout comparable.
    "pe_core_reference": dict(family="pe_core", preset="reference",
                              config=dict(scma_config={"r": 8, "layers": 2}, num_frames=4, head_bias=True)),
    "pe_core_paper": dict(family="pe_core", preset="paper",
                          config=dict(scma_config={"layers": 2}, num_frames=4, head_bias=True)),
}


def _backbone(family: str, root: Path) -> str:
    path = root / family
    if not (path / "config.json").is_file():
        if family == "clip":
            save_tiny_backbone(path, "clip")
        else:
            save_tiny_pe_core_backbone(path)
    return str(path)


def compute_outputs(case: dict, root: Path) -> dict[str, list]:
    """Build the case's model (seed 0), move every trainable weight by a seeded step so no bias or scale keeps its
    initial value, and score a seeded input of 2 videos x 4 frames."""
    backbone = _backbone(case["family"], root)
    torch.manual_seed(0)
    if "preset" in case:
        config = QClipConfig.from_preset(case["preset"], backbone=backbone, **case["config"])
    else:
        config = QClipConfig(backbone=backbone, **case["config"])
    model = QClipModel(config).eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _, param in sorted(model.named_parameters()):
            if param.requires_grad:
                param.add_(0.1 * torch.randn(param.shape, generator=generator))
        pixels = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
        out = model(pixels)
    return {"scores": out.scores.tolist(), "level_probs": out.level_probs.tolist()}


@pytest.fixture(scope="module")
def frozen() -> dict:
    return json.loads(DATA.read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_match_frozen_values(name, frozen, tmp_path_factory):
    root = tmp_path_factory.getbasetemp() / "frozen-backbones"
    got = compute_outputs(CASES[name], root)
    for key in ("scores", "level_probs"):
        torch.testing.assert_close(torch.tensor(got[key]), torch.tensor(frozen[name][key]), atol=1e-6, rtol=0)


if __name__ == "__main__" and "--write" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        values = {name: compute_outputs(case, Path(tmp)) for name, case in CASES.items()}
    DATA.write_text(json.dumps(values, indent=2) + "\n")
    print(f"wrote {DATA}")

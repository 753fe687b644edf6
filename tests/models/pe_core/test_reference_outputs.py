"""PE-Core outputs equal values stored before the speed work (rotary table buffer, fused qkv), within float32 rounding.

The stored model (`data/tiny_pe_core_v1`) was saved in the old parameter layout (separate q/k/v projections), so
loading it also checks that checkpoints written by earlier versions still load, through `from_pretrained` and
through `load_state_dict`. See `data/README.md` for how the files were made.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from qclip_hf.models.pe_core import PECoreConfig, PECoreModel

DATA = Path(__file__).parent / "data"
# Relative to each tensor's largest stored magnitude: float32 sums evaluated in another order (another CPU, thread
# count or library build) differ by up to about K*u (u = 2**-24) of the magnitudes summed, not of the result. Measured
# on these outputs: at most 8e-6 of a tensor's scale across ATEN_CPU_CAPABILITY default/avx2/avx512,
# ONEDNN_MAX_CPU_ISA=AVX2, MKL_CBWR=COMPATIBLE and 1 or 2 threads (per element up to 1.4e-4 where values cancel to
# near zero, which is why the bound is not per element). 1e-4 leaves a 12x margin; the pre-fix RoPE layout moves the
# vision outputs by 0.44 to 0.98 of their scale (test_the_tolerance_rejects_the_legacy_rope_layout). The same rule as
# tests/models/qclip/test_frozen_outputs.py.
RTOL = 1e-4


@pytest.fixture(scope="module")
def reference():
    return json.loads((DATA / "tiny_pe_core_reference_outputs.json").read_text())


@pytest.fixture(scope="module")
def inputs():
    return load_file(str(DATA / "tiny_pe_core_inputs.safetensors"))


def _outputs(model: PECoreModel, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    pixels, ids, mask = inputs["pixel_values"], inputs["input_ids"], inputs["attention_mask"]
    with torch.no_grad():
        vision = model.vision_model(pixel_values=pixels)
        return {
            "vision_pooled": vision.pooler_output,
            "vision_last_hidden_state_cls": vision.last_hidden_state[:, 0],
            "image_features": model.get_image_features(pixel_values=pixels).pooler_output,
            "text_features": model.get_text_features(ids, attention_mask=mask).pooler_output,
        }


def _assert_matches(got: dict[str, torch.Tensor], expected: dict[str, list]) -> None:
    for name, values in expected.items():
        want = torch.tensor(values)
        scale = want.abs().max().item()
        torch.testing.assert_close(got[name], want, rtol=0, atol=RTOL * scale,
                                   msg=lambda m, name=name, scale=scale: f"{name} (scale {scale:.3g}): {m}")


def test_saved_old_layout_model_gives_stored_outputs(reference, inputs):
    model = PECoreModel.from_pretrained(DATA / "tiny_pe_core_v1").eval()
    _assert_matches(_outputs(model, inputs), reference["noisy_weights"])


def test_the_tolerance_rejects_the_legacy_rope_layout(reference, inputs):
    # The same weights with the rotary layout of Meta's code before its fix: a real change the comparison must catch.
    config = PECoreConfig.from_pretrained(DATA / "tiny_pe_core_v1")
    config.vision_config.legacy_class_token_rope = True
    model = PECoreModel.from_pretrained(DATA / "tiny_pe_core_v1", config=config).eval()
    got = _outputs(model, inputs)
    vision = {name: values for name, values in reference["noisy_weights"].items() if name != "text_features"}
    for name, values in vision.items():  # each vision output on its own (the text tower has no RoPE)
        with pytest.raises(AssertionError, match=name):
            _assert_matches(got, {name: values})


def test_old_layout_state_dict_loads_with_load_state_dict(reference, inputs):
    config = PECoreConfig.from_pretrained(DATA / "tiny_pe_core_v1")
    model = PECoreModel(config).eval()
    old_state = load_file(str(DATA / "tiny_pe_core_v1" / "model.safetensors"))
    assert any(key.endswith("self_attn.q_proj.weight") for key in old_state)  # really the old layout
    model.load_state_dict(old_state, strict=True)
    _assert_matches(_outputs(model, inputs), reference["noisy_weights"])


def test_seeded_construction_is_deterministic():
    # The stored `seeded_init` values pinned the old stream, in which every weight was drawn twice (torch's
    # `reset_parameters`, then `_init_weights`); a new model now draws each weight once (same distributions, see
    # test_modeling_pe_core.py::test_new_model_follows_the_documented_initialisation), so only determinism is kept.
    config = PECoreConfig.from_pretrained(DATA / "tiny_pe_core_v1")
    builds = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        builds.append(PECoreModel(config).state_dict())
    for name, tensor in builds[0].items():
        torch.testing.assert_close(builds[1][name], tensor, rtol=0, atol=0, msg=name)
    weight = "vision_model.encoder.layers.0.self_attn.qkv.weight"
    assert not torch.equal(builds[0][weight], builds[2][weight])

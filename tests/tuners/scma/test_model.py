"""SCMA through the standard PEFT API, on tiny random dual encoders."""

from __future__ import annotations

import json

import pytest
import torch
from peft import PeftModel, get_peft_model
from safetensors.torch import load_file

import qclip_hf  # noqa: F401  (registers the SCMA PEFT type)
from qclip_hf.testing.tiny_backbones import build_tiny_backbone, build_tiny_tokenizer
from qclip_hf.tuners.scma import SCMABlock, SCMAConfig, SCMAProjection

FAMILIES = ["clip", "siglip", "metaclip_2"]


def _inputs(seed: int = 0):
    torch.manual_seed(seed)
    pixels = torch.randn(2, 3, 32, 32)
    ids = build_tiny_tokenizer()(["x x x a video of good quality", "a bad video"], padding="max_length",
                                 max_length=32, return_tensors="pt").input_ids
    return pixels, ids


def _features(model, pixels, ids):
    model.eval()  # get_peft_model leaves train mode; MultiheadAttention's kernel differs between the two
    with torch.no_grad():
        return (model.get_image_features(pixel_values=pixels).pooler_output,
                model.get_text_features(input_ids=ids).pooler_output)


@pytest.mark.parametrize("family", FAMILIES)
def test_get_peft_model_wraps_last_blocks_and_projections(family, capsys):
    model = get_peft_model(build_tiny_backbone(family), SCMAConfig(r=4, layers=2))
    model.print_trainable_parameters()
    trainable, total = model.get_nb_trainable_parameters()
    assert f"trainable params: {trainable:,} || all params: {total:,}" in capsys.readouterr().out
    blocks = [n for n, m in model.named_modules() if isinstance(m, SCMABlock)]
    projections = [n for n, m in model.named_modules() if isinstance(m, SCMAProjection)]
    assert len(blocks) == 4 and all(n.endswith(("layers.6", "layers.7")) for n in blocks)
    assert len(projections) == 2
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.split(".")[1].startswith("scma_") for n in trainable)


@pytest.mark.parametrize("family", FAMILIES)
def test_disable_adapter_gives_frozen_backbone_exactly(family):
    # Frozen first: torch's MultiheadAttention (SigLIP's pooling head) takes another kernel when weights need grad.
    backbone = build_tiny_backbone(family).requires_grad_(False)
    pixels, ids = _inputs()
    reference = _features(backbone, pixels, ids)
    model = get_peft_model(backbone, SCMAConfig(r=4, layers=3))
    adapted = _features(model, pixels, ids)
    assert not torch.allclose(adapted[0], reference[0])
    with model.disable_adapter():
        disabled = _features(model, pixels, ids)
    assert torch.equal(disabled[0], reference[0]) and torch.equal(disabled[1], reference[1])
    assert torch.equal(_features(model, pixels, ids)[0], adapted[0])


@pytest.mark.parametrize("family", FAMILIES)
def test_save_and_peft_model_from_pretrained_round_trip(family, tmp_path):
    pixels, ids = _inputs()
    model = get_peft_model(build_tiny_backbone(family), SCMAConfig(r=4, layers=2))
    with torch.no_grad():  # move the weights away from their init so the round trip is meaningful
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05)
    expected = _features(model, pixels, ids)
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["peft_type"] == "SCMA" and config["r"] == 4
    # is_trainable=True keeps requires_grad as in `model`: torch's attention kernels differ in the last bit otherwise.
    loaded = PeftModel.from_pretrained(build_tiny_backbone(family), tmp_path, is_trainable=True)
    got = _features(loaded, pixels, ids)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])
    # PEFT's low_cpu_mem_usage: the tuner-held shared weights are created empty and the saved tensors assigned.
    fast = PeftModel.from_pretrained(build_tiny_backbone(family), tmp_path, is_trainable=True, low_cpu_mem_usage=True)
    assert not any(p.is_meta for p in fast.parameters())
    got = _features(fast, pixels, ids)
    assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_add_adapter_with_low_cpu_mem_usage_creates_it_empty():
    model = get_peft_model(build_tiny_backbone("clip"), SCMAConfig(r=4, layers=2))
    model.add_adapter("second", SCMAConfig(r=4, layers=2), low_cpu_mem_usage=True)
    second = model.base_model.scma_trainable_parameters("second")
    assert second and all(p.is_meta for p in second.values())  # to be loaded (load_adapter / set_peft_model_state_dict)
    assert not any(p.is_meta for p in model.base_model.scma_trainable_parameters("default").values())


def test_shared_parameters_are_stored_once(tmp_path):
    model = get_peft_model(build_tiny_backbone("clip"), SCMAConfig(r=4, layers=3))
    model.save_pretrained(tmp_path)
    state = load_file(tmp_path / "adapter_model.safetensors")
    # 3 shared Down/Up/LN slots + 1 shared P-SCMA, one FFN, one scale vector; nothing per wrapped block.
    assert sum(k.endswith("down.weight") for k in state) == 4
    assert sum("ffn" in k for k in state) == 4  # fc1/fc2 weight+bias, once
    assert set(k.split(".")[1] for k in state) == {"scma_slots", "scma_ffn", "scma_scales"}
    n_saved = sum(v.numel() for v in state.values())
    trainable, _ = model.get_nb_trainable_parameters()
    assert n_saved == trainable


def _count(config: SCMAConfig, family: str = "clip", **kw) -> int:
    model = get_peft_model(build_tiny_backbone(family, **kw), config)
    return model.get_nb_trainable_parameters()[0]


def test_parameter_count_matches_closed_form_for_each_switch():
    d, r, e, layers = 32, 4, 32, 2
    slot = d * r + r + r * d + d + 2 * d           # Down, Up, LayerNorm
    ffn = 2 * (r * r + r)
    p_ref = d * r + r + r * r + r + r * e + e       # Linear(d,r) Linear(r,r) Linear(r,e)
    p_paper = e * r + r + r * r + r + r * e + e + 2 * e
    base = dict(r=r, layers=layers)
    assert _count(SCMAConfig(**base)) == layers * slot + ffn + 2 + p_ref + 2
    assert _count(SCMAConfig(**base, share_across_towers=False)) == 2 * layers * slot + ffn + 2 + 2 * p_ref + 2
    assert _count(SCMAConfig(**base, share_ffn_across_layers=False)) == layers * (slot + ffn) + 2 + p_ref + 2
    assert _count(SCMAConfig(**base, towers="vision")) == layers * slot + ffn + 1 + p_ref + 1
    assert _count(SCMAConfig(**base, projection_adapter=False)) == layers * slot + ffn + 2
    assert _count(SCMAConfig(**base, scale_granularity="layer")) == layers * slot + ffn + 2 * layers + p_ref + 2
    assert _count(SCMAConfig(**base, projection_adapter_style="paper")) == layers * slot + ffn + 2 + p_paper + 2


@pytest.mark.parametrize(
    "switch",
    [dict(placement="parallel"), dict(share_across_towers=False), dict(share_ffn_across_layers=False),
     dict(towers="vision"), dict(towers="text"), dict(projection_adapter=False), dict(scale_granularity="layer"),
     dict(projection_adapter_style="paper"), dict(layers=[0, -1])],
)
def test_each_ablation_switch_runs_and_disables_cleanly(switch):
    backbone = build_tiny_backbone("clip").requires_grad_(False)
    pixels, ids = _inputs()
    reference = _features(backbone, pixels, ids)
    model = get_peft_model(backbone, SCMAConfig(r=4, **{"layers": 2, **switch}))
    image, text = _features(model, pixels, ids)
    towers = switch.get("towers", "both")
    assert torch.equal(image, reference[0]) == (towers == "text")
    assert torch.equal(text, reference[1]) == (towers == "vision")
    with model.disable_adapter():
        assert torch.equal(_features(model, pixels, ids)[0], reference[0])


def test_parallel_placement_reads_block_input():
    """Parallel: block(x) + s*adapter(x); serial: y + s*adapter(y). Check on one wrapped block directly."""
    for placement in ("serial", "parallel"):
        model = get_peft_model(build_tiny_backbone("clip"), SCMAConfig(r=4, layers=1, placement=placement))
        block = model.base_model.model.vision_model.encoder.layers[7]
        x = torch.randn(2, 17, 32)
        with torch.no_grad():
            base_out = block.base_layer(x, None)
            base_out = base_out[0] if isinstance(base_out, tuple) else base_out
            slot = model.base_model.scma_slots["default"]["layer0"]
            ffn = model.base_model.scma_ffn["default"]["ffn"]
            scale = model.base_model.scma_scales["default"].values[0]
            source = base_out if placement == "serial" else x
            expected = base_out + scale * slot(source, ffn)
            out = block(x, None)
            out = out[0] if isinstance(out, tuple) else out
        torch.testing.assert_close(out, expected)


def test_towers_of_different_widths_share_the_ffn_only():
    model = get_peft_model(build_tiny_backbone("clip", vision_width=48, text_width=32), SCMAConfig(r=4, layers=2))
    slots = model.base_model.scma_slots["default"]
    assert sorted(slots) == ["text_layer0", "text_layer1", "text_projection",
                             "vision_layer0", "vision_layer1", "vision_projection"]
    assert slots["vision_layer0"].down.in_features == 48 and slots["text_layer0"].down.in_features == 32
    assert list(model.base_model.scma_ffn["default"]) == ["ffn"]
    pixels, ids = _inputs()
    image, text = _features(model, pixels, ids)
    assert image.shape == text.shape == (2, 32)


def test_second_adapter_and_switching():
    pixels, ids = _inputs()
    model = get_peft_model(build_tiny_backbone("clip"), SCMAConfig(r=4, layers=1))
    first = _features(model, pixels, ids)
    model.add_adapter("other", SCMAConfig(r=2, layers=2))
    model.set_adapter("other")
    second = _features(model, pixels, ids)
    assert not torch.equal(first[0], second[0])
    assert not any(p.requires_grad for n, p in model.named_parameters() if ".default" in n)
    model.set_adapter("default")
    assert torch.equal(_features(model, pixels, ids)[0], first[0])
    model.delete_adapter("other")
    assert "other" not in model.base_model.scma_slots


def test_unregistered_backbone_and_bad_layers_raise():
    with pytest.raises(ValueError, match="not a supported dual encoder"):
        get_peft_model(torch.nn.Sequential(torch.nn.Linear(2, 2)), SCMAConfig(r=2))
    with pytest.raises(ValueError, match="only 8"):
        get_peft_model(build_tiny_backbone("clip"), SCMAConfig(r=2, layers=9))
    with pytest.raises(ValueError, match="outside"):
        get_peft_model(build_tiny_backbone("clip"), SCMAConfig(r=2, layers=[8]))
    with pytest.raises(ValueError, match="does not match"):
        get_peft_model(build_tiny_backbone("clip"), SCMAConfig(r=2, layers=1, target_modules=["visual_projection"]))


def test_merge_is_refused():
    model = get_peft_model(build_tiny_backbone("clip"), SCMAConfig(r=2, layers=1))
    with pytest.raises(ValueError, match="cannot be merged"):
        model.merge_and_unload()


@pytest.mark.parametrize("family", [*FAMILIES, "pe_core"])
def test_unload_gives_back_the_original_backbone(family):
    from qclip_hf.testing.tiny_backbones import tiny_pe_core_config
    from qclip_hf.models.pe_core import PECoreModel

    torch.manual_seed(0)
    backbone = PECoreModel(tiny_pe_core_config()) if family == "pe_core" else build_tiny_backbone(family)
    backbone.requires_grad_(False)
    pixels, ids = _inputs()
    reference = _features(backbone, pixels, ids)
    modules = {name: module for name, module in backbone.named_modules()}
    model = get_peft_model(backbone, SCMAConfig(r=4, layers=2))
    assert not torch.allclose(_features(model, pixels, ids)[0], reference[0])

    unloaded = model.unload()  # PEFT's API: the base model without any SCMA module (no merge)
    assert unloaded is backbone
    assert {name: module for name, module in unloaded.named_modules()} == modules  # the same objects, same places
    assert not any("scma" in name for name, _ in unloaded.named_parameters())
    features = _features(unloaded, pixels, ids)
    assert torch.equal(features[0], reference[0]) and torch.equal(features[1], reference[1])

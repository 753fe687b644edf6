"""Checkpoint conversion: key mapping for both published formats, every geometry, and named errors."""

from __future__ import annotations

import pytest
import torch

from qclip_hf.models.pe_core import PE_CORE_PRESETS, PECoreConfig, PECoreModel
from qclip_hf.models.pe_core.convert_pe_core_checkpoint import (
    PECoreCheckpointError,
    convert_pe_core_state_dict,
    detect_checkpoint_source,
    main,
    unwrap_state_dict,
)
from qclip_hf.testing.pe_core import to_meta_format, to_meta_format_from_state

open_clip = pytest.importorskip("open_clip")
timm = pytest.importorskip("timm")

OPEN_CLIP_NAMES = {
    "PE-Core-T16-384": "PE-Core-T-16-384",
    "PE-Core-S16-384": "PE-Core-S-16-384",
    "PE-Core-B16-224": "PE-Core-B-16",
    "PE-Core-L14-336": "PE-Core-L-14-336",
    "PE-Core-G14-448": "PE-Core-bigG-14-448",
}


@pytest.mark.parametrize("preset", PE_CORE_PRESETS)
def test_every_published_geometry_maps_open_clip_keys_and_shapes(preset):
    # Built on the meta device: the real T/S/B/L/G key sets and shapes, no memory.
    with torch.device("meta"):
        reference = open_clip.create_model(OPEN_CLIP_NAMES[preset], pretrained=None, device="meta")
    converted = convert_pe_core_state_dict(reference.state_dict(), PECoreConfig.from_preset(preset))
    with torch.device("meta"):
        ours = PECoreModel(PECoreConfig.from_preset(preset))
    assert ours.load_state_dict(converted, strict=True, assign=True)


def test_meta_layout_is_the_one_timm_reads(open_clip_reference):
    # Independent check of the synthetic Meta-format dict: timm's own PE converter maps it back to the trunk.
    reference = open_clip_reference()
    with torch.no_grad():
        reference.visual.trunk.head.bias.zero_()  # Meta's projection has no bias
    meta = to_meta_format(reference)
    from timm.models.eva import checkpoint_filter_fn

    back = checkpoint_filter_fn(meta, reference.visual.trunk)
    trunk = reference.visual.trunk.state_dict()
    assert back.keys() == trunk.keys()
    for key, value in trunk.items():
        torch.testing.assert_close(back[key], value, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("use_class_token", [True, False])
def test_meta_and_open_clip_sources_give_the_same_model(open_clip_reference, tiny_config, use_class_token):
    reference = open_clip_reference(use_class_token=use_class_token)
    config = tiny_config(use_class_token=use_class_token)
    state = {k: v.clone() for k, v in reference.state_dict().items()}
    state["visual.trunk.head.bias"].zero_()
    meta = to_meta_format_from_state(reference, state)
    from_open_clip = convert_pe_core_state_dict(state, config)
    from_meta = convert_pe_core_state_dict(meta, config, source="meta")
    assert from_meta.keys() == from_open_clip.keys()
    for key in from_meta:
        torch.testing.assert_close(from_meta[key], from_open_clip[key], rtol=0, atol=0, msg=key)




def test_containers_and_module_prefix_are_unwrapped(open_clip_reference, tiny_config):
    state = open_clip_reference().state_dict()
    wrapped = {"state_dict": {"module." + k: v for k, v in state.items()}}
    assert unwrap_state_dict(wrapped).keys() == state.keys()
    assert convert_pe_core_state_dict(wrapped, tiny_config()).keys() == convert_pe_core_state_dict(state, tiny_config()).keys()


def test_missing_and_unexpected_keys_are_named(open_clip_reference, tiny_config):
    state = dict(open_clip_reference().state_dict())
    del state["text.ln_final.weight"]
    state["visual.trunk.extra_token"] = torch.zeros(3)
    with pytest.raises(PECoreCheckpointError, match=r"text\.ln_final\.weight.*visual\.trunk\.extra_token") as err:
        convert_pe_core_state_dict(state, tiny_config())
    assert err.value.missing_keys == ["text.ln_final.weight"]
    assert err.value.unexpected_keys == ["visual.trunk.extra_token"]


def test_layer_scale_tensors_without_layer_scale_config_hint(open_clip_reference, tiny_config):
    with pytest.raises(PECoreCheckpointError, match="layer_scale_init_value") as err:
        convert_pe_core_state_dict(open_clip_reference().state_dict(), tiny_config(layer_scale=False))
    assert any(k.endswith("gamma_1") for k in err.value.unexpected_keys)


def test_shape_mismatch_names_target_and_source(open_clip_reference, tiny_config):
    config = tiny_config()
    config.projection_dim = 20  # the checkpoint projects to 24
    with pytest.raises(PECoreCheckpointError, match=r"visual_projection\.weight \(from visual\.trunk\.head\.weight\)"):
        convert_pe_core_state_dict(open_clip_reference().state_dict(), config)


def test_wrong_depth_reports_block_keys(open_clip_reference, tiny_config):
    config = tiny_config()
    config.vision_config.num_hidden_layers = 3
    with pytest.raises(PECoreCheckpointError, match=r"visual\.trunk\.blocks\.2\.norm1\.weight"):
        convert_pe_core_state_dict(open_clip_reference().state_dict(), config)


def test_unknown_format_and_source():
    with pytest.raises(PECoreCheckpointError, match="allowed sources"):
        detect_checkpoint_source({"encoder.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="allowed"):
        convert_pe_core_state_dict({"visual.conv1.weight": torch.zeros(1)}, PECoreConfig(), source="hf")


def test_cli_converts_meta_pt_and_open_clip_safetensors(open_clip_reference, tiny_config, tmp_path):
    from safetensors.torch import save_file

    reference = open_clip_reference()
    state = {k: v.clone() for k, v in reference.state_dict().items()}
    state["visual.trunk.head.bias"].zero_()
    torch.save(to_meta_format_from_state(reference, state), tmp_path / "PE-Core-tiny.pt")
    save_file(state, str(tmp_path / "open_clip_model.safetensors"))
    config_path = tmp_path / "config.json"
    tiny_config().to_json_file(config_path)
    main(["--checkpoint", str(tmp_path / "PE-Core-tiny.pt"), "--config", str(config_path),
          "--output-dir", str(tmp_path / "from_meta"), "--no-processor"])
    main(["--checkpoint", str(tmp_path / "open_clip_model.safetensors"), "--config", str(config_path),
          "--output-dir", str(tmp_path / "from_open_clip")])
    assert (tmp_path / "from_meta" / "model.safetensors").is_file()
    assert (tmp_path / "from_open_clip" / "tokenizer.json").is_file()
    a = PECoreModel.from_pretrained(tmp_path / "from_meta").eval()
    b = PECoreModel.from_pretrained(tmp_path / "from_open_clip").eval()
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(a.get_image_features(pixel_values=pixels).pooler_output,
                                   b.get_image_features(pixel_values=pixels).pooler_output, rtol=0, atol=0)

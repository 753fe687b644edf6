"""PECoreConfig: presets of the published geometries and early, named validation errors."""

from __future__ import annotations

import pytest

from qclip_hf.models.pe_core import PE_CORE_PRESETS, PECoreConfig, PECoreTextConfig, PECoreVisionConfig

# (image size, patch, vision width/depth/heads, class token, text width/depth/heads, context, embed dim), from
# open_clip's PE-Core-*.json, timm's vit_pe_core_* and Meta's core/vision_encoder/config.py.
GEOMETRIES = {
    "PE-Core-T16-384": (384, 16, 192, 12, 3, True, 512, 12, 8, 32, 512),
    "PE-Core-S16-384": (384, 16, 384, 12, 6, True, 512, 12, 8, 32, 512),
    "PE-Core-B16-224": (224, 16, 768, 12, 12, True, 1024, 24, 16, 32, 1024),
    "PE-Core-L14-336": (336, 14, 1024, 24, 16, True, 1024, 24, 16, 32, 1024),
    "PE-Core-G14-448": (448, 14, 1536, 50, 16, False, 1280, 24, 20, 72, 1280),
}


@pytest.mark.parametrize("name", PE_CORE_PRESETS)
def test_presets_have_published_geometry(name):
    config = PECoreConfig.from_preset(name)
    v, t = config.vision_config, config.text_config
    got = (v.image_size, v.patch_size, v.hidden_size, v.num_hidden_layers, v.num_attention_heads, v.use_class_token,
           t.hidden_size, t.num_hidden_layers, t.num_attention_heads, t.max_position_embeddings, config.projection_dim)
    assert got == GEOMETRIES[name]
    assert config.model_type == "pe_core"
    assert v.layer_scale_init_value is None and t.layer_scale_init_value is None  # as released


@pytest.mark.parametrize(
    "alias, canonical",
    [("PE-Core-L-14-336", "PE-Core-L14-336"), ("timm/PE-Core-B-16", "PE-Core-B16-224"),
     ("facebook/PE-Core-G14-448", "PE-Core-G14-448"), ("PE-Core-bigG-14-448", "PE-Core-G14-448")],
)
def test_open_clip_and_hub_names_resolve(alias, canonical):
    assert PECoreConfig.from_preset(alias).to_dict() == PECoreConfig.from_preset(canonical).to_dict()


def test_tower_widths_are_independent():
    config = PECoreConfig.from_preset("PE-Core-B16-224")
    assert (config.vision_config.hidden_size, config.text_config.hidden_size) == (768, 1024)


def test_unknown_preset_lists_allowed():
    with pytest.raises(ValueError, match="PE-Core-L14-336"):
        PECoreConfig.from_preset("PE-Core-XL")


def test_round_trip(tmp_path):
    config = PECoreConfig.from_preset("PE-Core-G14-448", logit_scale_init_value=1.5)
    config.save_pretrained(tmp_path)
    loaded = PECoreConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict()
    assert isinstance(loaded.vision_config, PECoreVisionConfig) and loaded.vision_config.use_class_token is False


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(hidden_size=100, num_attention_heads=3), "hidden_size"),
        (dict(hidden_size=24, num_attention_heads=4, pooling_num_attention_heads=4), "multiple of 4"),
        (dict(image_size=30, patch_size=8), "image_size"),
        (dict(num_hidden_layers=0), "num_hidden_layers"),
        (dict(hidden_act="swishy"), "hidden_act"),
        (dict(layer_scale_init_value=-1.0), "layer_scale_init_value"),
        (dict(rope_theta=0.0), "rope_theta"),
        (dict(hidden_size=64, num_attention_heads=4, pooling_num_attention_heads=5), "pooling_num_attention_heads"),
    ],
)
def test_vision_config_rejects_bad_values(kwargs, field):
    with pytest.raises(ValueError, match=field):
        PECoreVisionConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs, field",
    [(dict(max_position_embeddings=0), "max_position_embeddings"), (dict(hidden_size=30, num_attention_heads=4),
     "hidden_size"), (dict(vocab_size=-3), "vocab_size")],
)
def test_text_config_rejects_bad_values(kwargs, field):
    with pytest.raises(ValueError, match=field):
        PECoreTextConfig(**kwargs)


def test_projection_dim_validated():
    with pytest.raises(ValueError, match="projection_dim"):
        PECoreConfig(projection_dim=0)


def test_activation_error_lists_allowed_values():
    with pytest.raises(ValueError, match="allowed: .*gelu"):
        PECoreTextConfig(hidden_act="nope")

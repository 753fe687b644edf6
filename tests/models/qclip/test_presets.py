"""Preset parameter counts at real geometries, on the meta device (no weights allocated, nothing downloaded)."""

from __future__ import annotations

import pytest
import torch
from transformers import CLIPConfig, CLIPModel

import qclip_hf  # noqa: F401
from qclip_hf import QClipConfig, QClipModel
from qclip_hf.testing.tiny_backbones import build_tiny_tokenizer

# PE-Core-L14-336 geometry as the paper states it: both towers 1024 wide, 24 layers, embed 1024, text context 32.
PE_CORE_L = dict(vision=(1024, 24, 16), text=(1024, 24, 16), embed=1024, image=336, patch=14, context=32)
CLIP_B16 = dict(vision=(768, 12, 12), text=(512, 12, 8), embed=512, image=224, patch=16, context=77)
CLIP_L14 = dict(vision=(1024, 24, 16), text=(768, 12, 12), embed=768, image=224, patch=14, context=77)


def geometry_model(preset: str, geometry: dict, **overrides) -> QClipModel:
    (vw, vl, vh), (tw, tl, th) = geometry["vision"], geometry["text"]
    tokenizer = build_tiny_tokenizer(model_max_length=geometry["context"])
    backbone_config = CLIPConfig(
        vision_config=dict(hidden_size=vw, num_hidden_layers=vl, num_attention_heads=vh, intermediate_size=4 * vw,
                           image_size=geometry["image"], patch_size=geometry["patch"]),
        text_config=dict(hidden_size=tw, num_hidden_layers=tl, num_attention_heads=th, intermediate_size=4 * tw,
                         max_position_embeddings=geometry["context"], vocab_size=49408, pad_token_id=0,
                         bos_token_id=2, eos_token_id=3),
        projection_dim=geometry["embed"],
    )
    with torch.device("meta"):
        backbone = CLIPModel(backbone_config)
    config = QClipConfig.from_preset(preset, backbone_config=backbone_config, **overrides)
    return QClipModel(config, backbone=backbone, tokenizer=tokenizer)


def reference_count(width: int, embed: int, r: int = 128, layers: int = 6, n_ctx: int = 3, levels: int = 5) -> int:
    """The reference release's trainable parameters for towers of equal `width`, written out term by term."""
    per_layer = (width * r + r) + (r * width + width) + 2 * width  # Down, Up, LayerNorm (shared by both towers)
    ffn = 2 * (r * r + r)                                           # one FFN for all layers and both towers
    encoder_scales = 2                                              # one per tower
    projection = (width * r + r) + (r * r + r) + (r * embed + embed)
    projection_scales = 2
    head = levels                                                   # score_proj (5, 1), no bias
    return layers * per_layer + ffn + encoder_scales + projection + projection_scales + n_ctx * width + head


def test_paper_preset_counts_0_14m_at_pe_core_l_geometry():
    count = geometry_model("paper", PE_CORE_L).num_trainable_parameters()
    assert abs(count - 140_000) <= 0.05 * 140_000, count


def test_reference_preset_matches_its_formula_at_pe_core_l_geometry():
    count = geometry_model("reference", PE_CORE_L).num_trainable_parameters()
    assert count == reference_count(1024, 1024)
    assert count == 1_907_977  # the release's QCLIP, counted with its own trainable_parameters() (issue 14)
    # A bare QClipConfig keeps the biased head of models saved before `head_bias` existed.
    assert geometry_model("reference", PE_CORE_L, head_bias=True).num_trainable_parameters() == count + 1


@pytest.mark.parametrize("geometry", [CLIP_B16, CLIP_L14], ids=["clip-b16", "clip-l14"])
def test_presets_build_on_clip_geometries_with_unequal_widths(geometry):
    for preset in ("paper", "reference"):
        model = geometry_model(preset, geometry)
        slots = model.backbone.base_model.scma_slots["default"]
        assert "vision_layer0" in slots and "text_layer0" in slots  # widths differ: Down/Up/LN per tower
        assert model.num_trainable_parameters() > 0

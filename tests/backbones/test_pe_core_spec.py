"""PECoreSpec: PE-Core read through the backbone interface, and SCMA applied to it like to CLIP."""

from __future__ import annotations

import torch

from qclip_hf.backbones import get_backbone_spec, supported_model_types
from qclip_hf.backbones.pe_core import PECoreSpec
from qclip_hf.models.pe_core import PECoreConfig, PECoreModel


def _tiny(vision_width: int = 48, text_width: int = 32, layers: int = 4) -> PECoreModel:
    torch.manual_seed(0)
    config = PECoreConfig(
        vision_config=dict(hidden_size=vision_width, intermediate_size=2 * vision_width, num_hidden_layers=layers,
                           num_attention_heads=vision_width // 16, image_size=32, patch_size=8, pooling_num_attention_heads=4,
                           pooling_intermediate_size=2 * vision_width),
        text_config=dict(hidden_size=text_width, intermediate_size=2 * text_width, num_hidden_layers=layers,
                         num_attention_heads=4, max_position_embeddings=16),
        projection_dim=24,
    )
    return PECoreModel(config).eval()


IDS = torch.tensor([[49406, 320, 1400, 49407, 49407], [49406, 2103, 49407, 49407, 49407]])
MASK = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])


def test_registered_for_pe_core():
    model = _tiny()
    assert "pe_core" in supported_model_types()
    assert isinstance(get_backbone_spec(model), PECoreSpec)


def test_tower_specs_point_at_real_modules():
    model = _tiny(vision_width=48, text_width=32)
    spec = get_backbone_spec(model)
    vision, text = spec.vision_tower(model), spec.text_tower(model)
    assert (vision.width, text.width) == (48, 32)  # independent widths, as PE-Core-B16 (768 / 1024)
    assert (vision.num_blocks, text.num_blocks) == (4, 4)
    assert (vision.projection_in_features, text.projection_in_features) == (48, 32)
    assert vision.embed_dim == text.embed_dim == 24
    for tower in (vision, text):
        assert isinstance(model.get_submodule(tower.blocks_path), torch.nn.ModuleList)
        assert model.get_submodule(tower.block_path(tower.num_blocks - 1)) is not None
        assert isinstance(model.get_submodule(tower.projection_path), torch.nn.Linear)
        assert tower.projection_input_is_pooled
    assert spec.token_embedding(model) is model.text_model.embeddings.token_embedding
    assert spec.text_max_length(model) == 16 and spec.image_size(model) == 32
    assert spec.text_padding == "longest"


def test_features_are_the_projected_embeddings():
    model = _tiny()
    spec = get_backbone_spec(model)
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        image = spec.image_features(model, pixels)
        text = spec.text_features(model, IDS, MASK)
        torch.testing.assert_close(image, model.get_image_features(pixel_values=pixels).pooler_output)
        torch.testing.assert_close(text, model.get_text_features(input_ids=IDS, attention_mask=MASK).pooler_output)
    assert image.shape == (2, 24) and text.shape == (2, 24)
    torch.testing.assert_close(spec.logit_scale(model), model.logit_scale.detach().exp())


def test_scma_wraps_pe_core_blocks_and_projections():
    from peft import get_peft_model

    import qclip_hf.tuners.scma  # noqa: F401  (registers the SCMA PEFT type)
    from qclip_hf.tuners.scma import SCMABlock, SCMAConfig, SCMAProjection

    backbone = _tiny(vision_width=32, text_width=32).requires_grad_(False)
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        frozen = backbone.get_image_features(pixel_values=pixels).pooler_output
    model = get_peft_model(backbone, SCMAConfig(r=4, layers=2)).eval()
    blocks = [n for n, m in model.named_modules() if isinstance(m, SCMABlock)]
    assert len(blocks) == 4 and all(n.endswith(("layers.2", "layers.3")) for n in blocks)
    assert sum(isinstance(m, SCMAProjection) for m in model.modules()) == 2
    with torch.no_grad():
        adapted = model.get_image_features(pixel_values=pixels).pooler_output
        text = model.get_text_features(input_ids=IDS, attention_mask=MASK).pooler_output
    assert adapted.shape == frozen.shape and not torch.allclose(adapted, frozen) and text.shape == (2, 24)
    assert any(p.requires_grad for p in model.parameters())

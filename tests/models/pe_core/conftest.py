"""Tiny PE-Core geometries and open_clip references built from them (random weights, no download)."""

from __future__ import annotations

import pytest
import torch

from qclip_hf.models.pe_core import PECoreConfig

# Small enough to build and run in well under a second, keeping every architectural feature: class token, absolute
# position embedding, 2D RoPE (head width 16), pre-LN, layer scale in both towers, attention pooling with its own
# head count, vision and text towers of different widths, text context shorter than the vocabulary's max id.
TINY = dict(
    vision=dict(width=48, layers=2, heads=3, image_size=32, patch_size=8, pool_heads=4, layer_scale=0.1),
    text=dict(width=32, layers=2, heads=4, context=32, layer_scale=0.1),
    embed_dim=24,
)


def tiny_pe_core_config(use_class_token: bool = True, layer_scale: bool = True) -> PECoreConfig:
    v, t = TINY["vision"], TINY["text"]
    return PECoreConfig(
        vision_config=dict(
            hidden_size=v["width"],
            intermediate_size=4 * v["width"],
            num_hidden_layers=v["layers"],
            num_attention_heads=v["heads"],
            image_size=v["image_size"],
            patch_size=v["patch_size"],
            use_class_token=use_class_token,
            rope_grid_offset=1.0 if use_class_token else 0.0,
            layer_scale_init_value=v["layer_scale"] if layer_scale else None,
            pooling_num_attention_heads=v["pool_heads"],
            pooling_intermediate_size=4 * v["width"],
        ),
        text_config=dict(
            hidden_size=t["width"],
            intermediate_size=4 * t["width"],
            num_hidden_layers=t["layers"],
            num_attention_heads=t["heads"],
            max_position_embeddings=t["context"],
            layer_scale_init_value=t["layer_scale"] if layer_scale else None,
        ),
        projection_dim=TINY["embed_dim"],
    )


def build_open_clip_reference(
    use_class_token: bool = True, layer_scale: bool = True, seed: int = 0
) -> torch.nn.Module:
    """open_clip's PE-Core model class (`CustomTextCLIP` with a timm `vit_pe_core_*` trunk) at the tiny geometry.

    open_clip's PE-Core configs fix the timm trunk by name, so the trunk is rebuilt through timm with the same
    architecture arguments at the tiny size. Every tensor then gets noise of std 0.3: no parameter keeps a trivial
    initial value (zero biases, unit norms) that would hide a wrong mapping, and attention logits become large
    enough that a RoPE or position error moves the embeddings by ~10 % instead of ~1e-5.
    """
    import timm
    from open_clip.model import CustomTextCLIP

    v, t = TINY["vision"], TINY["text"]
    grid = v["image_size"] // v["patch_size"]
    torch.manual_seed(seed)
    model = CustomTextCLIP(
        embed_dim=TINY["embed_dim"],
        vision_cfg=dict(
            image_size=v["image_size"],
            timm_model_name="vit_pe_core_tiny_patch16_384",
            timm_model_pretrained=False,
            timm_pool="map",
            timm_proj=None,
        ),
        text_cfg=dict(
            context_length=t["context"],
            vocab_size=49408,
            width=t["width"],
            heads=t["heads"],
            layers=t["layers"],
            ls_init_value=t["layer_scale"] if layer_scale else None,
        ),
    )
    model.visual.trunk = timm.create_model(
        "vit_pe_core_tiny_patch16_384",
        pretrained=False,
        num_classes=TINY["embed_dim"],
        global_pool="map",
        img_size=v["image_size"],
        patch_size=v["patch_size"],
        embed_dim=v["width"],
        depth=v["layers"],
        num_heads=v["heads"],
        ref_feat_shape=(grid, grid),
        attn_pool_num_heads=v["pool_heads"],
        init_values=v["layer_scale"] if layer_scale else None,
        class_token=use_class_token,
        rope_grid_offset=1.0 if use_class_token else 0.0,
    )
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.3 * torch.randn(tensor.shape, generator=generator))
    return model.eval()


@pytest.fixture(scope="session")
def tiny_config():
    """Factory: `tiny_config(use_class_token=True, layer_scale=True)` -> a tiny `PECoreConfig`."""
    return tiny_pe_core_config


@pytest.fixture(scope="session")
def open_clip_reference():
    """Factory: `open_clip_reference(use_class_token=True, layer_scale=True)` -> cached tiny open_clip model."""
    pytest.importorskip("open_clip")
    pytest.importorskip("timm")
    cache = {}

    def make(use_class_token: bool = True, layer_scale: bool = True):
        key = (use_class_token, layer_scale)
        if key not in cache:
            cache[key] = build_open_clip_reference(use_class_token, layer_scale)
        return cache[key]

    return make

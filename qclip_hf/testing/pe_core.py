"""Test helpers for PE-Core: Meta's release layout of an open_clip PE-Core model (to fake a `facebook/PE-Core-*` repo)."""

from __future__ import annotations

import torch


def to_meta_format(reference: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Meta's release layout (`core/vision_encoder/pe.py`) of an open_clip PE-Core model's weights."""
    sd = reference.state_dict()
    meta = {"logit_scale": sd["logit_scale"]}
    for key, value in sd.items():
        if key.startswith("text."):
            meta[key[len("text."):]] = value
    trunk = {k[len("visual.trunk."):]: v for k, v in sd.items() if k.startswith("visual.trunk.")}
    renames = [("norm1", "ln_1"), ("norm2", "ln_2"), ("attn.qkv.weight", "attn.in_proj_weight"),
               ("attn.qkv.bias", "attn.in_proj_bias"), ("attn.proj", "attn.out_proj"), ("mlp.fc1", "mlp.c_fc"),
               ("mlp.fc2", "mlp.c_proj"), ("gamma_1", "ls_1.gamma"), ("gamma_2", "ls_2.gamma")]
    for key, value in trunk.items():
        if key.startswith("blocks."):
            for old, new in renames:
                key = key.replace(old, new)
            meta["visual.transformer.resblocks." + key[len("blocks."):]] = value
    meta["visual.conv1.weight"] = trunk["patch_embed.proj.weight"]
    if "cls_token" in trunk:
        meta["visual.class_embedding"] = trunk["cls_token"].reshape(-1)
    meta["visual.positional_embedding"] = trunk["pos_embed"][0]
    for name, src in [("ln_pre", "norm_pre"), ("ln_post", "norm")]:
        meta[f"visual.{name}.weight"], meta[f"visual.{name}.bias"] = trunk[f"{src}.weight"], trunk[f"{src}.bias"]
    pool = "visual.attn_pool"
    meta[f"{pool}.probe"] = trunk["attn_pool.latent"]
    meta[f"{pool}.attn.in_proj_weight"] = torch.cat([trunk["attn_pool.q.weight"], trunk["attn_pool.kv.weight"]])
    meta[f"{pool}.attn.in_proj_bias"] = torch.cat([trunk["attn_pool.q.bias"], trunk["attn_pool.kv.bias"]])
    for name, src in [("attn.out_proj", "proj"), ("layernorm", "norm"), ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")]:
        for p in ("weight", "bias"):
            meta[f"{pool}.{name}.{p}"] = trunk[f"attn_pool.{src}.{p}"]
    meta["visual.proj"] = trunk["head.weight"].t()
    return meta


def to_meta_format_from_state(reference: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """[`to_meta_format`] of `state`, a state dict of `reference`'s architecture."""
    holder = type("Holder", (), {"state_dict": lambda self: state})()
    return to_meta_format(holder)

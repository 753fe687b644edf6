"""Tiny random dual encoders with a word-level tokenizer, built and saved locally.

They are the embedded default backbone (the README's main job runs on one with no download) and the
models every test builds, the way transformers' ModelTesters build tiny random configs. Real
checkpoints are loaded with the same code path, by their Hub id.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import (
    CLIPConfig,
    CLIPModel,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    SiglipConfig,
    SiglipModel,
)

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<|startoftext|>", "<|endoftext|>"
# Token ids chosen so that CLIP pools at the first EOS (`eos_token_id != 2`, see CLIPTextTransformer).
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3

_WORDS = (
    "a an the of in on at with and or is are this that video photo picture image clip frame quality "
    "excellent good fair poor bad high low perfect terrible great average decent sharp blurry noisy "
    "clear clean grainy compressed pixelated shaky stable bright dark colorful dull vivid faded smooth "
    "choppy natural artificial scene person people animal city nature sky water street indoor outdoor"
).split()

FAMILIES = ("clip", "siglip", "metaclip_2")


def build_tiny_tokenizer(model_max_length: int = 32, padding_side: str = "right") -> PreTrainedTokenizerFast:
    """A lower-casing word-level tokenizer that wraps every text as `<|startoftext|> ... <|endoftext|>`.

    Its vocabulary holds the prompt words Q-CLIP uses ("x", "a", "video", "of", the quality levels, ...),
    single letters and digits, so any prompt of the five-level or antonym schemes tokenises without
    unknown tokens.

    Example:
        ```python
        >>> tok = build_tiny_tokenizer()
        >>> tok("X X X a video of good quality").input_ids[:4]
        [2, 27, 27, 27]
        ```
    """
    vocab = {PAD: PAD_ID, UNK: UNK_ID, BOS: BOS_ID, EOS: EOS_ID}
    for word in list(string.ascii_lowercase) + list(string.digits) + list(_WORDS):
        vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", special_tokens=[(BOS, BOS_ID), (EOS, EOS_ID)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        model_max_length=model_max_length,
        padding_side=padding_side,
    )


def tiny_backbone_config(
    family: str = "clip",
    vision_width: int = 32,
    text_width: int = 32,
    num_layers: int = 8,
    embed_dim: int = 32,
    image_size: int = 32,
    patch_size: int = 8,
    max_position_embeddings: int = 32,
    initializer_factor: float = 1.0,
):
    """Config of a tiny random dual encoder of `family` (one of `FAMILIES`).

    `initializer_factor` scales the random init; above 1 the embeddings of different images are less alike, which a
    random backbone needs before its features say anything about an input (the demo uses 3).
    """
    vocab_size = len(build_tiny_tokenizer().get_vocab())
    text = {
        "vocab_size": vocab_size,
        "hidden_size": text_width,
        "intermediate_size": 2 * text_width,
        "num_hidden_layers": num_layers,
        "num_attention_heads": 4,
        "max_position_embeddings": max_position_embeddings,
        "initializer_factor": initializer_factor,
        "pad_token_id": PAD_ID,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
    }
    vision = {
        "hidden_size": vision_width,
        "intermediate_size": 2 * vision_width,
        "num_hidden_layers": num_layers,
        "num_attention_heads": 4,
        "image_size": image_size,
        "patch_size": patch_size,
        "initializer_factor": initializer_factor,
    }
    if family == "clip":
        return CLIPConfig(text_config=text, vision_config=vision, projection_dim=embed_dim,
                          initializer_factor=initializer_factor)
    if family == "metaclip_2":
        from transformers import MetaClip2Config

        return MetaClip2Config(text_config=text, vision_config=vision, projection_dim=embed_dim,
                               initializer_factor=initializer_factor)
    if family == "siglip":
        text["projection_size"] = embed_dim
        return SiglipConfig(text_config=text, vision_config=vision)
    raise ValueError(f"family={family!r} is not a tiny backbone family; allowed: {list(FAMILIES)}")


def build_tiny_backbone(family: str = "clip", seed: int = 0, **config_kwargs) -> PreTrainedModel:
    """A tiny random dual encoder, deterministic for `seed`.

    Example:
        ```python
        >>> model = build_tiny_backbone("clip", vision_width=48)
        >>> model.config.vision_config.hidden_size
        48
        ```
    """
    config = tiny_backbone_config(family, **config_kwargs)
    model_cls = {"clip": CLIPModel, "siglip": SiglipModel}.get(family)
    if model_cls is None:
        from transformers import MetaClip2Model

        model_cls = MetaClip2Model
    torch.manual_seed(seed)
    model = model_cls(config)
    if family == "clip" or family == "metaclip_2":
        # CLIP's default logit scale (ln 100 after training) so level probabilities are not flat.
        with torch.no_grad():
            model.logit_scale.fill_(4.6052)
    return model.eval()


def save_tiny_backbone(save_directory: str | os.PathLike, family: str = "clip", seed: int = 0, **config_kwargs) -> Path:
    """Build a tiny backbone and save it with its tokenizer, loadable by `from_pretrained(save_directory)`."""
    save_directory = Path(save_directory)
    model = build_tiny_backbone(family, seed=seed, **config_kwargs)
    model.save_pretrained(save_directory)
    max_len = model.config.text_config.max_position_embeddings
    build_tiny_tokenizer(model_max_length=max_len).save_pretrained(save_directory)
    return save_directory


def tiny_pe_core_config(
    width: int = 32,
    num_layers: int = 4,
    num_heads: int = 2,
    image_size: int = 32,
    patch_size: int = 8,
    pooling_heads: int = 4,
    context_length: int = 32,
    layer_scale: float | None = 0.1,
    **vision_overrides,
):
    """Config of a tiny random PE-Core dual encoder in the reference release's layout: both towers and the joint
    embedding `width` wide (the release shares adapter weights across towers and adds P-SCMA's `width`-sized output
    to the projected feature, so it needs all three equal), a class token and 2D RoPE (head width 16 by default).

    `vision_overrides` go to the vision config (e.g. `legacy_class_token_rope=True`).
    """
    from ..models.pe_core import PECoreConfig

    vision = dict(hidden_size=width, intermediate_size=2 * width, num_hidden_layers=num_layers,
                  num_attention_heads=num_heads, image_size=image_size, patch_size=patch_size,
                  layer_scale_init_value=layer_scale, pooling_num_attention_heads=pooling_heads,
                  pooling_intermediate_size=2 * width, **vision_overrides)
    text = dict(hidden_size=width, intermediate_size=2 * width, num_hidden_layers=num_layers,
                num_attention_heads=num_heads, max_position_embeddings=context_length, layer_scale_init_value=layer_scale)
    return PECoreConfig(vision_config=vision, text_config=text, projection_dim=width)


def tiny_pe_core_meta_state_dict(config, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random PE-Core weights for `config` in the layout of Meta's release (`core/vision_encoder/pe.py`), the layout
    the Q-CLIP release saves under `clip_model.`.

    Each tensor is drawn from its own generator seeded by `seed` and its name, so the weights do not depend on how a
    model class orders or groups its parameters: LayerNorm weights `1 + 0.1 N(0,1)`, matrices `N(0,1)/sqrt(fan_in)`,
    biases and layer scales `0.1 N(0,1)` (no trivial zero or unit values that would hide a wrong mapping),
    embeddings `0.5 N(0,1)`, `logit_scale` ln(100).
    """
    import zlib

    vision, text = config.vision_config, config.text_config
    w, e = vision.hidden_size, config.projection_dim
    shapes: dict[str, tuple[int, ...]] = {
        "visual.conv1.weight": (w, vision.num_channels, vision.patch_size, vision.patch_size),
        "visual.positional_embedding": (vision.num_positions, w),
        "visual.ln_pre.weight": (w,), "visual.ln_pre.bias": (w,),
        "visual.ln_post.weight": (w,), "visual.ln_post.bias": (w,),
        "visual.attn_pool.probe": (1, 1, w),
        "visual.attn_pool.attn.in_proj_weight": (3 * w, w), "visual.attn_pool.attn.in_proj_bias": (3 * w,),
        "visual.attn_pool.attn.out_proj.weight": (w, w), "visual.attn_pool.attn.out_proj.bias": (w,),
        "visual.attn_pool.layernorm.weight": (w,), "visual.attn_pool.layernorm.bias": (w,),
        "visual.attn_pool.mlp.c_fc.weight": (vision.pooling_intermediate_size, w),
        "visual.attn_pool.mlp.c_fc.bias": (vision.pooling_intermediate_size,),
        "visual.attn_pool.mlp.c_proj.weight": (w, vision.pooling_intermediate_size),
        "visual.attn_pool.mlp.c_proj.bias": (w,),
        "visual.proj": (w, e),
        "token_embedding.weight": (text.vocab_size, text.hidden_size),
        "positional_embedding": (text.max_position_embeddings, text.hidden_size),
        "ln_final.weight": (text.hidden_size,), "ln_final.bias": (text.hidden_size,),
        "text_projection": (text.hidden_size, e),
    }
    if vision.use_class_token:
        shapes["visual.class_embedding"] = (w,)
    for prefix, tower in (("visual.transformer", vision), ("transformer", text)):
        d, m = tower.hidden_size, tower.intermediate_size
        for i in range(tower.num_hidden_layers):
            block = f"{prefix}.resblocks.{i}"
            shapes.update({
                f"{block}.ln_1.weight": (d,), f"{block}.ln_1.bias": (d,),
                f"{block}.ln_2.weight": (d,), f"{block}.ln_2.bias": (d,),
                f"{block}.attn.in_proj_weight": (3 * d, d), f"{block}.attn.in_proj_bias": (3 * d,),
                f"{block}.attn.out_proj.weight": (d, d), f"{block}.attn.out_proj.bias": (d,),
                f"{block}.mlp.c_fc.weight": (m, d), f"{block}.mlp.c_fc.bias": (m,),
                f"{block}.mlp.c_proj.weight": (d, m), f"{block}.mlp.c_proj.bias": (d,),
            })
            if tower.layer_scale_init_value is not None:
                shapes[f"{block}.ls_1.gamma"] = (d,)
                shapes[f"{block}.ls_2.gamma"] = (d,)
    state = {"logit_scale": torch.tensor(4.6052)}
    for name, shape in shapes.items():
        generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
        noise = torch.randn(shape, generator=generator)
        if ".ln" in name and name.endswith(".weight") or name.endswith("layernorm.weight"):
            value = 1.0 + 0.1 * noise
        elif name.endswith(("embedding", "embedding.weight", "probe")):
            value = 0.5 * noise
        elif len(shape) >= 2:
            value = noise / (shape[0] if name in ("visual.proj", "text_projection") else shape[-1]) ** 0.5
        else:
            value = 0.1 * noise
        state[name] = value
    return state


def build_tiny_pe_core_backbone(seed: int = 0, **config_kwargs) -> PreTrainedModel:
    """A tiny random [`PECoreModel`] with the weights of [`tiny_pe_core_meta_state_dict`], deterministic for `seed`
    whatever the model's internal layout."""
    from ..models.pe_core import PECoreModel
    from ..models.pe_core.convert_pe_core_checkpoint import convert_pe_core_state_dict

    config = tiny_pe_core_config(**config_kwargs)
    weights = convert_pe_core_state_dict(tiny_pe_core_meta_state_dict(config, seed), config, source="meta")
    with torch.device("meta"):
        model = PECoreModel(config)
    model.load_state_dict(weights, strict=True, assign=True)
    return model.eval()


def save_tiny_pe_core_backbone(save_directory: str | os.PathLike, seed: int = 0, **config_kwargs) -> Path:
    """Build a tiny PE-Core backbone and save it with the CLIP BPE tokenizer PE-Core uses (needs `open_clip`'s
    bundled merges file)."""
    from ..models.pe_core import build_pe_core_tokenizer

    save_directory = Path(save_directory)
    model = build_tiny_pe_core_backbone(seed=seed, **config_kwargs)
    model.save_pretrained(save_directory)
    build_pe_core_tokenizer(model.config.text_config.max_position_embeddings).save_pretrained(save_directory)
    return save_directory

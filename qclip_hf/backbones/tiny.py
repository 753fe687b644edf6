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

"""The PE-Core tokenizer (CLIP BPE from open_clip's vocabulary file) and image processor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoProcessor, AutoTokenizer, CLIPTokenizer

from qclip_hf.models.pe_core import (
    PECoreConfig,
    build_pe_core_image_processor,
    build_pe_core_processor,
    build_pe_core_tokenizer,
    write_clip_bpe_vocab,
)

open_clip = pytest.importorskip("open_clip")

TEXTS = [
    "X X X a video of good quality",
    "Hello,   World... 123 4.5 don't it's we'll",
    "café naïve ñ 日本語 😀 emoji",
    "UPPER lower MiXeD-case_with_underscores",
    "a " * 40,  # truncated
    "",
]


@pytest.fixture(scope="module")
def tokenizer():
    return build_pe_core_tokenizer(32)


@pytest.mark.parametrize("context", [32, 72])
def test_ids_match_open_clip_up_to_end_of_text(context):
    ours = build_pe_core_tokenizer(context)(TEXTS, padding="max_length", truncation=True, return_tensors="pt")
    reference = open_clip.tokenizer.SimpleTokenizer(context_length=context)(TEXTS)
    valid = ours.attention_mask.bool()
    assert ours.input_ids.shape == reference.shape
    assert torch.equal(ours.input_ids[valid], reference[valid])
    assert torch.equal(valid.sum(-1), reference.argmax(-1) + 1)  # mask ends at the first end-of-text


def test_saved_tokenizer_reloads_with_auto_tokenizer(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded.model_max_length == 32
    a = tokenizer(TEXTS, padding="max_length", truncation=True).input_ids
    assert reloaded(TEXTS, padding="max_length", truncation=True).input_ids == a


def test_vocab_files_load_as_clip_tokenizer(tokenizer, tmp_path):
    vocab_file, merges_file = write_clip_bpe_vocab(tmp_path)
    from_files = CLIPTokenizer(vocab=str(vocab_file), merges=str(merges_file), model_max_length=32)
    assert len(from_files) == len(tokenizer) == 49408
    assert from_files(TEXTS[:4]).input_ids == tokenizer(TEXTS[:4]).input_ids


def test_context_length_validated():
    with pytest.raises(ValueError, match="context_length"):
        build_pe_core_tokenizer(1)


def test_image_processor_squashes_and_normalises():
    processor = build_pe_core_image_processor(48)
    image = Image.fromarray(np.full((30, 90, 3), 51, dtype=np.uint8))  # non-square: squashed, not cropped
    pixels = processor(images=image, return_tensors="pt").pixel_values
    assert pixels.shape == (1, 3, 48, 48)
    torch.testing.assert_close(pixels, torch.full_like(pixels, (51 / 255 - 0.5) / 0.5), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="image_size"):
        build_pe_core_image_processor(0)


def test_processor_follows_config_and_round_trips(tmp_path):
    config = PECoreConfig.from_preset("PE-Core-G14-448")
    processor = build_pe_core_processor(config)
    assert processor.tokenizer.model_max_length == 72
    assert processor.image_processor.size["height"] == 448
    processor.save_pretrained(tmp_path)
    reloaded = AutoProcessor.from_pretrained(tmp_path)
    assert list(reloaded.image_processor.image_mean) == [0.5, 0.5, 0.5]
    assert reloaded.tokenizer("a video").input_ids == processor.tokenizer("a video").input_ids

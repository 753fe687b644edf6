"""Parity with open_clip's PE-Core (random weights, float32): embeddings to 1e-5 relative, same tokenisation.

The real L14-336 geometry runs in `bench/pe_core_l14_parity.py` (about a minute and 4 GB here, too slow for CI);
its key set and shapes are checked for every published geometry in `test_convert_pe_core_checkpoint.py`.
"""

from __future__ import annotations

import pytest
import torch

from qclip_hf.models.pe_core import PECoreModel, build_pe_core_tokenizer
from qclip_hf.models.pe_core.convert_pe_core_checkpoint import convert_pe_core_state_dict

open_clip = pytest.importorskip("open_clip")

PROMPTS = [f"X X X a video of {level} quality" for level in ("excellent", "good", "fair", "poor", "bad")] + [
    "A shaky, blurry clip... filmed at night (2019)!",
    "an extremely long description of a video that keeps going and going with many many words so that it has to be "
    "truncated at the thirty second token of the context window",
]


def _relative(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return ((ours - reference).abs().max() / reference.abs().max()).item()


@pytest.mark.parametrize("use_class_token", [True, False], ids=["class-token", "no-class-token"])
def test_embeddings_match_open_clip(open_clip_reference, tiny_config, use_class_token):
    reference = open_clip_reference(use_class_token=use_class_token)
    config = tiny_config(use_class_token=use_class_token)
    ours = PECoreModel(config).eval()
    ours.load_state_dict(convert_pe_core_state_dict(reference.state_dict(), config), strict=True)

    torch.manual_seed(0)
    pixels = torch.randn(4, 3, 32, 32)
    oc_ids = open_clip.get_tokenizer("PE-Core-L-14-336")(PROMPTS)
    batch = build_pe_core_tokenizer(32)(PROMPTS, padding="max_length", truncation=True, return_tensors="pt")
    with torch.no_grad():
        ref_image, ref_text = reference.encode_image(pixels), reference.encode_text(oc_ids)
        image = ours.get_image_features(pixel_values=pixels).pooler_output
        text = ours.get_text_features(batch.input_ids, attention_mask=batch.attention_mask).pooler_output
        text_oc_ids = ours.get_text_features(oc_ids).pooler_output
    image_diff, text_diff = _relative(image, ref_image), _relative(text, ref_text)
    print(f"max relative difference ({'with' if use_class_token else 'without'} class token): "
          f"image {image_diff:.2e}, text {text_diff:.2e}, text on open_clip ids {_relative(text_oc_ids, ref_text):.2e}")
    assert image_diff <= 1e-5 and text_diff <= 1e-5 and _relative(text_oc_ids, ref_text) <= 1e-5


def test_tokenisation_matches_open_clip():
    oc_ids = open_clip.get_tokenizer("PE-Core-L-14-336")(PROMPTS)
    batch = build_pe_core_tokenizer(32)(PROMPTS, padding="max_length", truncation=True, return_tensors="pt")
    assert batch.input_ids.shape == oc_ids.shape == (len(PROMPTS), 32)
    valid = batch.attention_mask.bool()
    assert torch.equal(batch.input_ids[valid], oc_ids[valid])
    # Padding: open_clip writes 0, the transformers tokenizer end-of-text; both are after the first end-of-text.
    assert (oc_ids[~valid] == 0).all() and (batch.input_ids[~valid] == 49407).all()
    assert torch.equal(batch.input_ids.argmax(-1), oc_ids.argmax(-1))
    assert batch.input_ids[-1, -1].item() == 49407  # truncated row still ends with end-of-text

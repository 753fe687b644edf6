"""Parity of PECoreModel with open_clip's PE-Core-L-14-336 at the real geometry (random weights, no download).

Builds open_clip's model, converts its state dict, runs both on the same random image batch and tokenised prompts in
float32 and prints the largest relative differences of the image and text embeddings, plus build/convert/forward
times and peak memory. Exits non-zero if a difference exceeds 1e-5 (relative to the reference's largest magnitude).

Run: python bench/pe_core_l14_parity.py [--images 2]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import torch


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()

    import open_clip

    from qclip_hf.models.pe_core import PECoreConfig, PECoreModel, build_pe_core_tokenizer
    from qclip_hf.models.pe_core.convert_pe_core_checkpoint import convert_pe_core_state_dict

    torch.manual_seed(0)
    start = time.perf_counter()
    reference = open_clip.create_model("PE-Core-L-14-336", pretrained=None).eval()
    built = time.perf_counter()
    config = PECoreConfig.from_preset("PE-Core-L-14-336")
    weights = convert_pe_core_state_dict(reference.state_dict(), config)
    with torch.device("meta"):
        ours = PECoreModel(config)
    ours.load_state_dict(weights, strict=True, assign=True)
    ours.eval()
    converted = time.perf_counter()

    prompts = [f"X X X a video of {level} quality" for level in ("excellent", "good", "fair", "poor", "bad")]
    oc_ids = open_clip.get_tokenizer("PE-Core-L-14-336")(prompts)
    batch = build_pe_core_tokenizer(32)(prompts, padding="max_length", truncation=True, return_tensors="pt")
    valid = batch.attention_mask.bool()
    tokens_match = bool((batch.input_ids[valid] == oc_ids[valid]).all())
    pixels = torch.randn(args.images, 3, 336, 336)

    with torch.inference_mode():
        # One warm-up image each so neither side pays first-call allocation in the timed pass.
        reference.encode_image(pixels[:1])
        ours.get_image_features(pixel_values=pixels[:1])
        t0 = time.perf_counter()
        ref_image, ref_text = reference.encode_image(pixels), reference.encode_text(oc_ids)
        t1 = time.perf_counter()
        our_image = ours.get_image_features(pixel_values=pixels).pooler_output
        our_text = ours.get_text_features(batch.input_ids, attention_mask=batch.attention_mask).pooler_output
        t2 = time.perf_counter()

    image_diff = ((our_image - ref_image).abs().max() / ref_image.abs().max()).item()
    text_diff = ((our_text - ref_text).abs().max() / ref_text.abs().max()).item()
    print(f"open_clip build: {built - start:.1f} s; convert + load: {converted - built:.1f} s")
    print(f"forward ({args.images} images + 5 prompts): open_clip {t1 - t0:.1f} s, PECoreModel {t2 - t1:.1f} s "
          f"(ratio {(t2 - t1) / (t1 - t0):.2f})")
    print(f"peak RSS: {_peak_rss_gb():.1f} GB")
    print(f"tokenisation matches open_clip on all non-padding positions: {tokens_match}")
    print(f"max relative difference: image {image_diff:.2e}, text {text_diff:.2e}")
    return 0 if tokens_match and max(image_diff, text_diff) <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())

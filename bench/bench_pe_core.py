"""PE-Core compute benchmark: `PECoreModel` against open_clip's PE-Core on identical random weights, CPU.

Rows (issue 12 item 4), each a time ratio ours / open_clip measured in the same run (target <= 1.0, i.e. at least
as fast as open_clip):

- image forward at batch 1 and batch 4 (vision tower + projection, `inference_mode`; the text tower runs once per
  loaded Q-CLIP model and is cached, so scoring is image-bound), float32, and bfloat16 where the CPU supports it;
- one train step at batch 1 and 4: images and the five Q-CLIP prompts through both towers, a contrastive loss,
  backward into every parameter and an SGD step (the whole network's backward, as Q-CLIP training runs through
  the frozen towers to its adapters and prompt vectors);
- model build time (random initialisation of a new model from its configuration);
- parity: largest difference of image / text embeddings relative to open_clip's largest magnitude (<= 1e-5).

Timings are the best of `--repeats` runs, ours and open_clip interleaved (alternating which goes first), after
one warm-up call each (forward rows: at least 5, they are short). Allocator noise is taken out for both sides alike:
glibc is told to keep freed memory (`mallopt`: blocks up to 32 MB from its heap, no trimming) and the train step
zeroes gradients in place (`zero_grad(set_to_none=False)`), so neither side pays page faults for memory it had a
moment before: the 200 MB gradient of the token embedding alone made single steps vary by +-10 %. By default they are the process's CPU time with one intra-op thread: on a machine shared
with other jobs, wall-clock times of the same call vary several-fold with the load, CPU time of a single thread
hardly does. `--wall --threads 2` measures wall-clock time with two threads instead.

Geometries: `--quick` uses PE-Core-T-16-384 (vision 192 wide, 577 tokens); the default PE-Core-B-16 (vision 768
wide, 197 tokens, 1024-wide 24-layer text tower); `--geometry PE-Core-L-14-336` is the paper's backbone
(about 3.4 GB per model and minutes on 2 cores: run it rarely).

Usage:
    python bench/bench_pe_core.py [--quick] [--geometry PE-Core-L-14-336] [--repeats 3] [--no-train]
        [--threads 1] [--wall] [--batches 1,4] [--train-batches 1,4]

The paper geometry's final figures were taken with
    python bench/bench_pe_core.py --geometry PE-Core-L-14-336 --repeats 1 --train-batches 1
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUICK_GEOMETRY = "PE-Core-T-16-384"
DEFAULT_GEOMETRY = "PE-Core-B-16"
PROMPTS = [f"X X X a video of {level} quality" for level in ("excellent", "good", "fair", "poor", "bad")]
PARITY_TOLERANCE = 1e-5


def _row(name: str, unit: str, ours: float | None, baseline: float | None, target: str, note: str = "") -> dict:
    ratio = ours / baseline if ours is not None and baseline else None
    limit = float(target.split()[-1])
    value = ratio if ratio is not None else ours
    return {"name": name, "unit": unit, "ours": ours, "baseline": baseline, "ratio": ratio, "target": target,
            "passed": value is not None and value <= limit, "note": note}


_clock = time.process_time


def _best_interleaved(ours: Callable[[], object], reference: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best time of each callable over `repeats` rounds, alternating which runs first; one warm-up each."""
    ours(), reference()
    times = {"ours": [], "reference": []}
    for r in range(repeats):
        order = [("ours", ours), ("reference", reference)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            start = _clock()
            fn()
            times[name].append(_clock() - start)
    return min(times["ours"]), min(times["reference"])


def _pin_allocator() -> bool:
    """Ask glibc to reuse freed memory instead of returning it to the system (see the module docstring)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)) and bool(
            libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):  # not glibc (macOS, musl): measure as is
        return False


def _train_step(model, optimizer, forward: Callable[[], tuple]) -> None:
    import torch
    import torch.nn.functional as F

    image, text, scale = forward()
    logits = scale * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).t()
    loss = F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=False)


def _bf16_supported() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def run(quick: bool = False, geometry: str | None = None, repeats: int | None = None, train: bool = True,
        threads: int = 1, wall: bool = False, batches: tuple[int, ...] = (1, 4),
        train_batches: tuple[int, ...] = (1, 4)) -> list[dict]:
    """Benchmark rows (see the module docstring); `geometry` overrides the quick / default choice."""
    global _clock
    import open_clip
    import torch

    torch.set_num_threads(threads)
    _clock = time.perf_counter if wall else time.process_time
    repeats = repeats or (2 if quick else 3)
    forward_repeats = max(repeats, 5)
    pinned = _pin_allocator()

    from qclip_hf.models.pe_core import PECoreConfig, PECoreModel, build_pe_core_tokenizer
    from qclip_hf.models.pe_core.convert_pe_core_checkpoint import convert_pe_core_state_dict

    geometry = geometry or (QUICK_GEOMETRY if quick else DEFAULT_GEOMETRY)
    note = (f"{geometry}, random weights, {'wall-clock' if wall else 'CPU'} time, {torch.get_num_threads()} "
            f"thread(s), best of {repeats} (forward: {forward_repeats})"
            f"{', glibc keeps freed memory' if pinned else ''}")
    rows = []

    config = PECoreConfig.from_preset(geometry)
    # Quick and default geometries: best of interleaved builds, like the other rows (one build each would leave the
    # row to the page-fault and cache noise of a shared machine). Larger geometries cost up to a minute per build.
    repeat_builds = geometry in (QUICK_GEOMETRY, DEFAULT_GEOMETRY)
    if repeat_builds:
        build_ours, build_reference = _best_interleaved(
            lambda: PECoreModel(config), lambda: open_clip.create_model(geometry, pretrained=None), repeats)
    gc.collect()
    start = _clock()
    ours = PECoreModel(config)
    build_once = _clock() - start
    gc.collect()
    start = _clock()
    reference = open_clip.create_model(geometry, pretrained=None)
    if not repeat_builds:
        build_ours, build_reference = build_once, _clock() - start
    rows.append(_row("PE-Core build (random init)", "s", build_ours, build_reference, "<= 1.0", note))
    with torch.no_grad():  # identical weights: copy open_clip's into ours
        ours.load_state_dict(convert_pe_core_state_dict(reference.state_dict(), config), strict=True)
    ours.eval(), reference.eval()

    size = config.vision_config.image_size
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randn(max(batches + train_batches), 3, size, size, generator=generator)
    tokens = build_pe_core_tokenizer(config.text_config.max_position_embeddings)(
        PROMPTS, padding="max_length", truncation=True, return_tensors="pt")
    oc_ids = open_clip.get_tokenizer(geometry)(PROMPTS)

    with torch.inference_mode():
        ref_image, ref_text = reference.encode_image(pixels), reference.encode_text(oc_ids)
        our_image = ours.get_image_features(pixel_values=pixels).pooler_output
        our_text = ours.get_text_features(tokens.input_ids, attention_mask=tokens.attention_mask).pooler_output
    for name, got, expected in [("image", our_image, ref_image), ("text", our_text, ref_text)]:
        diff = ((got - expected).abs().max() / expected.abs().max()).item()
        rows.append(_row(f"PE-Core parity: {name} embeddings vs open_clip", "max rel. diff", diff, None,
                         f"<= {PARITY_TOLERANCE:g}", note))

    for batch in batches:
        images = pixels[:batch]
        with torch.inference_mode():
            t_ours, t_ref = _best_interleaved(lambda x=images: ours.get_image_features(pixel_values=x),
                                              lambda x=images: reference.encode_image(x), forward_repeats)
        rows.append(_row(f"PE-Core image forward, batch {batch}, fp32", "s", t_ours, t_ref, "<= 1.0", note))

    if train:
        ours.train(), reference.train()
        opt_ours = torch.optim.SGD(ours.parameters(), lr=1e-7)
        opt_ref = torch.optim.SGD(reference.parameters(), lr=1e-7)

        def forward_ours(images):
            image = ours.get_image_features(pixel_values=images).pooler_output
            text = ours.get_text_features(tokens.input_ids, attention_mask=tokens.attention_mask).pooler_output
            return image, text, ours.logit_scale.exp()

        def forward_ref(images):
            return reference.encode_image(images), reference.encode_text(oc_ids), reference.logit_scale.exp()

        for batch in train_batches:
            images = pixels[:batch]
            t_ours, t_ref = _best_interleaved(
                lambda x=images: _train_step(ours, opt_ours, lambda: forward_ours(x)),
                lambda x=images: _train_step(reference, opt_ref, lambda: forward_ref(x)),
                repeats,
            )
            rows.append(_row(f"PE-Core train step, batch {batch}, fp32", "s", t_ours, t_ref, "<= 1.0",
                             note + "; backward into all parameters, SGD"))
        del opt_ours, opt_ref
        ours.eval(), reference.eval()

    if _bf16_supported():
        ours.to(torch.bfloat16), reference.to(torch.bfloat16)
        for batch in batches:
            images = pixels[:batch].to(torch.bfloat16)
            with torch.inference_mode():
                t_ours, t_ref = _best_interleaved(lambda x=images: ours.get_image_features(pixel_values=x),
                                                  lambda x=images: reference.encode_image(x), forward_repeats)
            rows.append(_row(f"PE-Core image forward, batch {batch}, bf16", "s", t_ours, t_ref, "<= 1.0",
                             note))
    return rows


def _print(rows: list[dict]) -> None:
    print(f"{'name':58} {'unit':14} {'ours':>10} {'baseline':>10} {'ratio':>7} {'target':>14}  pass")
    for row in rows:
        fmt = lambda v: "-" if v is None else (f"{v:.3g}" if abs(v) < 1e-2 else f"{v:.3f}")  # noqa: E731
        print(f"{row['name']:58} {row['unit']:14} {fmt(row['ours']):>10} {fmt(row['baseline']):>10} "
              f"{fmt(row['ratio']):>7} {row['target']:>14}  {'yes' if row['passed'] else 'NO'}")
    if rows:
        print(f"({rows[0]['note']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"small geometry ({QUICK_GEOMETRY})")
    parser.add_argument("--geometry", help=f"PE-Core preset (default {DEFAULT_GEOMETRY}; paper: PE-Core-L-14-336)")
    parser.add_argument("--repeats", type=int, help="timed rounds per row, the best is kept (default 3; 2 with --quick)")
    parser.add_argument("--no-train", dest="train", action="store_false", help="skip the train-step rows")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of CPU time")
    parser.add_argument("--batches", default="1,4", help="image batch sizes of the forward rows (default 1,4)")
    parser.add_argument("--train-batches", default="1,4", help="batch sizes of the train-step rows (default 1,4)")
    args = parser.parse_args(argv)
    try:
        batches = tuple(int(b) for b in args.batches.split(","))
        train_batches = tuple(int(b) for b in args.train_batches.split(","))
    except ValueError:
        parser.error(f"--batches / --train-batches take comma-separated integers, got {args.batches!r} / "
                     f"{args.train_batches!r}")
    if min(batches + train_batches) < 1:
        parser.error("batch sizes must be at least 1")
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    rows = run(quick=args.quick, geometry=args.geometry, repeats=args.repeats, train=args.train,
               threads=args.threads, wall=args.wall, batches=batches, train_batches=train_batches)
    _print(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of model loading (issue 12 item 3; contract 7: `run(quick) -> rows`, standalone prints the rows).

Each repeat runs in a fresh Python process: imports and one warm-up backbone load first (so lazy imports inside
transformers cost neither side), then two rounds of the baseline and the three loads below (their order rotating
with the repeat), each timed alone; the best of all rounds and repeats (4 processes; 1 with `--quick`) is kept. At
PE-Core-L the backbone's memory-mapped load varies by 0.2-0.4 s from one load to the next on this shared machine,
more than everything Q-CLIP adds (~0.03 s), so one sample per process and kind measured mostly that variation.

1. `QClipModel.from_pretrained(saved model)` vs `AutoModel.from_pretrained(backbone)`, target <= 1.2. Everything
   Q-CLIP adds is counted: its config, the adapter, head and prompt files, the prompt tokens (saved with the model,
   so no tokenizer is loaded) and PEFT's injection.
2. `QClipModel(QClipConfig(backbone=...))` — a new model on a converted backbone — vs the same
   `AutoModel.from_pretrained`; target <= 1.2. The prompts' token ids come from the on-disk cache
   (`qclip_hf.models.qclip.prompt_token_cache`) that the first model built on this backbone filled, as in every
   training run after the first.
3. The same with an empty prompt-token cache (the very first model on a backbone: one tokenizer load more),
   informational.

Geometry: PE-Core-L14-336 (random weights in Meta's layout, converted and saved once under the work directory);
`--quick` uses a small PE-Core geometry (width 256, 6 blocks, 224 px).

Usage: `python bench/bench_load.py [--quick] [--workdir outputs/bench_load]`
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

DEFAULT_WORKDIR = "outputs/bench_load"
SMALL = dict(width=256, num_layers=6, num_heads=4, image_size=224, patch_size=16, pooling_heads=4)

_TIMER = textwrap.dedent("""
    import gc, json, os, sys, tempfile, time
    import torch
    from transformers import AutoModel
    from qclip_hf import QClipConfig, QClipModel
    backbone, saved = sys.argv[1], sys.argv[2]
    loads = {
        "backbone": lambda: AutoModel.from_pretrained(backbone),
        "saved": lambda: QClipModel.from_pretrained(saved),
        "new": lambda: QClipModel(QClipConfig.from_preset("reference", backbone=backbone)),
        "new_cold": lambda: QClipModel(QClipConfig.from_preset("reference", backbone=backbone)),
    }
    QClipModel(QClipConfig.from_preset("reference", backbone=backbone))  # fills the prompt-token cache if empty
    loads["backbone"]()  # warm-up
    gc.collect()
    times = {}
    # The four timed loads (baseline included) rotate with the repeat number: none always runs first, or always right
    # after a large model was freed.
    shift = int(sys.argv[3]) % len(loads)
    order = [*list(loads)[shift:], *list(loads)[:shift]]
    for kind, load in [(k, loads[k]) for k in order * 2]:  # two rounds: the best of both is kept
        previous = os.environ.get("QCLIP_HF_CACHE")
        if kind == "new_cold":
            os.environ["QCLIP_HF_CACHE"] = tempfile.mkdtemp()
        start = time.perf_counter()
        model = load()
        times[kind] = min(times.get(kind, float("inf")), time.perf_counter() - start)
        if kind == "new_cold" and previous is None:  # the other loads keep the warm cache
            del os.environ["QCLIP_HF_CACHE"]
        elif kind == "new_cold":
            os.environ["QCLIP_HF_CACHE"] = previous
        del model
        gc.collect()
    print(json.dumps(times))
""")


def _prepare(workdir: Path, quick: bool) -> tuple[Path, Path]:
    """(backbone folder, saved Q-CLIP folder), built once per geometry."""
    name = "small" if quick else "pe-core-l14-336"
    backbone, model = workdir / name / "backbone", workdir / name / "qclip"
    if (model / "prompt_tokens.json").is_file() and (backbone / "config.json").is_file():
        return backbone, model
    import torch

    from qclip_hf import QClipConfig, QClipModel
    from qclip_hf.testing.tiny_backbones import save_tiny_pe_core_backbone
    from qclip_hf.models.pe_core import PECoreConfig, PECoreModel, build_pe_core_tokenizer
    from qclip_hf.models.pe_core.convert_pe_core_checkpoint import convert_pe_core_state_dict

    if quick:
        save_tiny_pe_core_backbone(backbone, **SMALL)
    else:
        from qclip_hf.testing.tiny_backbones import tiny_pe_core_meta_state_dict

        config = PECoreConfig.from_preset("PE-Core-L14-336")
        weights = convert_pe_core_state_dict(tiny_pe_core_meta_state_dict(config), config, source="meta")
        with torch.device("meta"):
            pe = PECoreModel(config)
        pe.load_state_dict(weights, assign=True)
        pe.save_pretrained(backbone)
        build_pe_core_tokenizer(config.text_config.max_position_embeddings).save_pretrained(backbone)
        del pe, weights
    QClipModel(QClipConfig.from_preset("reference", backbone=str(backbone))).save_pretrained(model)
    return backbone, model


def _time(backbone: Path, model: Path, repeat: int) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", _TIMER, str(backbone), str(model), str(repeat)], capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"load timing failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _row(name: str, ours: float, baseline: float, note: str, target: str = "<= 1.2") -> dict:
    ratio = ours / baseline
    limit = float(target.split()[-1]) if target.startswith("<=") else None
    return {"name": name, "unit": "s", "ours": round(ours, 3), "baseline": round(baseline, 3),
            "ratio": round(ratio, 3), "target": target, "passed": bool(limit is None or ratio <= limit), "note": note}


def run(quick: bool = False, workdir: str | Path = DEFAULT_WORKDIR) -> list[dict]:
    backbone, model = _prepare(Path(workdir), quick)
    repeats = 1 if quick else 4
    times: dict[str, list[float]] = {"backbone": [], "saved": [], "new": [], "new_cold": []}
    for repeat in range(repeats):
        for kind, seconds in _time(backbone, model, repeat).items():
            times[kind].append(seconds)
    base = min(times["backbone"])
    # The 1.2x is set at the paper's geometry; a small backbone loads in ~0.1 s, where Q-CLIP's fixed costs
    # (PEFT injection, adapter and head files, first-use imports) weigh several times more than at PE-Core-L.
    geometry, target = ("small PE-Core (width 256, 6 blocks)", "informational") if quick else ("PE-Core-L14-336",
                                                                                                "<= 1.2")
    return [
        _row("load: QClipModel.from_pretrained vs AutoModel.from_pretrained(backbone)", min(times["saved"]), base,
             f"{geometry}, best of {repeats} process(es) x 2 rounds; prompt tokens saved with the model "
             "(no tokenizer)", target),
        _row("load: new QClipModel on a converted backbone vs AutoModel.from_pretrained", min(times["new"]), base,
             f"{geometry}, best of {repeats} process(es) x 2 rounds; prompt token ids from the on-disk cache", target),
        _row("load: first new QClipModel on a backbone (empty prompt-token cache) vs AutoModel.from_pretrained",
             min(times["new_cold"]), base, f"{geometry}; one tokenizer load more (CLIP's BPE tokenizer.json)",
             "informational"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small geometry instead of PE-Core-L14-336")
    parser.add_argument("--workdir", default=DEFAULT_WORKDIR)
    args = parser.parse_args()
    for row in run(quick=args.quick, workdir=args.workdir):
        print(json.dumps(row))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""The main job on the embedded default: no download, a few minutes on 2 CPU cores.

1. generate the quality dataset (pans and zooms over real photographs, graded degradations, held-out sources);
2. save a tiny random CLIP-style backbone with its tokenizer (the stand-in for PE-Core-L14-336);
3. score the held-out sources with the untrained model (SROCC of the initial prompts and head);
4. train SCMA + prompts + head with `training/train.py` (the same script `accelerate launch` runs on a GPU cluster);
5. reload the saved adapter from disk and score the held-out sources again; print both;
6. score a few held-out videos through `pipeline("video-quality")` with that adapter (with the temporal curve).

With a real backbone and dataset the same training command reproduces the paper, e.g.
`accelerate launch training/train.py --backbone <id> --train_data LSVQ-train:/data/LSVQ ...`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train  # noqa: E402  (training/train.py, the Accelerate script)
from transformers import pipeline  # noqa: E402

from qclip_hf import QClipConfig, QClipModel  # noqa: E402
from qclip_hf.backbones.tiny import save_tiny_backbone  # noqa: E402
from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor
from qclip_hf.synthetic import generate_quality_dataset  # noqa: E402
from qclip_hf.training.data import VideoQualityDataset, load_dataset_from_spec  # noqa: E402
from qclip_hf.training.evaluation import evaluate  # noqa: E402

SCMA = {"r": 8, "layers": 2}
# A shallow random backbone at the clips' own 64 px keeps low-level (blur, noise, blocking) statistics in its
# features; a deep one at a lower resolution averages them away (measured with a ridge probe on frozen features).
TINY_BACKBONE = {"image_size": 64, "patch_size": 8, "num_layers": 2, "initializer_factor": 3.0}


def held_out_metrics(model: QClipModel, test_dir: Path) -> dict:
    processor = QClipVideoProcessor.for_model(model, sampling_strategy="UNISampl")
    dataset = VideoQualityDataset(load_dataset_from_spec(f"videofolder:{test_dir}"), processor)
    accelerator = Accelerator(cpu=True)
    metrics, _ = evaluate(accelerator, model, DataLoader(dataset, batch_size=8), description="held-out")
    return metrics


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="outputs/demo")
    parser.add_argument("--num_epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.time()
    output = Path(args.output_dir)
    data = generate_quality_dataset(output / "synthetic_vqa", num_sources=12, test_sources=3, progress=False)
    backbone = save_tiny_backbone(output / "tiny_backbone", "clip", seed=args.seed, **TINY_BACKBONE)

    torch.manual_seed(args.seed)
    untrained = QClipModel(QClipConfig(backbone=str(backbone), num_frames=4, scma_config=SCMA)).eval()
    before = held_out_metrics(untrained, data / "test")

    train.main([
        "--backbone", str(backbone), "--scma", json.dumps(SCMA), "--num_frames", "4",
        "--train_data", f"videofolder:{data / 'train'}", "--eval_data", f"held-out=videofolder:{data / 'test'}",
        "--num_epochs", str(args.num_epochs), "--batch_size", "16", "--learning_rate", "3e-3",
        "--checkpointing_steps", "none", "--output_dir", str(output / "run"), "--seed", str(args.seed), "--cpu",
    ])
    trained = QClipModel.from_pretrained(output / "run" / "final")
    after = held_out_metrics(trained, data / "test")
    print("\n| model | SROCC | PLCC | KROCC | RMSE |\n|---|---|---|---|---|")
    for name, m in (("untrained", before), ("trained", after)):
        print(f"| {name} | {m['srocc']:.4f} | {m['plcc']:.4f} | {m['krocc']:.4f} | {m['rmse']:.4f} |")

    # 6. What a user runs: the pipeline on the adapter saved to disk.
    scorer = pipeline("video-quality", model=str(output / "run" / "final"))
    rows = load_dataset_from_spec(f"videofolder:{data / 'test'}")
    picks = [rows[i] for i in range(0, len(rows), max(1, len(rows) // 6))][:6]
    results = scorer([row["video"]["path"] for row in picks], batch_size=4, return_temporal=True)
    print("\n| video | MOS | score | most likely level | temporal (per segment) |\n|---|---|---|---|---|")
    for row, result in zip(picks, results, strict=True):
        level = max(result["levels"], key=result["levels"].get)
        curve = " ".join(f"{segment['score']:.3f}" for segment in result["temporal"])
        print(f"| {Path(row['video']['path']).name} | {row['mos']:.2f} | {result['score']:.4f} | {level} | {curve} |")
    summary = {"held_out_untrained": before, "held_out_trained": after, "wall_time_s": round(time.time() - start, 1),
               "adapter": str(output / "run" / "final")}
    print(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])

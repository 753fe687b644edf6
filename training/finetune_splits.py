#!/usr/bin/env python
"""The field's fine-tuning protocol in one command: 10 random 80/20 splits (DOVER's seeds `42*(k+1)`), one training
run per split (optionally from a trained adapter), a table of SROCC / PLCC per split and their mean ± std.

    accelerate launch training/finetune_splits.py --data KoNViD-1k:/data/KoNViD --labels_dir ../shared/data_labels \
        --init_from user/qclip-lsvq --output_dir runs/konvid-ft -- --num_epochs 8 --weight_decay 5e-2

Arguments after `--` go to `training/train.py` unchanged. The settings come from `train.py --recipe` (default
`reference`: the release's `options/finetune/<dataset>.yml` values for the standard datasets, picked by the dataset
name of `--data`); `--weight_decay` here overrides them. `--release_split` runs only the release's single split
(`random.Random(42).shuffle` of the label-file order, first 80 % train), which is DOVER's split 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import train  # noqa: E402  (training/train.py)


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="KIND:PATH of the dataset to split (e.g. KoNViD-1k:/data).")
    parser.add_argument("--labels_dir", default=None)
    parser.add_argument("--init_from", default=None, help="Trained Q-CLIP to start every split from (dir or Hub id).")
    parser.add_argument("--num_splits", type=int, default=10)
    parser.add_argument("--first_split", type=int, default=0)
    parser.add_argument("--weight_decay", type=float, default=None,
                        help="Override of the recipe's weight decay (reference fine-tuning: 5e-2, YouTube-UGC 1e-4).")
    parser.add_argument("--release_split", action="store_true",
                        help="Only the release's single seed-42 80/20 split (= split 0).")
    parser.add_argument("--output_dir", required=True)
    args = parser.parse_args(argv)
    if args.num_splits < 1 or args.first_split < 0:
        parser.error("--num_splits must be >= 1 and --first_split >= 0.")
    if args.release_split:
        args.num_splits, args.first_split = 1, 0
    return args, extra


def split_table(rows: list[dict]) -> str:
    """A markdown table of per-split SROCC / PLCC with their mean ± std (population std, as the field reports)."""
    lines = ["| split | SROCC | PLCC |", "|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['split']} | {row['srocc']:.4f} | {row['plcc']:.4f} |")
    srocc, plcc = np.array([r["srocc"] for r in rows]), np.array([r["plcc"] for r in rows])
    lines.append(f"| mean ± std | {np.nanmean(srocc):.4f} ± {np.nanstd(srocc):.4f} | "
                 f"{np.nanmean(plcc):.4f} ± {np.nanstd(plcc):.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    args, extra = parse_args(argv)
    rows = []
    for split in range(args.first_split, args.first_split + args.num_splits):
        run_args = ["--train_data", args.data, "--protocol_split", str(split),
                    "--output_dir", os.path.join(args.output_dir, f"split-{split}")]
        if args.weight_decay is not None:
            run_args += ["--weight_decay", str(args.weight_decay)]
        if args.labels_dir:
            run_args += ["--labels_dir", args.labels_dir]
        if args.init_from:
            run_args += ["--init_from", args.init_from]
        summary = train.main(run_args + extra)
        best = summary["best"]  # selected on the split's 20 % (the test part), as the release does
        reported = best["metrics"][f"split-{split}"] if best else {"srocc": math.nan, "plcc": math.nan}
        rows.append({"split": split, "srocc": reported["srocc"], "plcc": reported["plcc"],
                     "epoch": best["epoch"] if best else None})
    table = split_table(rows)
    if int(os.environ.get("RANK", "0")) == 0:  # under `accelerate launch`, one process writes
        print(table)
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)
        with open(os.path.join(args.output_dir, "splits.json"), "w") as handle:
            json.dump({"splits": rows, "table": table}, handle, indent=2)
    return rows


if __name__ == "__main__":
    main()

"""`training/finetune_splits.py`: the 10 x 80/20 protocol, run for real on 2 splits from a saved adapter."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import torch

from qclip_hf import QClipConfig, QClipModel
from qclip_hf.data.splits import dover_split_indices
from qclip_hf.synthetic import generate_quality_dataset

REPO = Path(__file__).resolve().parents[2]


def test_two_splits_from_an_adapter_print_a_table(tiny_backbone_dir, tmp_path):
    data = generate_quality_dataset(tmp_path / "data", num_sources=2, levels=2, test_sources=0,
                                    degradations=("crf", "noise"), progress=False)
    torch.manual_seed(0)
    QClipModel(QClipConfig(backbone=tiny_backbone_dir("clip"), num_frames=2,
                           scma_config={"r": 4, "layers": 2})).save_pretrained(tmp_path / "init")
    command = [sys.executable, str(REPO / "training" / "finetune_splits.py"), "--data", f"videofolder:{data}/train",
               "--init_from", str(tmp_path / "init"), "--num_splits", "2", "--output_dir", str(tmp_path / "ft"), "--",
               "--num_epochs", "1", "--batch_size", "4", "--num_frames", "2", "--checkpointing_steps", "none"]
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert re.search(r"\| 0 \| -?\d\.\d{4} \| -?\d\.\d{4} \|", result.stdout), result.stdout[-2000:]
    assert re.search(r"\| mean ± std \| -?\d\.\d{4} ± \d\.\d{4} \|", result.stdout)
    splits = json.loads((tmp_path / "ft" / "splits.json").read_text())["splits"]
    assert [row["split"] for row in splits] == [0, 1]
    # Each run evaluated exactly DOVER's 20% of its split.
    for k in (0, 1):
        results = json.loads((tmp_path / "ft" / f"split-{k}" / "results.json").read_text())
        coverage = results["history"][-1]["eval_coverage"]
        assert results["best"]["selected_on"] == f"split-{k}" and results["best"]["is_test_set"]
        _, test_rows = dover_split_indices(10, k)
        assert coverage[f"split-{k}"]["dataset"] == len(test_rows) == 2

"""`training/train.py` run for real on a tiny backbone and the generated dataset: single process, resume, 2 ranks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from qclip_hf.synthetic import generate_quality_dataset

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "training" / "train.py"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return generate_quality_dataset(tmp_path_factory.mktemp("syn"), num_sources=4, levels=2, test_sources=1,
                                    degradations=("crf", "blur", "noise"), progress=False)


def _args(backbone: str, data: Path, output: Path, *extra: str) -> list[str]:
    return ["--backbone", backbone, "--scma", '{"r": 4, "layers": 2}', "--train_data", f"videofolder:{data}/train",
            "--eval_data", f"heldout=videofolder:{data}/test", "--num_frames", "2", "--batch_size", "4",
            "--num_epochs", "2", "--output_dir", str(output), "--seed", "3", *extra]


def _run(args: list[str], launcher: list[str] | None = None, env: dict | None = None) -> None:
    command = (launcher or [sys.executable]) + [str(SCRIPT), *args]
    subprocess.run(command, check=True, cwd=REPO, timeout=600, env={**os.environ, **(env or {})})


def test_train_evaluate_save_and_resume_exactly(tiny_backbone_dir, synthetic, tmp_path):
    backbone = tiny_backbone_dir("clip")
    full = tmp_path / "full"
    _run(_args(backbone, synthetic, full, "--checkpointing_steps", "3", "--with_tracking"))
    results = json.loads((full / "results.json").read_text())
    assert list(full.rglob("events.out.tfevents.*")), "TensorBoard tracking wrote no event file"
    assert results["completed_steps"] == 10 and len(results["history"]) == 2
    assert results["reported"]["heldout"]["srocc"] == results["reported"]["heldout"]["srocc"]  # not NaN
    assert results["eval_coverage"]["heldout"] == {"scored": 7, "unique": 7, "dataset": 7}
    final = full / "final"
    assert {"config.json", "adapter_model.safetensors", "model.safetensors", "video_preprocessor_config.json"} <= {
        p.name for p in final.iterdir()}
    # The checkpoints hold only trainable weights.
    checkpoint_state = load_file(full / "step_3" / "model.safetensors")
    assert all("scma_" in k or k.startswith(("prompt_learner", "quality_head")) for k in checkpoint_state)

    # "Interrupted" after step 3: a fresh run resumes from that checkpoint and must end where the full run ended.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(full / "step_3", resumed / "step_3")
    _run(_args(backbone, synthetic, resumed, "--checkpointing_steps", "3", "--resume_from_checkpoint", "latest"))
    for name in ("adapter_model.safetensors", "model.safetensors"):
        a, b = load_file(final / name), load_file(resumed / "final" / name)
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_two_real_processes_stay_in_sync_and_score_each_test_video_once(tiny_backbone_dir, synthetic, tmp_path):
    output = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", "29517"]
    # 7 held-out videos over 2 ranks with batch 2: the last batch is uneven, so padding must be dropped.
    _run(_args(tiny_backbone_dir("clip"), synthetic, output, "--cpu", "--checkpointing_steps", "none",
               "--eval_batch_size", "2"), launcher=launcher, env={"OMP_NUM_THREADS": "1"})
    results = json.loads((output / "results.json").read_text())
    assert results["num_processes"] == 2
    first, second = results["rank_checksums"]
    assert first == second
    assert results["eval_coverage"]["heldout"] == {"scored": 7, "unique": 7, "dataset": 7}


def test_bad_arguments_fail_early(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--train_data", "videofolder:x", "--output_dir",
                             str(tmp_path), "--loss", "plcc+huber"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2 and "huber" in result.stderr

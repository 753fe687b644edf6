"""`training/train.py` run for real on a tiny backbone and generated videos: what is shipped, resume, N processes.

One module-scoped reference run is shared; a run stopped by `--max_train_steps` and resumed must end exactly where
the reference ended, with the same history. Two real gloo processes (batch 6) must train what one process (batch
12) trains, within the rounding noise the same test measures (one process scoring its batch in two shares).
"""

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

from qclip_hf import QClipModel
from qclip_hf.synthetic import generate_quality_dataset
from qclip_hf.training.checkpointing import MARKER

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "training" / "train.py"
HOOKED = Path(__file__).with_name("hooked_train.py")
LAUNCH = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
          "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
WEIGHTS = ("adapter_model.safetensors", "model.safetensors")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    # 21 training videos (batch 4: five full batches and one of a single sample), 7 held-out ones.
    return generate_quality_dataset(tmp_path_factory.mktemp("syn"), num_sources=4, levels=2, test_sources=1,
                                    degradations=("crf", "blur", "noise"), progress=False)


def _args(backbone: str, data: Path, output: Path, *extra: str) -> list[str]:
    return ["--backbone", backbone, "--scma", '{"r": 4, "layers": 2}', "--train_data", f"videofolder:{data}/train",
            "--eval_data", f"heldout=videofolder:{data}/test", "--num_frames", "2", "--batch_size", "4",
            "--num_epochs", "2", "--output_dir", str(output), "--seed", "3", *extra]


def _run(args: list[str], launcher: list[str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    command = (launcher or [sys.executable]) + [str(SCRIPT), *args]
    return subprocess.run(command, check=check, cwd=REPO, timeout=600, capture_output=not check, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def _run_hooked(runs: list[dict], folder: Path) -> None:
    """The runs of `hooked_train.py` (one start-up, a forked process per run); each must succeed."""
    for i, run in enumerate(runs):
        run.setdefault("log", str(folder / f"run-{i}.log"))
    (folder / "plan.json").write_text(json.dumps(runs))
    proc = subprocess.run([sys.executable, str(HOOKED), str(folder / "plan.json")], capture_output=True, text=True,
                          cwd=REPO, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    codes = [json.loads(line)["returncode"] for line in proc.stdout.splitlines() if line.startswith("{")]
    for run, code in zip(runs, codes, strict=True):
        assert code == 0, Path(run["log"]).read_text()[-3000:]


def _results(output: Path) -> dict:
    return json.loads((output / "results.json").read_text())


def _steps(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "train_steps.jsonl").read_text().splitlines()]


def _assert_same_weights(a: Path, b: Path, rtol: float, atol: float = 0.0) -> float:
    """Every trained value of `a` and `b` within `atol + rtol * |value|`; returns the largest per-tensor difference
    relative to the tensor's largest value (for the record)."""
    worst = 0.0
    for name in WEIGHTS:
        x, y = load_file(a / name), load_file(b / name)
        assert x.keys() == y.keys()
        for key in x:
            torch.testing.assert_close(y[key], x[key], rtol=rtol, atol=atol, msg=lambda m, key=key: f"{key}: {m}")
            worst = max(worst, ((x[key] - y[key]).abs().max() / x[key].abs().max().clamp_min(1e-12)).item())
    return worst


def _relative_differences(a: Path, b: Path) -> dict[str, float]:
    """Per trained tensor of two saved models: the largest `|a - b|` over the tensor's largest `|a|`."""
    out = {}
    for name in WEIGHTS:
        x, y = load_file(a / name), load_file(b / name)
        assert x.keys() == y.keys()
        out.update({k: ((x[k] - y[k]).abs().max() / x[k].abs().max().clamp_min(1e-30)).item() for k in x})
    return out


@pytest.fixture(scope="module")
def reference_run(tiny_backbone_dir, synthetic, tmp_path_factory):
    output = tmp_path_factory.mktemp("full") / "run"
    _run(_args(tiny_backbone_dir("clip"), synthetic, output, "--checkpointing_steps", "3", "--with_tracking"))
    return output


def test_run_ships_the_selected_epoch_and_reports_it(reference_run, synthetic):
    results = _results(reference_run)
    assert [h["epoch"] for h in results["history"]] == [0, 1] and results["completed_steps"] == 12
    assert list(reference_run.rglob("events.out.tfevents.*")), "TensorBoard tracking wrote no event file"
    best = results["best"]
    assert best["selected_on"] == "heldout" and best["is_test_set"]
    assert best["note"] == "selected on the test set, as the paper and release do"
    assert best["metrics"] == results["history"][best["epoch"]]["metrics"]
    assert results["recipe"] == "reference" and results["fit"] == "rescale" and results["args"]["batch_size"] == 4
    assert results["history"][0]["eval_coverage"]["heldout"] == {"scored": 7, "unique": 7, "dataset": 7}
    assert json.loads((reference_run / "best" / "selection.json").read_text())["epoch"] == best["epoch"]
    assert json.loads((reference_run / "last" / "selection.json").read_text())["epoch"] == 1
    # No validation set: the calibration is fitted on the test set it was selected on, and says so.
    calibration = json.loads((reference_run / "best" / "calibration.json").read_text())
    assert calibration["data"]["set"] == "heldout" and calibration["data"]["is_test_set"] is True
    assert calibration["data"]["split"] == "test" and "no validation set" in calibration["data"]["note"]
    assert calibration["data"]["epoch"] == best["epoch"] and calibration["data"]["size"] == 7
    assert json.loads((reference_run / "last" / "calibration.json").read_text())["data"]["epoch"] == 1
    # 6 batches per epoch, the last of one sample (loss 0, the optimizer and scheduler still step).
    steps = _steps(reference_run)
    assert [s["step"] for s in steps] == list(range(1, 13)) and steps[5]["loss"] == 0.0 and steps[5]["lr"] > 0
    # The checkpoint on epoch 0's last step (6) was written after that epoch's evaluation: a resume never skips it.
    assert [h["epoch"] for h in json.loads((reference_run / "step_6" / MARKER).read_text())["history"]] == [0]
    # Every checkpoint is complete and holds only trainable weights.
    for checkpoint in (reference_run / f"step_{n}" for n in (3, 6, 9, 12)):
        assert (checkpoint / MARKER).is_file()
        assert all("scma_" in k or k.startswith(("prompt_learner", "quality_head"))
                   for k in load_file(checkpoint / "model.safetensors"))
    # best/ is loadable and scores as the selected epoch did: its held-out SROCC is the reported one.
    from scipy.stats import spearmanr
    from transformers import pipeline

    videos = sorted(p for p in (synthetic / "test").rglob("*.mp4"))
    model = QClipModel.from_pretrained(reference_run / "best")
    assert model.num_trainable_parameters() > 0
    scorer = pipeline("video-quality", model=str(reference_run / "best"))
    scores = [scorer(str(v))["score"] for v in videos]
    assert all(isinstance(s, float) for s in scores)
    metadata = {row.split(",")[0]: float(row.split(",")[1])
                for row in (synthetic / "test" / "metadata.csv").read_text().splitlines()[1:]}
    labels = [metadata[str(v.relative_to(synthetic / "test"))] for v in videos]
    assert spearmanr(scores, labels)[0] == pytest.approx(best["metrics"]["heldout"]["srocc"], abs=1e-6)


def test_stop_and_resume_keeps_history_and_ends_exactly_like_the_uninterrupted_run(
        reference_run, tiny_backbone_dir, synthetic, tmp_path):
    backbone, output = tiny_backbone_dir("clip"), tmp_path / "run"
    # Stops at step 8 (inside epoch 1, which it evaluates as a partial epoch); keeps only the newest checkpoint.
    _run(_args(backbone, synthetic, output, "--checkpointing_steps", "3", "--max_train_steps", "8",
               "--checkpoints_total_limit", "1"))
    stopped = _results(output)
    assert [(h["epoch"], h["partial"]) for h in stopped["history"]] == [(0, False), (1, True)]
    assert sorted(p.name for p in output.glob("step_*")) == ["step_6"]
    # A crash mid-write leaves a .tmp directory, and a directory without the marker is incomplete: never resumed.
    (output / "step_9.tmp").mkdir()
    (output / "step_12").mkdir()
    _run(_args(backbone, synthetic, output, "--checkpointing_steps", "3", "--resume_from_checkpoint", "latest"))
    resumed, reference = _results(output), _results(reference_run)
    assert [h["epoch"] for h in resumed["history"]] == [0, 1]
    for got, want in zip(resumed["history"], reference["history"], strict=True):
        assert got["step"] == want["step"] and got["lr"] == pytest.approx(want["lr"])
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-5)
        for metric, value in want["metrics"]["heldout"].items():
            assert got["metrics"]["heldout"][metric] == pytest.approx(value, abs=1e-5)
    assert resumed["best"]["epoch"] == reference["best"]["epoch"]
    assert [s["step"] for s in _steps(output)] == list(range(1, 13))
    # Bitwise: same batches, frames, RNG and optimizer state.
    _assert_same_weights(reference_run / "last", output / "last", rtol=0.0)
    _assert_same_weights(reference_run / "best", output / "best", rtol=0.0)
    assert not (output / "step_9.tmp").exists()


def test_resume_into_a_different_model_is_refused_naming_the_difference(
        reference_run, tiny_backbone_dir, synthetic, tmp_path):
    output = tmp_path / "run"
    output.mkdir()
    shutil.copytree(reference_run / "step_3", output / "step_3")
    args = _args(tiny_backbone_dir("clip"), synthetic, output, "--resume_from_checkpoint", "latest")
    args[args.index("--scma") + 1] = '{"r": 8, "layers": 2}'
    result = _run(args, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "scma_config.r: checkpoint 4, this run 8" in result.stderr


# 2 processes may differ from 1 by MARGIN times what splitting the batch does in one process (the same change of float
# summation order). Measured here (largest difference relative to a tensor's scale, the adapter's LayerNorm bias,
# whose gradient is so small that AdamW turns rounding into moves of ~lr): split batch vs whole 3.8e-6 (mse),
# 2.5e-4 (plcc+rank), 2.6e-5 (accumulation); 2 processes vs 1 at most 1.5x that. The breakages an audit tries move
# the weights 450 to 44000 times the noise: the scheduler not scaled by the number of processes (4e-2 to 0.44; the
# learning rates differ too), the padding of a short share not masked (3e-2 to 0.17), the loss computed per process
# instead of on the gathered global batch (5e-3 to 1.9). MARGIN 20 sits 13x above the noise ratio and 22x below
# the smallest of those. A floor of 2**-20 of a tensor's scale (8 float32 units of roundoff) covers a split that
# changes no bit. (A gradient of the wrong size, e.g. an all-gather passing back only the local slice's, AdamW all
# but hides: test_global_loss_sgd.py checks gradients and SGD.)
MARGIN = 20.0
FLOOR = 2.0**-20


@pytest.mark.parametrize("loss, one_batch, two_batch, extra", [
    ("mse", ("--batch_size", "12"), ("--batch_size", "6"), ()),
    ("plcc+rank", ("--batch_size", "12"), ("--batch_size", "6"), ("--val_fraction", "0.2")),
    # Accumulation: 2 micro-steps of a global micro-batch of 6 (one process 6, or two processes 3 each).
    ("plcc+rank", ("--batch_size", "6"), ("--batch_size", "3"), ("--gradient_accumulation_steps", "2")),
], ids=["mse", "plcc+rank", "plcc+rank-accumulation"])
def test_two_processes_train_what_one_process_trains(loss, one_batch, two_batch, extra, tiny_backbone_dir,
                                                     synthetic, tmp_path, free_port):
    # Global batch 12 either way; the last global batch is partial (9 or 5 samples) and split unevenly over 2 ranks.
    common = ["--loss", loss, "--checkpointing_steps", "none", "--cpu", "--eval_batch_size", "2", *extra]
    backbone = tiny_backbone_dir("clip")
    one, split, two = tmp_path / "one", tmp_path / "split", tmp_path / "two"
    _run_hooked([{"args": _args(backbone, synthetic, one, *one_batch, *common)},
                 {"args": _args(backbone, synthetic, split, *one_batch, *common), "forward_chunks": 2}], tmp_path)
    _run(_args(backbone, synthetic, two, *two_batch, *common),
         launcher=LAUNCH + ["--main_process_port", str(free_port)])
    rates = {run.name: [s["lr"] for s in _steps(run)] for run in (one, two)}
    assert rates["one"] == rates["two"], f"learning rate of each step, 1 vs 2 processes: {rates}"
    results = _results(two)
    assert results["num_processes"] == 2 and results["global_batch_size"] == 12
    first, second = results["rank_checksums"]
    assert first == second
    assert results["history"][-1]["eval_coverage"]["heldout"] == {"scored": 7, "unique": 7, "dataset": 7}
    noise = max(_relative_differences(one / "last", split / "last").values())
    tolerance = MARGIN * max(noise, FLOOR)
    error = _relative_differences(one / "last", two / "last")
    worst = max(error, key=error.get)
    print(f"{loss}: 2 vs 1 process {error[worst]:.1e} of the scale ({worst}); batch split in 1 process {noise:.1e}; "
          f"tolerance {tolerance:.1e}")
    assert error[worst] <= tolerance, (
        f"{worst}: 2 processes trained it {error[worst]:.3g} of its scale away from 1 process; one process scoring "
        f"its batch in 2 shares moves no weight by more than {noise:.2e} (tolerance {tolerance:.2e})")
    if "--val_fraction" in extra:
        assert results["best"]["selected_on"] == "val" and not results["best"]["is_test_set"]


def test_a_broken_launch_is_refused_before_any_work(tmp_path, free_port):
    # --multi_gpu on a machine without GPUs (and without --cpu): each process would be a group of one. The launched
    # processes see no GPU (CUDA_VISIBLE_DEVICES=""), so a machine with GPUs runs this test too.
    output = tmp_path / "run"
    result = subprocess.run(LAUNCH + ["--main_process_port", str(free_port), str(SCRIPT), "--train_data",
                                      "videofolder:/nonexistent", "--output_dir", str(output)],
                            capture_output=True, text=True, cwd=REPO, timeout=600,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode != 0
    assert "requested 2 processes" in result.stderr and "add --cpu" in result.stderr
    assert not output.exists()


def test_bad_arguments_fail_early(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--train_data", "videofolder:x", "--output_dir",
                             str(tmp_path), "--loss", "plcc+huber"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2 and "huber" in result.stderr

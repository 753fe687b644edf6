"""Checkpoint saves of a real training run killed (SIGKILL) at chosen points: `latest` never picks a broken checkpoint,
and the run resumed after every kill ends exactly where an uninterrupted run ends.

The runs are `training/train.py` itself, started by `hooked_train.py`, which kills a run at a chosen file-system
event inside a checkpoint directory (see its docstring). After every kill the output folder must keep the contract of
`qclip_hf/training/checkpointing.py`: a directory named `step_N` is a complete checkpoint, and so is any directory
holding the completion marker (an explicit `--resume_from_checkpoint DIR` trusts it), complete meaning byte for byte
the checkpoint of step N of the uninterrupted run (training is deterministic here).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from qclip_hf.synthetic import generate_quality_dataset
from qclip_hf.training.checkpointing import MARKER, find_checkpoint

HOOKED = Path(__file__).with_name("hooked_train.py")
REPO = Path(__file__).resolve().parents[2]

# (resume from, kill at: hooked_train.py patterns, what the kill leaves behind, the step `latest` must then give).
# Batch 2 over 6 videos: 3 steps an epoch, 6 in all; a checkpoint every step, the newest 2 kept; best/ exists (and is
# copied into each checkpoint) from step 3 on. `step_4*` patterns also match a save written in place.
KILLS = [
    ("fresh", ["open step_4*/best/model.safetensors"], "state saved, best/ half copied (a file created empty)", 3),
    ("latest", ["open step_4*/qclip_checkpoint.json*"], "everything but the marker, created empty", 3),
    ("latest", ["remove step_2*/*#2"], "step_4 complete; the oldest one (step_2) half deleted", 4),
    # Resumed from an earlier checkpoint, the run saves step_4 again while the complete step_4 is on disk: killed
    # while the old one is being removed (or, for a save in place, at its first file write into step_4/).
    ("step_3", ["remove step_4*/*#2", "open step_4/*"], "a complete step_4 being replaced", None),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    # 6 training videos, 3 held-out ones.
    return generate_quality_dataset(tmp_path_factory.mktemp("syn"), num_sources=3, levels=1, test_sources=1,
                                    degradations=("crf", "blur"), progress=False)


def _args(backbone: str, data: Path, output: Path, *extra: str) -> list[str]:
    return ["--backbone", backbone, "--scma", '{"r": 4, "layers": 2}', "--train_data", f"videofolder:{data}/train",
            "--eval_data", f"heldout=videofolder:{data}/test", "--num_frames", "2", "--batch_size", "2",
            "--num_epochs", "2", "--seed", "3", "--checkpointing_steps", "1", "--output_dir", str(output), *extra]


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _incomplete(directory: Path, reference: Path) -> str | None:
    """Why `directory` is not the complete checkpoint `reference` (None if it is, byte for byte)."""
    got, want = _files(directory), _files(reference)
    if got.keys() != want.keys():
        return f"missing {sorted(want.keys() - got.keys())}, unexpected {sorted(got.keys() - want.keys())}"
    differing = [name for name in want if got[name] != want[name]]
    return f"{differing} differ from the uninterrupted run's" if differing else None


def _check_left_behind(snapshot: Path, reference: Path) -> int:
    """Check a killed run's output folder; returns the step `--resume_from_checkpoint latest` picks there."""
    problems = []
    for directory in sorted(p for p in snapshot.iterdir() if p.is_dir() and p.name.startswith("step_")):
        step = int(re.match(r"step_(\d+)", directory.name).group(1))
        named = re.fullmatch(r"step_\d+", directory.name) is not None
        marked = (directory / MARKER).exists()
        if named or marked:
            why = _incomplete(directory, reference / f"step_{step}")
            if why:
                role = "is named as a checkpoint" if named else f"holds the completion marker {MARKER}"
                problems.append(f"{directory.name} {role} but is incomplete: {why}")
    assert not problems, "; ".join(problems)
    latest = Path(find_checkpoint(str(snapshot), "latest"))
    assert _incomplete(latest, reference / latest.name) is None
    return int(latest.name.split("_")[1])


def test_killed_checkpoint_saves_never_leave_a_broken_checkpoint_and_resume_exactly(tiny_backbone_dir, data,
                                                                                    tmp_path):
    backbone, reference, output = tiny_backbone_dir("clip"), tmp_path / "reference", tmp_path / "run"
    plan = [{"args": _args(backbone, data, reference), "log": str(tmp_path / "reference.log")}]
    for i, (resume, patterns, _, _) in enumerate(KILLS):
        extra = ["--checkpoints_total_limit", "2"]
        if resume != "fresh":
            extra += ["--resume_from_checkpoint", resume if resume == "latest" else str(output / resume)]
        plan.append({"args": _args(backbone, data, output, *extra), "kill_at": patterns,
                     "snapshot": str(tmp_path / f"killed-{i}"), "log": str(tmp_path / f"killed-{i}.log")})
    plan.append({"args": _args(backbone, data, output, "--checkpoints_total_limit", "2", "--resume_from_checkpoint",
                                "latest"), "log": str(tmp_path / "resumed.log")})
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    proc = subprocess.run([sys.executable, str(HOOKED), str(tmp_path / "plan.json")], capture_output=True, text=True,
                          cwd=REPO, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    codes = [json.loads(line)["returncode"] for line in proc.stdout.splitlines() if line.startswith("{")]

    def log(name: str) -> str:
        return (tmp_path / f"{name}.log").read_text()[-3000:]

    assert codes[0] == 0, log("reference")
    for i, (_, patterns, left, expected_latest) in enumerate(KILLS):
        assert codes[i + 1] == -9, f"run {i} was to be killed at {patterns}; it exited with {codes[i + 1]}:\n" \
                                   + log(f"killed-{i}")
        latest = _check_left_behind(tmp_path / f"killed-{i}", reference)
        if expected_latest is not None:
            assert latest == expected_latest, f"killed at {patterns} ({left}): latest is step_{latest}"
    assert codes[-1] == 0, log("resumed")

    # The resumed run ends exactly like the uninterrupted one: weights, history, step log.
    for kept in ("last", "best"):
        for name in ("adapter_model.safetensors", "model.safetensors"):
            got, want = load_file(output / kept / name), load_file(reference / kept / name)
            assert got.keys() == want.keys() and all(got[k].equal(want[k]) for k in want), f"{kept}/{name}"
    got, want = (json.loads((path / "results.json").read_text()) for path in (output, reference))
    assert got["history"] == want["history"] and got["best"] == want["best"]
    steps = [json.loads(line)["step"] for line in (output / "train_steps.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]

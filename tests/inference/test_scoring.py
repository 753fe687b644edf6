"""Distributed scoring: 2 real CPU processes under `accelerate launch`, a folder with damaged files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import qclip_hf  # noqa: F401
from qclip_hf import QClipConfig, QClipModel
from qclip_hf.inference import iter_scored_rows, read_rows
from qclip_hf.pipelines import VideoQualityPipeline
from qclip_hf.synthetic import generate_quality_dataset


@pytest.fixture(scope="module")
def setup(tiny_backbone_dir, tmp_path_factory):
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("dist")
    config = QClipConfig(backbone=tiny_backbone_dir("clip"), scma_config={"r": 4, "layers": 2}, num_frames=4)
    QClipModel(config).save_pretrained(root / "model")
    generate_quality_dataset(root / "videos", num_sources=2, levels=2, test_sources=1, degradations=("blur", "noise"),
                             progress=False)
    (root / "videos" / "zero.mp4").write_bytes(b"")
    good = sorted((root / "videos").rglob("*.mp4"))[0].read_bytes()
    (root / "videos" / "truncated.mp4").write_bytes(good[: len(good) // 3])
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_rows_match_the_pipeline(setup):
    pipe = VideoQualityPipeline(model=QClipModel.from_pretrained(setup / "model"), device="cpu")
    files = sorted(str(p) for p in (setup / "videos").rglob("*.mp4"))
    rows = [row for batch in iter_scored_rows(pipe, files, batch_size=3) for row in batch]
    assert [r["path"] for r in rows] == files
    good = [f for f, r in zip(files, rows, strict=True) if r["status"] == "ok"]
    assert len(good) == len(files) - 2
    expected = pipe(good, batch_size=2)
    got = [r["score"] for r in rows if r["status"] == "ok"]
    assert got == pytest.approx([e["score"] for e in expected], abs=1e-5)


def test_two_processes_score_every_file_exactly_once(setup, tmp_path):
    output = tmp_path / "results.parquet"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(_free_port()), "-m", "qclip_hf.cli", "score", str(setup / "videos"),
               "--model", str(setup / "model"), "--output", str(output), "--device", "cpu", "--batch_size", "2",
               "--no_progress", "--allow_failures"]
    done = subprocess.run(command, cwd=tmp_path, timeout=600, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    files = sorted(str(p) for p in (setup / "videos").rglob("*.mp4"))
    rows = read_rows(output)
    assert sorted(r["path"] for r in rows) == files  # nothing missing, no duplicates
    assert {Path(r["path"]).name for r in rows if r["status"] == "failed"} == {"zero.mp4", "truncated.mp4"}
    assert f"{len(files)} videos: {len(files)} new, 0 rescored, 0 reused; {len(files) - 2} ok, 2 failed" in done.stdout
    assert not list(tmp_path.glob("*.partial.jsonl"))
    # The same files scored in one process give the same scores.
    pipe = VideoQualityPipeline(model=QClipModel.from_pretrained(setup / "model"), device="cpu")
    single = {r["path"]: r["score"] for batch in iter_scored_rows(pipe, files) for r in batch if r["status"] == "ok"}
    assert {r["path"]: r["score"] for r in rows if r["status"] == "ok"} == pytest.approx(single, abs=1e-5)

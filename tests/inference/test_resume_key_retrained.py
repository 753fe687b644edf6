"""A model retrained into the same folder: `qclip-vqa score` (a subprocess, as a user runs it) rescores every row.

The resume key names a local model by its folder, so only the hash of the folder's weight files tells a retrained
model from the one that scored the earlier rows. The hardest case is used: the retraining moved only the adapter
(`adapter_model.safetensors`) and selected the same epoch; every other file (config, prompt context and head in
`model.safetensors`, processor, `selection.json`) is byte for byte the same, so a key that left out the adapter's
weights would reuse every stale score.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from qclip_hf import QClipConfig, QClipModel
from qclip_hf.inference import read_rows
from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor
from qclip_hf.training.saving import save_model_dir


def _score(videos: Path, model: Path, output: Path) -> str:
    command = [sys.executable, "-m", "qclip_hf.cli", "score", str(videos), "--model", str(model), "--output",
               str(output), "--device", "cpu", "--no_progress"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def _save(model: QClipModel, folder: Path) -> None:
    # As training/train.py writes OUTPUT/best/: a new folder renamed over the old one.
    save_model_dir(model, QClipVideoProcessor.for_model(model), str(folder),
                   {"epoch": 1, "step": 12, "note": "the selected epoch"})


def test_a_model_retrained_into_the_same_folder_rescores_every_row(tiny_backbone_dir, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for i, source in enumerate(("testsrc2", "smptebars", "rgbtestsrc")):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}=size=64x48:rate=10:duration=1",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", str(videos / f"clip{i}.mp4")], check=True)
    torch.manual_seed(0)
    model = QClipModel(QClipConfig(backbone=tiny_backbone_dir("clip"), scma_config={"r": 4, "layers": 2},
                                   num_frames=2))
    folder, output = tmp_path / "run" / "best", tmp_path / "scores.csv"
    _save(model, folder)
    first = _score(videos, folder, output)
    assert "3 videos: 3 new, 0 rescored, 0 reused; 3 ok" in first
    before = {row["path"]: row["score"] for row in read_rows(output)}
    files = {path.name: path.read_bytes() for path in folder.iterdir()}

    # "Retrained": only the adapter's weights move; saved into the same folder.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "scma_" in name:
                parameter.add_(0.5 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)))
    _save(model, folder)
    changed = sorted(path.name for path in folder.iterdir() if files.get(path.name) != path.read_bytes())
    assert changed == ["adapter_model.safetensors"]

    again = _score(videos, folder, output)
    assert "3 videos: 0 new, 3 rescored, 0 reused; 3 ok" in again, (
        f"rows scored by the model this folder held before were reused for the retrained one: {again}")
    after = {row["path"]: row["score"] for row in read_rows(output)}
    assert after.keys() == before.keys() and all(after[path] != before[path] for path in before)

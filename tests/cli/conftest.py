"""Fixtures of the `qclip-vqa score` tests: the CLI run as a user runs it (a subprocess), and small inputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> str:
        lines = self.stdout.strip().splitlines()
        return lines[-1] if lines else ""


def run_cli(*args: str | os.PathLike, cwd: str | os.PathLike | None = None, timeout: float = 600,
            launcher: list[str] | None = None, env: dict[str, str] | None = None) -> CliRun:
    """`python -m qclip_hf.cli score ARGS...` in a subprocess (one CPU thread, no progress bar)."""
    command = [*(launcher or [sys.executable]), "-m", "qclip_hf.cli", "score", "--no_progress",
               *map(os.fsdecode, args)]
    done = subprocess.run(command, cwd=cwd, timeout=timeout, capture_output=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8", **(env or {})})
    return CliRun(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def second_model_dir(tiny_backbone_dir, tmp_path_factory) -> str:
    """Another tiny Q-CLIP on the same backbone, other random weights (same config as `model_dir`)."""
    from qclip_hf import QClipConfig, QClipModel

    torch.manual_seed(1)
    config = QClipConfig(backbone=tiny_backbone_dir("clip"), scma_config={"r": 4, "layers": 2}, num_frames=4)
    path = tmp_path_factory.mktemp("qclip2") / "model"
    QClipModel(config).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def clip_path(tmp_path_factory) -> Path:
    """One small H.264 clip (64x48, 20 frames) made by the ffmpeg CLI."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10:duration=2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           str(path))
    return path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True)


def leftovers(folder: Path) -> list[str]:
    """Journals and temporary files left in `folder` (there must be none after a run)."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name.endswith((".partial.jsonl", ".tmp")) or
                  p.name.startswith(".qclip-write-check-") or ".tmp." in p.name)


def copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


@dataclass
class CliTools:
    """What the CLI tests share (fixtures cannot be imported under `--import-mode=importlib`)."""

    run = staticmethod(run_cli)
    ffmpeg = staticmethod(ffmpeg)
    leftovers = staticmethod(leftovers)
    copy = staticmethod(copy)


@pytest.fixture(scope="session")
def cli() -> CliTools:
    return CliTools()

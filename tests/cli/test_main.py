"""`qclip-vqa` as a whole: Ctrl+C at any moment of start-up is one line, not a traceback (issue 22, papercut 3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.parametrize("delay", [1.5, 4.0])  # while torch and transformers import; while the model loads
def test_ctrl_c_while_loading_is_one_line(model_dir, clip_path, tmp_path, delay):
    process = subprocess.Popen([sys.executable, "-m", "qclip_hf.cli", "score", str(clip_path), "--model", model_dir,
                                "--output", str(tmp_path / "scores.csv"), "--no_progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    time.sleep(delay)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("interrupted"), stderr

"""The README's main job (`training/demo.py`), run for real with one epoch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_main_job_generates_trains_reloads_and_scores_with_the_pipeline(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "training" / "demo.py"), "--output_dir", str(tmp_path),
                             "--num_epochs", "1"], capture_output=True, text=True, cwd=REPO, timeout=900, check=True)
    out = result.stdout
    assert re.search(r"\| untrained \| -?\d\.\d{4} \|", out) and re.search(r"\| trained \| -?\d\.\d{4} \|", out)
    rows = re.findall(r"\| (src\d\d_\S+\.mp4) \| \d\.\d\d \| -?\d\.\d{4} \| (\w+) \|", out)
    assert len(rows) == 6 and all(level in {"excellent", "good", "fair", "poor", "bad"} for _, level in rows)
    summary = json.loads(out[out.index("{\n"):])
    assert set(summary["held_out_trained"]) == {"srocc", "plcc", "krocc", "rmse"}
    assert (Path(summary["adapter"]) / "adapter_model.safetensors").is_file()

"""The README's main job (`training/demo.py`), run for real on a smaller dataset with one epoch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
LEVELS = {"excellent", "good", "fair", "poor", "bad"}


def test_main_job_explains_itself_and_leaves_a_report_a_plot_and_the_next_commands(tmp_path):
    # Fewer sources, one degradation level and one epoch: the same code path as `make demo`, a fraction of the work.
    result = subprocess.run([sys.executable, str(REPO / "training" / "demo.py"), "--output_dir", str(tmp_path),
                             "--num_epochs", "1", "--num_sources", "3", "--test_sources", "1", "--levels", "1"],
                            capture_output=True, text=True, cwd=REPO, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    # The metrics table: labelled columns, both models, and what the metrics mean.
    assert re.search(r"^model\s+SROCC\s+PLCC\s+KROCC\s+RMSE$", out, re.M)
    assert re.search(r"^untrained\s+-?\d\.\d{4}", out, re.M) and re.search(r"^trained \(\w+/\)\s+-?\d\.\d{4}", out, re.M)
    assert "SROCC / KROCC: rank correlation" in out and "PLCC: linear correlation" in out
    assert "MOS: 1 (bad) to 5" in out
    # The pipeline table: each column named, scores said to be on the model's scale.
    assert re.search(r"^video\s+MOS\s+score\s+most likely level\s+score per segment", out, re.M)
    rows = re.findall(r"^(src\d\d_\S+\.mp4)\s+(\d\.\d{4})\s+(-?\d\.\d{4})\s+(\w+)\s+((?:-?\d\.\d{3} ?){4})$", out, re.M)
    assert len(rows) == 6 and all(level in LEVELS for *_, level, _ in rows)
    assert "score: the model's own scale" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["held_out_trained"]) == {"srocc", "plcc", "krocc", "rmse"}
    assert (Path(summary["model"]) / "adapter_model.safetensors").is_file()
    assert Path(summary["model"]).parent == tmp_path / "run"
    # What a person looks at: the report of the held-out scoring run and the scatter plot.
    report = tmp_path / "report.html"
    html = report.read_text(encoding="utf-8")
    test_videos = sorted((tmp_path / "synthetic_vqa" / "test").rglob("*.mp4"))
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    assert len(data["rows"]) == len(test_videos) > 0
    assert Image.open(tmp_path / "scatter_held_out.png").size[0] > 300
    # It ends with the exact commands to look at the results.
    last = out.strip().splitlines()[-2:]
    assert last[0].startswith("open the report:") and f"xdg-open {report}" in last[0]
    assert last[1].startswith("start the demo app:") and f"qclip-vqa app --model {summary['model']}" in last[1]

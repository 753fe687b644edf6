"""The README's main job (`training/demo.py`), run for real on a smaller dataset with one epoch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
LEVELS = ("bad", "poor", "fair", "good", "excellent")  # the bands of MOS 1-5, lowest first


def _band(mos: float) -> str:
    return LEVELS[min(max(int((mos - 1.0) / 0.8 + 1e-9), 0), 4)]


def test_main_job_explains_itself_and_leaves_a_report_a_plot_and_the_next_commands(tmp_path):
    # Fewer sources, one degradation level and one epoch: the same code path as `make demo`, a fraction of the work.
    result = subprocess.run([sys.executable, str(REPO / "training" / "demo.py"), "--output_dir", str(tmp_path),
                             "--num_epochs", "1", "--num_sources", "3", "--test_sources", "1", "--levels", "1"],
                            capture_output=True, text=True, cwd=REPO, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    # A log a demo user can read (papercut 12): no 🤗 datasets download bars for local files, no warning asking for
    # flags `make demo` does not take, each epoch's metrics once (in the table at the end, not also as it ends).
    log = out + result.stderr
    assert "Downloading data" not in log and "Generating train split" not in log and "Writing model shards" not in log
    assert "WARNING" not in result.stderr and "to select on held-out data" not in log
    assert "selected on the test set, as the paper and release do" in out
    assert out.count("Metrics per epoch and evaluation set") == 1 and not re.search(r"^epoch \d+ \[", log, re.M)
    # The metrics table: labelled columns, both models, and what the metrics mean.
    assert re.search(r"^model\s+SROCC\s+PLCC\s+KROCC\s+RMSE$", out, re.M)
    assert re.search(r"^untrained\s+-?\d\.\d{4}", out, re.M) and re.search(r"^trained \(\w+/\)\s+-?\d\.\d{4}", out, re.M)
    assert "SROCC / KROCC: rank correlation" in out and "PLCC: linear correlation" in out
    assert "MOS: 1 (bad) to 5" in out
    # The held-out table: raw score, calibrated MOS, true MOS and level side by side, for every held-out video.
    summary = json.loads((tmp_path / "summary.json").read_text())
    calibrated = summary["held_out_calibrated"]
    assert calibrated["calibrated"], "the demo's model was saved without a calibration"
    assert re.search(r"^video\s+true MOS\s+score\s+MOS\s+level$", out, re.M)
    number = r"(-?\d+\.\d+(?:e[-+]\d+)?)"
    held_out = re.findall(rf"^(src\d\d_\S+\.mp4)\s+(\d\.\d{{4}})\s+{number}\s+{number}\s+(\w+)$", out, re.M)
    test_videos = sorted((tmp_path / "synthetic_vqa" / "test").rglob("*.mp4"))
    assert len(held_out) == len(test_videos) > 0
    for _, true, _, mos, level in held_out:
        # The level is the band of the calibrated MOS (1-5 in five equal bands), not the prompts' argmax: a pristine
        # clip (true MOS 5) whose calibrated MOS is high reads good or excellent, never "poor".
        assert level == _band(float(mos)), (mos, level)
        if float(true) == 5.0 and float(mos) >= 3.4:
            assert level in ("good", "excellent")
    # Calibration is monotonic: SROCC unchanged (its sign flips only if one epoch left the scores running against
    # the MOS and the map decreases); RMSE is reported on the MOS scale.
    sign = 1 if calibrated["direction"] == "increasing" else -1
    assert calibrated["srocc_mos"] == sign * calibrated["srocc_raw"] == sign * summary["held_out_trained"]["srocc"]
    assert f"RMSE {calibrated['rmse_mos']:.4f} MOS points" in out and calibrated["rmse_mos"] < 4
    assert "(the same ranks: monotonic map" in out and "score: the raw score, on the model's own scale" in out
    # The pipeline table: the same columns from pipeline("video-quality"), with the MOS of each segment.
    assert re.search(r"^video\s+true MOS\s+score\s+MOS\s+level\s+MOS per segment", out, re.M)
    rows = re.findall(rf"^(src\d\d_\S+\.mp4)\s+(\d\.\d{{4}})\s+{number}\s+{number}\s+(\w+)\s+((?:-?\d\.\d\d ?){{4}})$",
                      out, re.M)
    assert len(rows) == 6 and all(level == _band(float(mos)) for _, _, _, mos, level, _ in rows)
    assert set(summary["held_out_trained"]) == {"srocc", "plcc", "krocc", "rmse"}
    assert (Path(summary["model"]) / "adapter_model.safetensors").is_file()
    assert Path(summary["model"]).parent == tmp_path / "run"
    # What a person looks at: the report of the held-out scoring run and the scatter plot.
    report = tmp_path / "report.html"
    html = report.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    assert len(data["rows"]) == len(test_videos) > 0
    assert Image.open(tmp_path / "scatter_held_out.png").size[0] > 300
    # It ends with the exact commands to look at the results.
    last = out.strip().splitlines()[-2:]
    assert last[0].startswith("open the report:") and f"xdg-open {report}" in last[0]
    assert last[1].startswith("start the demo app:") and f"qclip-vqa app --model {summary['model']}" in last[1]

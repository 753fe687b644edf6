"""`qclip-vqa report`, run as a user runs it (subprocesses): score a folder, then write and check the report."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from qclip_hf.testing.sample_videos import BROKEN_NAME, write_sample_videos


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qclip_hf.cli", *args], capture_output=True, text=True, timeout=600)


def test_report_from_a_scored_folder(model_dir, tmp_path):
    videos = write_sample_videos(tmp_path / "videos")
    results = tmp_path / "results.jsonl"
    scored = _cli("score", str(tmp_path / "videos"), "--model", model_dir, "--output", str(results), "--no_progress")
    assert scored.returncode == 1, scored.stderr  # the broken file failed
    report = tmp_path / "out" / "report.html"
    done = _cli("report", str(results), "--output", str(report), "--model", model_dir, "--top_n", "1")
    assert done.returncode == 0, done.stderr
    assert f"report written: {report}" in done.stdout and "open it with" in done.stdout
    html = report.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    assert len(data["rows"]) == len(videos)
    assert html.count('class="card"') == 2  # worst 1 and best 1
    assert BROKEN_NAME in html[html.index('id="failures"'):]


def test_report_of_a_missing_file_is_one_error_line(tmp_path):
    done = _cli("report", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "r.html"))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope.csv' does not exist" in lines[0] and "qclip-vqa score" in lines[0]
    assert not (tmp_path / "r.html").exists()

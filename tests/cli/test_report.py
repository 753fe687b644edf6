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


def _card_frames(html: str) -> list[list[int]]:
    """The frame numbers of each card's strip, in page order."""
    cards = html.split('<div class="card"')[1:]
    return [[int(i) for i in re.findall(r"<figcaption>frame (\d+)</figcaption>", card)] for card in cards]


def test_report_shows_the_frames_the_run_scored(model_dir, edited_model_dir, tmp_path):
    """Papercut 4: `--num_frames` / `--sampling_strategy` of the run need not be repeated to `report`; item 3: the
    processor saved with the model (edited: 6 frames, RandSampl, seed 5) picks the frames shown."""
    from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor

    videos = write_sample_videos(tmp_path / "videos", broken=False)
    for model, options, expected in (
            (model_dir, ["--num_frames", "3", "--sampling_strategy", "SegMSEMean"],
             QClipVideoProcessor.from_pretrained(model_dir, num_frames=3, sampling_strategy="SegMSEMean")),
            (edited_model_dir, [], QClipVideoProcessor.from_pretrained(edited_model_dir))):
        results = tmp_path / f"results{len(options)}.csv"
        scored = _cli("score", *map(str, videos), "--model", model, "--output", str(results), "--no_progress",
                      *options)
        assert scored.returncode == 0, scored.stderr
        report = tmp_path / f"report{len(options)}.html"
        done = _cli("report", str(results), "--output", str(report), "--model", model, "--top_n", "1")
        assert done.returncode == 0, done.stderr
        shown = _card_frames(report.read_text(encoding="utf-8"))
        assert len(shown) == 2 and all(len(frames) == expected.num_frames for frames in shown), shown
        html = report.read_text(encoding="utf-8")
        for card, frames in zip(html.split('<div class="card"')[1:], shown, strict=True):
            name = re.search(r"<h3>#\d+ (.*?)</h3>", card).group(1)
            video = next(v for v in videos if v.name == name)
            assert frames == expected(str(video), return_frame_indices=True)["frame_indices"][0].tolist()

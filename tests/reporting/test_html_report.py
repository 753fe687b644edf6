"""The HTML report of a scoring run: self-contained, complete, and working in a real (headless) browser."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qclip_hf.calibration import Calibration
from qclip_hf.errors import OutputError
from qclip_hf.inference.results import read_rows
from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor
from qclip_hf.reporting.html_report import ResultsFileError, write_report
from qclip_hf.testing.browser import headless_chromium, save_screenshot
from qclip_hf.testing.sample_videos import BROKEN_NAME, write_sample_videos

LEVELS = ("excellent", "good", "fair", "poor", "bad")


def _cli(*args) -> None:
    subprocess.run([sys.executable, "-m", "qclip_hf.cli", *map(str, args)], check=True, capture_output=True, text=True,
                   timeout=600)


@pytest.fixture(scope="module")
def scored_run(model_dir, tmp_path_factory):
    """Sample videos (one broken) scored by `qclip-vqa score --return_temporal` into a CSV by a calibrated model: the
    tiny model calibrated with `qclip-vqa calibrate` on a first, uncalibrated scoring of the same videos (`raw`),
    labelled 1.2 ... 4.8 in the order of their scores, so the MOS spread over every level."""
    root = tmp_path_factory.mktemp("scored")
    videos = write_sample_videos(root / "videos")
    model = root / "model"
    shutil.copytree(model_dir, model)
    raw = root / "raw.csv"
    _cli("score", root / "videos", "--model", model, "--output", raw, "--allow_failures", "--no_progress",
         "--return_temporal")
    ranked = sorted((r for r in read_rows(raw) if r["status"] == "ok"), key=lambda r: r["score"])
    labels = root / "labels.csv"
    labels.write_text("path,mos\n" + "".join(f"{r['path']},{1.2 + 3.6 * i / (len(ranked) - 1):.3f}\n"
                                              for i, r in enumerate(ranked)))
    _cli("calibrate", raw, labels, "--model", model, "--mos_range", "1", "5", "--kind", "isotonic", "--no_plot")
    results = root / "results.csv"
    _cli("score", root / "videos", "--model", model, "--output", results, "--return_temporal", "--allow_failures",
         "--no_progress")
    return {"results": results, "videos": videos, "model": str(model), "raw": raw, "uncalibrated_model": model_dir}


@pytest.fixture(scope="module")
def report(scored_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(scored_run["results"], path, model=scored_run["model"], top_n=2)
    return path


def _table_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_report_is_self_contained_and_lists_every_video(scored_run, report):
    html = report.read_text(encoding="utf-8")
    # Opens offline: no external script, stylesheet or image.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script src" not in html and "<link" not in html
    data = _table_data(html)
    rows = read_rows(scored_run["results"])
    assert len(data["rows"]) == len(rows) == len(scored_run["videos"])
    keys = [column["key"] for column in data["columns"]]
    assert keys[:5] == ["path", "status", "score", "mos", "level"] and [f"prompt_prob_{n}" for n in LEVELS] == keys[5:10]
    assert data["sort_key"] == "mos"
    calibration = Calibration.load(scored_run["model"])
    assert "worst_segment" in keys  # scored with --return_temporal
    by_path = {row[0]: dict(zip(keys, row, strict=True)) for row in data["rows"]}
    for row in rows:
        shown = by_path[Path(row["path"]).name]  # paths relative to the common folder
        assert shown["status"] == row["status"]
        if row["status"] == "ok":
            assert shown["score"] == pytest.approx(row["score"], rel=1e-5)
            assert shown["mos"] == pytest.approx(calibration.mos_of(row["score"]), rel=1e-5)
            assert shown["level"] == row["level"] == calibration.level_of(row["mos"])  # the band of the MOS
            assert shown["worst_segment"] == pytest.approx(min(s["score"] for s in row["temporal"]), rel=1e-5)
    # The failure and its reason.
    assert by_path[BROKEN_NAME]["status"] == "failed" and "VideoDecodeError" in by_path[BROKEN_NAME]["error"]
    failures = html[html.index('id="failures"'):]
    assert BROKEN_NAME in failures and "VideoDecodeError" in failures


def test_worst_and_best_cards_show_the_frames_the_model_sampled(scored_run, report):
    html = report.read_text(encoding="utf-8")
    rows = sorted((r for r in read_rows(scored_run["results"]) if r["status"] == "ok"), key=lambda r: r["score"])
    processor = QClipVideoProcessor.from_pretrained(scored_run["model"]) if (
        Path(scored_run["model"]) / "video_preprocessor_config.json").is_file() else QClipVideoProcessor(num_frames=4)
    for section, expected in (("worst", rows[:2]), ("best", rows[::-1][:2])):
        for rank, row in enumerate(expected, start=1):
            card = html[html.index(f'id="{section}-{rank}"'):]
            card = card[:card.index('<div class="card"', 10)] if '<div class="card"' in card[10:] else card
            assert Path(row["path"]).name in card
            indices = [int(i) for i in re.findall(r"<figcaption>frame (\d+)</figcaption>", card)]
            sampled = processor(row["path"], return_frame_indices=True)["frame_indices"][0].tolist()
            assert indices == sampled
            assert card.count("data:image/jpeg;base64,") == len(sampled)
            assert 'alt="level probabilities"' in card and 'alt="quality over time"' in card


def test_bad_inputs_name_the_file(scored_run, tmp_path):
    with pytest.raises(ResultsFileError, match="does not exist.*qclip-vqa score"):
        write_report(tmp_path / "missing.csv", tmp_path / "r.html")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ResultsFileError, match="empty.jsonl' has no rows"):
        write_report(empty, tmp_path / "r.html")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(ResultsFileError, match="not written by `qclip-vqa score`"):
        write_report(other, tmp_path / "r.html")
    directory = tmp_path / "dir.html"
    directory.mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        write_report(scored_run["results"], directory)
    with pytest.raises(OutputError, match="does not end in .html"):
        write_report(scored_run["results"], tmp_path / "report.txt")


def _rows_on_page(driver) -> list[list[str]]:
    """One list of cells per video (errors and warnings are full-width `tr.detail` lines under their row)."""
    return [[cell.text for cell in row.find_elements("tag name", "td")]
            for row in driver.find_elements("css selector", "#videos-body tr:not(.detail)")]


def test_report_in_a_browser_sorts_filters_and_renders_images(scored_run, report):
    with headless_chromium() as driver:
        driver.get(report.as_uri())
        assert driver.find_element("id", "stat-total").text == str(len(scored_run["videos"]))
        rows = _rows_on_page(driver)
        assert len(rows) == len(scored_run["videos"])
        mos = [float(r[3]) for r in rows if r[1] == "ok"]
        assert mos == sorted(mos)  # worst first by default, by calibrated MOS
        # What a person reads: the MOS and the level of each video, the scale and its bands in the summary.
        calibration = Calibration.load(scored_run["model"])
        assert all(r[4] == calibration.level_of(float(r[3])) for r in rows if r[1] == "ok")
        assert {r[4] for r in rows if r[1] == "ok"} == set(LEVELS)
        assert driver.find_element("id", "stat-scale").text == "MOS"
        note = driver.find_element("id", "scale-note").text
        assert "MOS 1-5 (higher = better)" in note and "bad 1–1.8" in note and "excellent 4.2–5" in note
        worst_card = driver.find_element("id", "worst-1").text
        assert re.search(r"MOS \d\.\d\d · (bad|poor|fair|good|excellent) · score -?\d", worst_card), worst_card
        driver.find_element("css selector", 'th[data-key="score"]').click()  # another column: ascending
        scores = [float(r[2]) for r in _rows_on_page(driver) if r[1] == "ok"]
        assert scores == sorted(scores)
        driver.find_element("css selector", 'th[data-key="score"]').click()  # the same again: reversed
        scores = [float(r[2]) for r in _rows_on_page(driver) if r[1] == "ok"]
        assert scores == sorted(scores, reverse=True)
        driver.find_element("id", "filter").send_keys("testsrc")
        assert {r[0].split("_")[0] for r in _rows_on_page(driver)} == {"testsrc"}
        driver.find_element("id", "filter").clear()
        driver.execute_script("const s = document.getElementById('status'); s.value = 'failed';"
                              "s.dispatchEvent(new Event('change'));")
        failed = _rows_on_page(driver)
        assert [r[0] for r in failed] == [BROKEN_NAME]
        images = driver.find_elements("tag name", "img")
        assert len(images) >= 2 + 4 * 2  # histogram, level counts, and per card a frame strip + 2 charts
        assert all(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image)
                   for image in images)
        driver.execute_script("const s = document.getElementById('status'); s.value = '';"
                              "s.dispatchEvent(new Event('change'));")
        save_screenshot(driver, "report_small")


def test_a_run_of_an_uncalibrated_model_says_so_and_shows_no_level(scored_run, tmp_path):
    report = write_report(scored_run["raw"], tmp_path / "uncalibrated.html", model=scored_run["uncalibrated_model"],
                          top_n=1)
    data = _table_data(report.read_text(encoding="utf-8"))
    keys = [column["key"] for column in data["columns"]]
    assert "mos" not in keys and "level" not in keys and data["sort_key"] == "score"  # nothing guessed
    with headless_chromium() as driver:
        driver.get(report.as_uri())
        assert driver.find_element("id", "stat-scale").text == "uncalibrated"
        assert "Uncalibrated: this model has no calibration" in driver.find_element("id", "scale-note").text
        assert "uncalibrated (raw score, no level)" in driver.find_element("id", "worst-1").text
        assert [th.get_attribute("data-key") for th in driver.find_elements("css selector", "#videos-head th")][:4] \
            == ["path", "status", "score", "prompt_prob_excellent"]
        save_screenshot(driver, "report_uncalibrated")


def test_report_of_100000_rows_stays_small_and_pages(tmp_path):
    rng = random.Random(0)
    results = tmp_path / "big.jsonl"
    with results.open("w") as handle:
        for i in range(100_000):
            row = {"path": f"/data/batch{i // 1000:03d}/clip_{i:06d}.mp4", "status": "ok", "error": None,
                   "score": rng.gauss(0.0, 1.0)}
            weights = [rng.random() for _ in LEVELS]
            row.update({f"prompt_prob_{n}": w / sum(weights) for n, w in zip(LEVELS, weights, strict=True)})
            if i % 1000 == 7:
                row.update(status="failed", score=None, error="VideoDecodeError: damaged",
                           **{f"prompt_prob_{n}": None for n in LEVELS})
            handle.write(json.dumps(row) + "\n")
    report = write_report(results, tmp_path / "big.html", thumbnails=False)
    size = report.stat().st_size
    assert size < 15e6, f"{size / 1e6:.1f} MB"
    with headless_chromium() as driver:
        driver.get(report.as_uri())
        assert "of 100000" in driver.find_element("id", "page-info").text
        assert len(_rows_on_page(driver)) == 50  # one page drawn, not 100,000 rows
        driver.find_element("css selector", 'th[data-key="score"]').click()
        best = float(_rows_on_page(driver)[0][2])
        top = max(json.loads(line)["score"] or -1e9 for line in results.open())
        assert best == pytest.approx(top, rel=1e-3)
        driver.find_element("id", "next").click()
        assert "rows 51–100 of 100000" in driver.find_element("id", "page-info").text
        driver.execute_script("const s = document.getElementById('status'); s.value = 'failed';"
                              "s.dispatchEvent(new Event('change'));")
        assert "of 100 " in driver.find_element("id", "page-info").text + " "
        save_screenshot(driver, "report_100k_failed_filter", full_page=False)

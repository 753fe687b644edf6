"""`qclip-vqa score` run as a subprocess over a folder with damaged files: formats, exit codes, the resume key."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from qclip_hf.inference import read_rows
from qclip_hf.synthetic import generate_quality_dataset


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Generated clips in nested folders, one renamed .mkv, a zero-byte .mp4, a truncated .mp4 and a non-video."""
    root = tmp_path_factory.mktemp("folder")
    generate_quality_dataset(root / "gen", num_sources=2, levels=2, test_sources=1, degradations=("blur",),
                             progress=False)
    clips = sorted((root / "gen").rglob("*.mp4"))
    shutil.copy(clips[0], root / "gen" / "renamed.mkv")
    (root / "zero.mp4").write_bytes(b"")
    data = clips[1].read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (root / "notes.txt").write_text("not a video")
    skipped = sum(1 for p in root.rglob("*") if p.is_file() and p.suffix not in (".mp4", ".mkv"))
    return root, len(clips) + 1, skipped


@pytest.mark.parametrize("extension", ["csv", "jsonl", "parquet"])
def test_folder_with_damaged_files(cli, model_dir, folder, tmp_path, extension):
    root, num_good, num_skipped = folder
    output = tmp_path / f"results.{extension}"
    run = cli.run(root, "--model", model_dir, "--output", output, "--device", "cpu", "--batch_size", "3")
    assert run.returncode == 1, run.stderr  # some inputs failed
    rows = read_rows(output)
    assert len(rows) == num_good + 2 and len({r["path"] for r in rows}) == len(rows)
    failed = {Path(r["path"]).name: r["error"] for r in rows if r["status"] == "failed"}
    assert set(failed) == {"zero.mp4", "truncated.mp4"}
    assert "0 bytes" in failed["zero.mp4"] and "VideoDecodeError" in failed["truncated.mp4"]
    # Each failure is listed with its reason.
    assert all(f"failed: {root / name}: " in run.stderr for name in failed)
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(isinstance(r["score"], float) and r["prompt_prob_excellent"] is not None for r in ok)
    assert all(r["mos"] is None and r["level"] is None for r in rows)  # an uncalibrated model: raw score only
    assert all(isinstance(r["size"], int) and isinstance(r["mtime_ns"], int) and len(r["run_key"]) == 16 for r in ok)
    assert all("substituted_frames" in r and "warnings" in r for r in rows)
    assert any(r["path"].endswith("renamed.mkv") for r in ok)
    assert cli.leftovers(tmp_path) == []  # journals merged away, no temporary file
    assert (f"{num_good + 2} videos: {num_good + 2} new, 0 rescored, 0 reused; {num_good} ok, 2 failed; "
            f"{num_skipped} non-video files skipped") in run.summary
    assert "Traceback" not in run.stderr and "Warning" not in run.stderr


def test_resume_key(cli, model_dir, second_model_dir, folder, tmp_path):
    """A row is reused only with the same file, model and options; anything else is scored again."""
    root, num_good, _ = folder
    output = tmp_path / "results.csv"
    base = [root / "gen", "--output", output, "--device", "cpu", "--batch_size", "4"]

    first = cli.run(*base, "--model", model_dir)
    assert first.returncode == 0, first.stderr
    scores = {r["path"]: r["score"] for r in read_rows(output)}
    assert f"{num_good} videos: {num_good} new, 0 rescored, 0 reused; {num_good} ok, 0 failed" in first.summary

    again = cli.run(*base, "--model", model_dir)
    assert again.returncode == 0 and f"0 new, 0 rescored, {num_good} reused; 0 ok, 0 failed" in again.summary

    # Another model: every row rescored, and the scores are the new model's.
    other = cli.run(*base, "--model", second_model_dir)
    assert f"0 new, {num_good} rescored, 0 reused; {num_good} ok" in other.summary, other.stderr
    rescored = {r["path"]: r["score"] for r in read_rows(output)}
    assert rescored.keys() == scores.keys() and all(rescored[p] != scores[p] for p in scores)

    # Another number of frames, then another sampling strategy: rescored again.
    frames = cli.run(*base, "--model", second_model_dir, "--num_frames", "2")
    assert f"0 new, {num_good} rescored, 0 reused" in frames.summary, frames.stderr
    strategy = cli.run(*base, "--model", second_model_dir, "--num_frames", "2", "--sampling_strategy", "SegMSEMean")
    assert f"0 new, {num_good} rescored, 0 reused" in strategy.summary, strategy.stderr

    # Same model and options, but one file rewritten in place and one new file: only those two are scored.
    touched = sorted((root / "gen").rglob("*.mp4"))[0]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    extra = root / "gen" / "extra.mp4"
    shutil.copy(touched, extra)
    try:
        last = cli.run(*base, "--model", second_model_dir, "--num_frames", "2", "--sampling_strategy", "SegMSEMean")
    finally:
        extra.unlink()
    assert f"{num_good + 1} videos: 1 new, 1 rescored, {num_good - 1} reused; 2 ok" in last.summary, last.stderr
    assert cli.leftovers(tmp_path) == []


def test_cut_journal_is_repaired_with_a_warning(cli, model_dir, folder, tmp_path):
    """A run killed by a power loss leaves a journal whose last line is cut; the next run repairs it and resumes."""
    root, num_good, _ = folder
    output = tmp_path / "results.jsonl"
    args = [root / "gen", "--model", model_dir, "--output", output, "--device", "cpu", "--return_temporal",
            "--num_segments", "2"]
    assert cli.run(*args).returncode == 0
    lines = output.read_text().splitlines()
    assert all(len(json.loads(line)["temporal"]) == 2 for line in lines)
    # The output lost its last two rows; one survived in a journal, the other was being written when power failed.
    output.write_text("\n".join(lines[:-2]) + "\n")
    Path(f"{output}.rank0.partial.jsonl").write_text(lines[-1] + "\n" + lines[-2][: len(lines[-2]) // 2])
    run = cli.run(*args)
    assert run.returncode == 0, run.stderr
    assert "partial.jsonl: its last line is cut or damaged" in run.stderr
    assert f"1 new, 0 rescored, {num_good - 1} reused; 1 ok" in run.summary
    expected = {row["path"]: row for row in map(json.loads, lines)}
    got = {row["path"]: row for row in read_rows(output)}
    assert got.keys() == expected.keys()
    for path, row in got.items():  # the rescored row was scored in a batch of 1: equal up to float rounding
        assert row["score"] == pytest.approx(expected[path]["score"], abs=1e-6)
        assert {k: v for k, v in row.items() if k not in ("score", "temporal") and not k.startswith("prompt_prob_")} \
            == {k: v for k, v in expected[path].items()
                if k not in ("score", "temporal") and not k.startswith("prompt_prob_")}
    assert cli.leftovers(tmp_path) == []


def test_report_flag_writes_the_html_report_after_scoring(cli, model_dir, folder, tmp_path):
    root, _, _ = folder
    report = tmp_path / "out" / "report.html"
    run = cli.run(root, "--model", model_dir, "--output", tmp_path / "results.csv", "--device", "cpu",
                  "--report", report)
    assert run.returncode == 1, run.stderr  # the damaged files failed; the report is written all the same
    html = report.read_text()
    assert "renamed.mkv" in html and "truncated.mp4" in html
    # A report path that cannot be written stops the run before any scoring.
    blocked = cli.run(root, "--model", model_dir, "--output", tmp_path / "other.csv", "--report", tmp_path)
    assert blocked.returncode == 2 and blocked.stderr.startswith("error: --report") and not (
        tmp_path / "other.csv").exists()


@pytest.mark.parametrize("extension", ["csv", "jsonl", "parquet"])
def test_a_calibrated_model_writes_mos_and_level_columns(cli, model_dir, folder, tmp_path, extension):
    from qclip_hf.calibration import Calibration

    root, _, _ = folder
    calibrated = tmp_path / "calibrated"
    shutil.copytree(model_dir, calibrated)
    calibration = Calibration("logistic4", {"b1": 5.0, "b2": 1.0, "b3": 0.0, "b4": 0.05}, mos_range=(1.0, 5.0))
    calibration.save(calibrated)
    output = tmp_path / f"results.{extension}"
    run = cli.run(root / "gen", "--model", calibrated, "--output", output, "--device", "cpu", "--return_temporal")
    assert run.returncode == 0, run.stderr
    if extension == "csv":
        header = output.read_text().splitlines()[0].split(",")
        assert header[:5] == ["path", "status", "score", "mos", "level"]
        assert [c for c in header if "prob" in c] == [f"prompt_prob_{n}" for n in ("excellent", "good", "fair",
                                                                                  "poor", "bad")]
    rows = read_rows(output)
    assert rows and all(r["status"] == "ok" for r in rows)
    for row in rows:
        assert isinstance(row["mos"], float) and row["mos"] == pytest.approx(calibration.mos_of(row["score"]))
        assert row["level"] == calibration.level_of(row["mos"])
        assert all(s["mos"] == pytest.approx(calibration.mos_of(s["score"])) for s in row["temporal"])

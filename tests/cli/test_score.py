"""`qclip-vqa score` run as a subprocess over a folder with damaged files: formats, exit codes, the resume key."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
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
    # The reused rows are ok rows; nothing was scored, so no rate (papercut 10).
    assert again.returncode == 0, again.stderr
    assert f"0 new, 0 rescored, {num_good} reused; {num_good} ok, 0 failed" in again.summary
    assert again.summary.split(" -> ")[0].endswith("s (nothing to score)") and "videos/s" not in again.summary

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
    assert f"{num_good + 1} videos: 1 new, 1 rescored, {num_good - 1} reused; {num_good + 1} ok, 0 failed" \
        in last.summary, last.summary
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
    assert f"1 new, 0 rescored, {num_good - 1} reused; {num_good} ok" in run.summary
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


def test_summary_of_one_video_and_of_a_resumed_run_with_a_failure(cli, model_dir, folder, tmp_path):
    """Papercut 10: "1 video"; reused rows counted as ok beside this run's failure; no rate when none was scored."""
    root, _, _ = folder
    output = tmp_path / "results.csv"
    one = cli.run(sorted((root / "gen").rglob("*.mp4"))[0], "--model", model_dir, "--output", output)
    assert one.returncode == 0 and one.summary.startswith("1 video: 1 new, 0 rescored, 0 reused; 1 ok, 0 failed in ")
    assert "videos/s)" in one.summary
    both = cli.run(sorted((root / "gen").rglob("*.mp4"))[0], root / "truncated.mp4", "--model", model_dir,
                   "--output", output)
    assert both.returncode == 1
    assert both.summary.startswith("2 videos: 1 new, 0 rescored, 1 reused; 1 ok, 1 failed in "), both.summary
    assert both.summary.split(" -> ")[0].endswith("s (none scored)"), both.summary


def test_outputs_are_as_readable_as_any_file_the_user_creates(cli, model_dir, folder, tmp_path):
    """Papercut 1: CSV, JSON Lines and Parquet outputs follow the umask (0644 under 022), not mkstemp's 0600; an
    existing output keeps its permissions."""
    root, _, _ = folder
    clip = sorted((root / "gen").rglob("*.mp4"))[0]
    for extension, umask, mode in (("csv", 0o022, 0o644), ("jsonl", 0o022, 0o644), ("parquet", 0o002, 0o664)):
        output = tmp_path / f"results.{extension}"
        code = f"import os, sys; os.umask({umask}); from qclip_hf.cli import main; sys.exit(main(sys.argv[1:]))"
        run = subprocess.run([sys.executable, "-c", code, "score", str(clip), "--model", model_dir,
                              "--output", str(output), "--no_progress"], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        assert stat.S_IMODE(output.stat().st_mode) == mode, extension
    output = tmp_path / "results.csv"
    output.chmod(0o640)
    assert cli.run(root / "gen", "--model", model_dir, "--output", output).returncode == 0  # rewritten: new rows
    assert stat.S_IMODE(output.stat().st_mode) == 0o640


def test_rows_record_the_frames_of_the_processor_saved_with_the_model(cli, edited_model_dir, folder, tmp_path):
    """Item 3 (CLI) and papercut 4: each row says how many frames the run took and with which sampler, the saved
    processor's (edited: 6, RandSampl) unless --num_frames / --sampling_strategy override them."""
    root, _, _ = folder
    output = tmp_path / "results.jsonl"
    assert cli.run(root / "gen", "--model", edited_model_dir, "--output", output).returncode == 0
    assert {(r["num_frames"], r["sampling_strategy"]) for r in read_rows(output)} == {(6, "RandSampl")}
    override = tmp_path / "override.jsonl"
    assert cli.run(root / "gen", "--model", edited_model_dir, "--output", override, "--num_frames", "3",
                   "--sampling_strategy", "SegMSEMean").returncode == 0
    assert {(r["num_frames"], r["sampling_strategy"]) for r in read_rows(override)} == {(3, "SegMSEMean")}


def test_more_frames_than_a_video_has_are_said_and_an_absurd_count_refused(cli, model_dir, folder, tmp_path):
    """Papercut 7: `--num_frames 100000` stops at once; a count above a video's length is a warning in its row."""
    root, _, _ = folder
    clip = sorted((root / "gen").rglob("*.mp4"))[0]
    refused = cli.run(clip, "--model", model_dir, "--output", tmp_path / "r.csv", "--num_frames", "100000")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "--num_frames 100000 is more than 256" in refused.stderr and not (tmp_path / "r.csv").exists()
    import av

    with av.open(str(clip)) as container:
        length = sum(1 for _ in container.decode(video=0))
    run = cli.run(clip, "--model", model_dir, "--output", tmp_path / "r.csv", "--num_frames", str(length + 10))
    assert run.returncode == 0, run.stderr
    [row] = read_rows(tmp_path / "r.csv")
    assert f"{length + 10} frames requested from a video of {length}: frames repeat" in row["warnings"]

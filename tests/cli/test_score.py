"""`qclip-vqa score` over a folder with damaged files: every format, resume, exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import qclip_hf  # noqa: F401
from qclip_hf.cli import main
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
    return root, len(clips) + 1


def _run(*args: str) -> int:
    return main(["score", *map(str, args), "--device", "cpu", "--no_progress", "--batch_size", "3"])


@pytest.mark.parametrize("extension", ["csv", "jsonl", "parquet"])
def test_folder_with_damaged_files(model_dir, folder, tmp_path, capsys, extension):
    root, num_good = folder
    output = tmp_path / f"results.{extension}"
    assert _run(root, "--model", model_dir, "--output", output) == 1
    rows = read_rows(output)
    assert len(rows) == num_good + 2 and len({r["path"] for r in rows}) == len(rows)
    failed = {Path(r["path"]).name: r["error"] for r in rows if r["status"] == "failed"}
    assert set(failed) == {"zero.mp4", "truncated.mp4"}
    assert "0 bytes" in failed["zero.mp4"] and "VideoDecodeError" in failed["truncated.mp4"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(isinstance(r["score"], float) and r["prob_excellent"] is not None for r in ok)
    assert any(r["path"].endswith("renamed.mkv") for r in ok)
    assert not list(tmp_path.glob("*.partial.jsonl"))  # journals merged away
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"{num_good + 2} files: {num_good} ok, 2 failed, 0 skipped" in summary

    # Rerun: done files are skipped, the damaged ones are tried again; --allow-failures makes it exit 0.
    assert _run(root, "--model", model_dir, "--output", output, "--allow-failures") == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert f"0 ok, 2 failed, {num_good} skipped" in summary
    assert sorted(map(str, read_rows(output))) == sorted(map(str, rows))


def test_resume_after_an_interrupted_run_and_globs(model_dir, folder, tmp_path, capsys):
    root, num_good = folder
    output = tmp_path / "results.jsonl"
    pattern = str(root / "gen" / "**" / "*.mp4")
    assert _run(pattern, "--model", model_dir, "--output", output, "--return_temporal", "--num_segments", "2") == 0
    rows = read_rows(output)
    assert len(rows) == num_good - 1 and all(len(r["temporal"]) == 2 for r in rows)
    # Simulate an interruption: the output lost its last two rows, one survived only in a rank's journal.
    lines = output.read_text().splitlines()
    output.write_text("\n".join(lines[:-2]) + "\n")
    Path(f"{output}.rank0.partial.jsonl").write_text(lines[-1] + "\n")
    assert _run(pattern, "--model", model_dir, "--output", output, "--return_temporal", "--num_segments", "2") == 0
    assert f"1 ok, 0 failed, {num_good - 2} skipped" in capsys.readouterr().out
    assert len(read_rows(output)) == num_good - 1


def test_bad_arguments_exit_2(model_dir, folder, tmp_path, capsys):
    root, _ = folder
    assert _run(root, "--model", model_dir, "--output", tmp_path / "results.xlsx") == 2
    assert ".parquet" in capsys.readouterr().err
    assert _run(tmp_path / "missing", "--model", model_dir, "--output", tmp_path / "r.csv") == 2
    with pytest.raises(SystemExit):
        main(["score", str(root), "--model", model_dir, "--output", "r.csv", "--sampling_strategy", "nope"])

"""Runs that cannot start: exit code 2, one line `error: <what> — <what to do>`, no traceback, nothing decoded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def videos(tmp_path_factory, clip_path):
    root = tmp_path_factory.mktemp("videos")
    shutil.copy(clip_path, root / "a.mp4")
    return root


def _broken_models(model_dir, root):
    """Model folders broken the ways the issue lists: truncated weights, broken config.json, missing config.json."""
    broken = {}
    for kind in ("truncated_weights", "broken_config", "missing_config"):
        target = root / kind
        shutil.copytree(model_dir, target)
        broken[kind] = target
    data = (broken["truncated_weights"] / "adapter_model.safetensors").read_bytes()
    (broken["truncated_weights"] / "adapter_model.safetensors").write_bytes(data[: len(data) // 2])
    (broken["broken_config"] / "config.json").write_text('{"model_type": "qclip", ')
    (broken["missing_config"] / "config.json").unlink()
    return broken


def _assert_not_started(run, *words):
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and " — " in lines[0], run.stderr
    assert "Traceback" not in run.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_output_device_and_input_errors(cli, model_dir, videos, tmp_path):
    folder_output = tmp_path / "a_folder"
    folder_output.mkdir()
    foreign = tmp_path / "budget.csv"
    foreign.write_text("item,cost\nrent,100\n")
    cases = {
        "folder": ([videos, "--output", folder_output], ["is a folder"]),
        "foreign": ([videos, "--output", foreign], ["not a qclip-vqa result file", "item, cost"]),
        "extension": ([videos, "--output", tmp_path / "r.xlsx"], [".csv, .jsonl, .parquet"]),
        "device": ([videos, "--output", tmp_path / "r.csv", "--device", "cuda"], ["no cuda device", "--device cpu"]),
        "empty": (["--output", tmp_path / "r.csv"], ["no input given"]),
        "no_video": ([tmp_path, "--output", tmp_path / "r.csv"], ["no video found", "--extensions"]),
        "bad_number": ([videos, "--output", tmp_path / "r.csv", "--batch_size", "0"], ["--batch_size must be > 0"]),
    }
    for name, (args, words) in cases.items():
        run = cli.run(*args, "--model", model_dir)
        assert run.returncode == 2, name
        _assert_not_started(run, *words)
    assert foreign.read_text() == "item,cost\nrent,100\n"  # the unrelated file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder", "budget.csv"]  # nothing written


def test_model_errors(cli, model_dir, videos, tmp_path):
    broken = _broken_models(model_dir, tmp_path)
    output = tmp_path / "r.csv"
    missing = _assert_not_started(cli.run(videos, "--model", tmp_path / "no_such_model", "--output", output),
                                  "no_such_model")
    assert "Repo id must be in the form" not in missing
    for kind, folder in broken.items():
        line = _assert_not_started(cli.run(videos, "--model", folder, "--output", output), kind)
        assert "inject_adapter_in_model" not in line, line
    offline = cli.run(videos, "--model", "someone/qclip-not-in-cache", "--output", output,
                      env={"HF_HUB_OFFLINE": "1"})
    assert "We couldn't connect" not in _assert_not_started(offline, "someone/qclip-not-in-cache")
    assert not output.exists()
    # --debug adds the traceback to the same message.
    debug = cli.run(videos, "--model", tmp_path / "no_such_model", "--output", output, "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr and debug.stderr.strip().splitlines()[-1].startswith(
        "error: ")


def test_clean_failure_under_accelerate_launch(cli, model_dir, videos, tmp_path):
    """The scoring process prints one line and no traceback; `accelerate launch --quiet` then exits 1 quietly."""
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--quiet"]
    run = cli.run(videos, "--model", tmp_path / "no_such_model", "--output", tmp_path / "r.csv", launcher=launcher)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr and "CalledProcessError" not in run.stderr, run.stderr
    assert [line for line in run.stderr.splitlines() if line.startswith("error: ")], run.stderr


def test_help_lists_one_spelling_per_flag():
    done = subprocess.run([sys.executable, "-m", "qclip_hf.cli", "score", "--help"], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0
    assert "--allow_failures" in done.stdout and "--allow-failures" not in done.stdout
    flags = [word.strip("[],") for word in done.stdout.split() if word.startswith(("--", "[--"))]
    assert all("-" not in flag[2:] for flag in flags), flags
    for flag in ("--verbose", "--debug", "--raw_format", "--extensions", "--report"):
        assert flag in done.stdout


def test_a_model_name_that_is_no_folder_here_says_so_first(cli, tmp_path):
    """Papercut 2: `--model my-qclip` (the README's name) with no such folder: one line that starts with the folder
    that is not there, then what the Hub said (asked before the model stack loads)."""
    (tmp_path / "clip.mp4").write_bytes(b"never decoded")
    run = cli.run(tmp_path / "clip.mp4", "--model", "my-qclip", "--output", tmp_path / "r.csv", cwd=tmp_path,
                  env={"HF_HUB_OFFLINE": "0"})
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.stderr.startswith(f"error: there is no folder 'my-qclip' here ('{tmp_path / 'my-qclip'}' does not "
                                 "exist), and as a Hub id: "), run.stderr
    assert "pass the model folder's path" in run.stderr and not (tmp_path / "r.csv").exists()

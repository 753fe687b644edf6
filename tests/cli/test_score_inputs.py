"""What `qclip-vqa score` accepts: every container FFmpeg demuxes, raw .yuv, URLs, any file name; a missing path
among several is a recorded failure; skipped files are counted."""

from __future__ import annotations

import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qclip_hf.inference import decode_path, read_rows

# extension -> ffmpeg output arguments (each container with a codec it commonly carries)
CONTAINERS = {
    ".y4m": ["-pix_fmt", "yuv420p"],
    ".ts": ["-c:v", "mpeg2video"],
    ".m2ts": ["-c:v", "libx264", "-f", "mpegts"],
    ".mts": ["-c:v", "libx264", "-f", "mpegts"],
    ".mxf": ["-c:v", "mpeg2video", "-s", "720x576", "-r", "25"],
    ".3gp": ["-c:v", "h263", "-s", "176x144"],
    ".ogv": ["-c:v", "libtheora"],
    ".flv": ["-c:v", "flv1"],
    ".wmv": ["-c:v", "wmv2"],
    ".gif": [],
}
# Names the file system allows and text formats stumble on.
ODD_NAMES = [b"with space.mp4", b"-leading dash.mp4", b"caf\xe9 latin1.mp4", b"two\nlines.mp4", b"\xff\xfe.mp4",
             "日本語.mp4".encode()]


@pytest.fixture(scope="module")
def containers(tmp_path_factory, clip_path, cli):
    root = tmp_path_factory.mktemp("containers")
    for extension, args in CONTAINERS.items():
        cli.ffmpeg("-i", str(clip_path), *args, str(root / f"clip{extension}"))
    cli.ffmpeg("-i", str(clip_path), "-f", "rawvideo", "-pix_fmt", "yuv420p", str(root / "raw.yuv"))
    cli.copy(clip_path, root / "custom.vid")  # only collected with --extensions .vid
    (root / "notes.txt").write_text("not a video")
    (root / "labels.csv").write_text("a,b\n")
    return root


@pytest.fixture
def http_folder(tmp_path, clip_path, cli):
    """A local HTTP server (127.0.0.1, a free port) serving `clip_path` as /remote.mp4."""
    cli.copy(clip_path, tmp_path / "served" / "remote.mp4")
    handler = functools.partial(QuietHandler, directory=str(tmp_path / "served"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_containers_raw_urls_missing_and_skipped(cli, model_dir, containers, http_folder, tmp_path):
    output = tmp_path / "results.parquet"
    missing = tmp_path / "missing.mp4"
    run = cli.run(containers, missing, f"{http_folder}/remote.mp4", f"{http_folder}/absent.mp4",
                  "--model", model_dir, "--output", output, "--device", "cpu", "--raw_format", "64x48:yuv420p:10",
                  "--extensions", ".vid")
    rows = {r["path"]: r for r in read_rows(output)}
    expected_ok = {str(containers / f"clip{e}") for e in CONTAINERS} | {str(containers / "raw.yuv"),
                                                                        str(containers / "custom.vid"),
                                                                        f"{http_folder}/remote.mp4"}
    assert {p for p, r in rows.items() if r["status"] == "ok"} == expected_ok, run.stderr
    # A path that names nothing is not a video that failed to decode: listed apart, never a row (papercut 6).
    assert {p for p, r in rows.items() if r["status"] == "failed"} == {f"{http_folder}/absent.mp4"}
    assert run.returncode == 1  # the missing inputs count as failures of the run; everything else was scored
    assert f"not found: {missing} " in run.stderr and f"failed: {missing}" not in run.stderr
    assert "2 non-video files skipped" in run.summary and f"{len(expected_ok) + 1} videos" in run.summary
    assert "; 1 input not found" in run.summary
    assert cli.leftovers(tmp_path) == []


def test_inputs_that_name_nothing_stop_the_run_before_the_model_loads(cli, model_dir, tmp_path):
    """Every input missing (a typo, a glob matching nothing): one error line, no model loaded, no output written."""
    output = tmp_path / "out.csv"
    for args, words in (([tmp_path / "missing.mp4"], ["no such file or folder: ", "missing.mp4"]),
                        ([str(tmp_path / "*.mkv"), tmp_path / "gone"], ["a glob pattern matched nothing", "*.mkv"])):
        run = cli.run(*args, "--model", tmp_path / "not-loaded-so-never-checked", "--output", output)
        assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert all(word in run.stderr for word in words) and "model" not in run.stderr, run.stderr
    assert not output.exists()


def test_raw_yuv_without_its_frame_size_is_told_the_cli_flag(cli, model_dir, containers, tmp_path):
    """`.yuv` files need --raw_format: a folder of them, or one named, says that flag (not --extensions, not the
    Python API), before the model loads (papercut 5)."""
    raw_only = tmp_path / "raw"
    raw_only.mkdir()
    cli.copy(containers / "raw.yuv", raw_only / "a.yuv")
    for inputs in ([raw_only], [raw_only / "a.yuv", containers / "clip.ts"]):
        run = cli.run(*inputs, "--model", model_dir, "--output", tmp_path / "out.csv")
        assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert "--raw_format WIDTHxHEIGHT" in run.stderr and "--extensions" not in run.stderr
        assert "RawVideoFormat" not in run.stderr and "raw_format=" not in run.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("extension", ["csv", "jsonl", "parquet"])
def test_any_file_name_round_trips(cli, model_dir, clip_path, tmp_path, extension):
    folder = tmp_path / "odd"
    folder.mkdir()
    paths = [os.fsdecode(os.path.join(os.fsencode(folder), name)) for name in ODD_NAMES]
    for path in paths:
        with open(path, "wb") as handle:
            handle.write(clip_path.read_bytes())
    output = tmp_path / f"results.{extension}"
    # `--` lets a name that starts with a dash through argparse.
    run = cli.run("--model", model_dir, "--output", output, "--device", "cpu", "--", folder,
                  os.path.join(os.fsdecode(os.fsencode(folder)), "-leading dash.mp4"))
    assert run.returncode == 0, run.stderr
    rows = read_rows(output)
    assert sorted(decode_path(r["path"]) for r in rows) == sorted(paths)
    assert all(r["status"] == "ok" for r in rows)
    written = {decode_path(r["path"]): r["path"] for r in rows}
    assert written[os.path.join(str(folder), "with space.mp4")] == os.path.join(str(folder), "with space.mp4")
    assert written[os.fsdecode(os.path.join(os.fsencode(folder), b"caf\xe9 latin1.mp4"))].endswith("caf%E9%20latin1.mp4")
    # The rerun finds every row again by its name: nothing rescored.
    again = cli.run(folder, "--model", model_dir, "--output", output, "--device", "cpu")
    assert f"0 new, 0 rescored, {len(paths)} reused" in again.summary, again.stderr
    assert cli.leftovers(tmp_path) == []


def test_interrupted_run_keeps_its_rows_and_leaves_no_temporary_file(cli, model_dir, clip_path, tmp_path):
    """Ctrl-C (SIGINT) mid-run: exit 130, the rows scored so far are in the output, no journal is left behind."""
    folder = tmp_path / "many"
    for i in range(300):
        cli.copy(clip_path, folder / f"{i:03d}.mp4")
    output = tmp_path / "results.csv"
    command = [sys.executable, "-m", "qclip_hf.cli", "score", str(folder), "--model", model_dir, "--output",
               str(output), "--device", "cpu", "--batch_size", "1", "--no_progress"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    journal = Path(f"{output}.rank0.partial.jsonl")
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if journal.exists() and journal.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr.decode()
    assert "interrupted" in stderr.decode() and "Traceback" not in stderr.decode()
    rows = read_rows(output)
    assert 3 <= len(rows) < 300 and all(r["status"] == "ok" for r in rows)
    assert cli.leftovers(tmp_path) == []

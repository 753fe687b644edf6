"""`qclip-vqa app` refuses what it cannot serve before saying it serves (issue 22, papercut 8)."""

from __future__ import annotations

import socket
import subprocess
import sys


def _app(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qclip_hf.cli", "app", *args], capture_output=True, text=True,
                          timeout=300)


def test_a_bad_model_is_one_error_line_and_no_serving_line(tmp_path):
    from qclip_hf.testing.browser import free_port

    done = _app("--model", str(tmp_path / "no-such-model"), "--server_port", str(free_port()))
    assert done.returncode == 2 and done.stdout == "", done.stdout  # no "starting the app on http://..." first
    assert len(done.stderr.strip().splitlines()) == 1 and "no-such-model' does not exist" in done.stderr


def test_a_busy_port_names_the_flag_that_fixes_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # The model is never looked at: the port is checked first, in a fraction of the start-up.
        done = _app("--model", str(tmp_path / "not-checked"), "--server_port", str(port))
    assert done.returncode == 2 and done.stdout == "", done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port} on 127.0.0.1 is already in use" in lines[0], done.stderr
    assert "--server_port" in lines[0] and "GRADIO_SERVER_PORT" not in lines[0] and "launch(" not in lines[0]


def test_limits_are_checked_and_documented(tmp_path):
    done = _app("--model", str(tmp_path), "--max_file_size", "lots")
    assert done.returncode == 2 and "--max_file_size 'lots' is not a size" in done.stderr
    done = _app("--model", str(tmp_path), "--max_queue", "-1")
    assert done.returncode == 2 and "--max_queue must be >= 0" in done.stderr
    usage = subprocess.run([sys.executable, "-m", "qclip_hf.cli", "app", "--help"], capture_output=True, text=True,
                           env={"COLUMNS": "200", "PATH": ""}).stdout
    assert "--max_file_size SIZE" in usage and "(default 200MB)" in usage
    assert "--max_queue N" in usage and "(default 20)" in usage


def test_the_parser_defaults_are_the_app_defaults():
    from qclip_hf.app.interface import DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_QUEUE
    from qclip_hf.cli import app

    assert (app.DEFAULT_MAX_FILE_SIZE, app.DEFAULT_MAX_QUEUE) == (DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_QUEUE)

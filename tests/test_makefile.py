"""What each `make` target does on a fresh machine, read from `make -n -B` (a dry run that prints every recipe).

`make demo` is the README's main job: it installs what the demo needs and says so, and nothing only the tests need
(issue 22 papercut 11: it apt-installed Chromium and ran pip with `-q`, so minutes passed with no output)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def dry_run(target: str) -> str:
    done = subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_demo_installs_what_it_needs_visibly_and_no_browser():
    recipe = dry_run("demo")
    assert "training/demo.py" in recipe and "-c .ci/constraints.txt" in recipe
    assert "chromium" not in recipe
    pip_lines = [line for line in recipe.splitlines() if "pip install" in line]
    assert pip_lines and not any(" -q" in line for line in pip_lines), pip_lines


def test_test_installs_the_browsers_and_the_pinned_lane():
    recipe = dry_run("test")
    assert "chromium chromium-driver" in recipe and "-c .ci/constraints.txt" in recipe
    assert "pytest tests" in recipe


def test_test_latest_builds_a_new_venv_with_the_newest_releases():
    recipe = dry_run("test-latest")
    assert "-m venv .venv-latest" in recipe and "--upgrade-strategy eager" in recipe
    assert "-c .ci/latest-constraints.txt" in recipe and "-c .ci/constraints.txt" not in recipe
    assert ".venv-latest/bin/python -m pytest tests" in recipe

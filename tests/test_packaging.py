"""The two lanes of packages (issue 21 item 2): every direct dependency pinned for the reproducible lane, the README's
table of tested versions equal to those pins, and the latest lane holding nothing but torch and torchvision."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "direct_versions.py"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_every_direct_dependency_is_pinned_for_the_reproducible_lane():
    done = subprocess.run([sys.executable, str(SCRIPT), "--check-pins", str(ROOT / ".ci" / "constraints.txt")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_pin_check_names_a_dependency_without_a_pin(tmp_path):
    partial = tmp_path / "constraints.txt"
    partial.write_text("torch==2.14.1\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(SCRIPT), "--check-pins", str(partial)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "direct dependencies without a pin" in done.stderr and "transformers" in done.stderr


def test_installed_direct_dependencies_are_the_pinned_ones_in_the_reproducible_lane():
    # In the latest lane (a venv that `make test-latest` builds) the newest releases are installed on purpose.
    if Path(sys.prefix).name == ".venv-latest":
        return
    pins = _pins(ROOT / ".ci" / "constraints.txt")
    listed = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60, check=True)
    installed = dict(line.split("==") for line in listed.stdout.splitlines() if "==" in line)
    differ = {name: (version, pins[name]) for name, version in installed.items() if pins.get(name) != version}
    assert not differ, f"installed (left) differs from .ci/constraints.txt (right): {differ}; run `make setup`"


def test_readme_tested_versions_match_the_pins():
    pins = _pins(ROOT / ".ci" / "constraints.txt")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- tested-versions: start", 1)[1].split("<!-- tested-versions: end", 1)[0]
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", table, flags=re.M)
    checked = 0
    for names, versions in rows[2:] if rows and rows[0][0].startswith("tested") else rows:
        for name, version in zip(names.split(" / "), versions.split(" / "), strict=True):
            key = re.sub(r"[-_.]+", "-", re.sub(r"\s*\(.*\)", "", name)).lower()
            if key == "python":
                assert sys.version_info[:2] >= (3, 10)
                continue
            assert pins.get(key) == version, f"README says {name} {version}, .ci/constraints.txt {pins.get(key)}"
            checked += 1
    assert checked >= 8


def test_latest_lane_holds_only_torch_and_torchvision():
    assert set(_pins(ROOT / ".ci" / "latest-constraints.txt")) == {"torch", "torchvision"}

"""`bench/run_all.py`: one table from every module, crashes become failed rows, results comparable as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN_ALL = Path(__file__).resolve().parents[2] / "bench" / "run_all.py"

GOOD = '''
def run(quick=False):
    slow = 2.0 if quick else 4.0
    return [{"name": "fast thing", "unit": "s", "ours": 1.0, "baseline": slow, "ratio": None,
             "target": "<= 1.0", "passed": True, "note": ""},
            {"name": "slow thing", "unit": "s", "ours": 3.0, "baseline": 1.0, "ratio": 3.0,
             "target": "<= 1.0", "passed": False, "note": "too slow"}]
'''
BROKEN = "def run(quick=False):\n    raise RuntimeError('benchmark exploded')\n"


def _run(bench_dir: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN_ALL), "--bench_dir", str(bench_dir), "--output", str(out),
                           *extra], capture_output=True, text=True, timeout=120)


def test_table_json_and_exit_codes(tmp_path):
    bench_dir = tmp_path / "bench"
    bench_dir.mkdir()
    (bench_dir / "bench_good.py").write_text(GOOD)
    done = _run(bench_dir, tmp_path / "out", "--quick")
    assert done.returncode == 0, done.stderr
    assert "fast thing" in done.stdout and "PASS" in done.stdout and "FAIL" in done.stdout
    record = json.loads((tmp_path / "out" / "latest.json").read_text())
    rows = {row["name"]: row for row in record["rows"]}
    assert rows["fast thing"]["ratio"] == 0.5  # derived from ours / baseline when the module leaves it out
    assert record["quick"] is True
    # --strict turns a missed target into a failing exit code; --compare shows the previous ratios.
    strict = _run(bench_dir, tmp_path / "out2", "--strict", "--compare", str(tmp_path / "out" / "latest.json"))
    assert strict.returncode == 1
    assert "ratio before" in strict.stdout


def test_crashing_module_is_a_failed_row_not_the_end(tmp_path):
    bench_dir = tmp_path / "bench"
    bench_dir.mkdir()
    (bench_dir / "bench_good.py").write_text(GOOD)
    (bench_dir / "bench_broken.py").write_text(BROKEN)
    done = _run(bench_dir, tmp_path / "out")
    assert done.returncode == 1
    rows = json.loads((tmp_path / "out" / "latest.json").read_text())["rows"]
    crashed = [row for row in rows if row["name"] == "bench_broken (crashed)"]
    assert crashed and "benchmark exploded" in crashed[0]["note"]
    assert any(row["name"] == "fast thing" for row in rows)


def test_unknown_area_is_a_usage_error(tmp_path):
    done = _run(tmp_path, tmp_path / "out", "--only", "nope")
    assert done.returncode != 0 and "no such benchmark" in done.stderr

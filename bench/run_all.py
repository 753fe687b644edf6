#!/usr/bin/env python
"""Run every benchmark in `bench/` and print one table: name, ours, baseline, ratio, target, pass/fail.

Each `bench/bench_<area>.py` exposes `run(quick: bool = False) -> list[dict]` whose rows carry `name, unit, ours,
baseline, ratio, target, passed, note`; the baseline of every ratio is measured in the same run, so the ratios
compare across machines and loads where absolute times do not. Each module runs in its own fresh Python process:
start-up and peak-memory figures are then honest, and one module that crashes or times out becomes a failed row
instead of ending the whole run.

Usage:
    python bench/run_all.py                     # everything (under 15 minutes on 2 cores)
    python bench/run_all.py --quick             # smaller inputs (under 3 minutes)
    python bench/run_all.py --only video,startup --compare outputs/bench/previous.json

Results are written to `outputs/bench/latest.json` (and a timestamped copy) so two runs can be compared with
`--compare`. The exit code is 0 unless a module crashed, or `--strict` is given and a row missed its target.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
ROW_KEYS = ("name", "unit", "ours", "baseline", "ratio", "target", "passed", "note")


def discover(only: list[str] | None = None, bench_dir: Path = BENCH_DIR) -> list[Path]:
    """The `bench_<area>.py` modules, in name order, optionally restricted to the given areas."""
    modules = sorted(Path(bench_dir).glob("bench_*.py"))
    if only:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in only}
        unknown = wanted - {m.stem.removeprefix("bench_") for m in modules}
        if unknown:
            known = ", ".join(m.stem.removeprefix("bench_") for m in modules)
            raise SystemExit(f"error: --only {','.join(sorted(unknown))}: no such benchmark — choose from {known}")
        modules = [m for m in modules if m.stem.removeprefix("bench_") in wanted]
    return modules


def _child(module_path: str, quick: bool, out: str) -> None:
    """Runs inside the fresh process: import the module, call `run`, write its rows as JSON."""
    import importlib.util

    sys.path.insert(0, str(REPO))
    spec = importlib.util.spec_from_file_location(Path(module_path).stem, module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "run"):
        raise SystemExit(f"{module_path} has no run(quick) function")
    rows = module.run(quick=quick)
    Path(out).write_text(json.dumps(rows, default=float))


def run_module(path: Path, quick: bool, timeout: float) -> tuple[list[dict], float]:
    """Run one benchmark module in a subprocess; a crash or a time-out becomes one failed row."""
    out = REPO / "outputs" / "bench" / f".{path.stem}.rows.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--_child", str(path), "--_out", str(out)]
    if quick:
        command.append("--quick")
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, timeout=timeout, capture_output=True, text=True)
        failure = None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["no output"])[-1]
    except subprocess.TimeoutExpired:
        failure = f"timed out after {timeout:.0f} s"
    elapsed = time.perf_counter() - start
    if failure is None and out.exists():
        rows = json.loads(out.read_text())
        out.unlink()
        return [_normalise(row, path.stem) for row in rows], elapsed
    return [_normalise({"name": f"{path.stem} (crashed)", "passed": False, "note": failure or "no rows"},
                       path.stem)], elapsed


def _normalise(row: dict, module: str) -> dict:
    row = {key: row.get(key) for key in ROW_KEYS} | {"module": module}
    if row["ratio"] is None and isinstance(row["ours"], (int, float)) and row["baseline"]:
        row["ratio"] = row["ours"] / row["baseline"]
    return row


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    return str(value)


def render_table(rows: list[dict], previous: dict[str, dict] | None = None) -> str:
    """The printed table (rich when installed, aligned plain text otherwise)."""
    header = ["benchmark", "unit", "ours", "baseline", "ratio", "target", "result"]
    if previous is not None:
        header.insert(5, "ratio before")
    lines = []
    for row in rows:
        result = "PASS" if row["passed"] else ("FAIL" if row["passed"] is False else "info")
        cells = [row["name"], row["unit"], _fmt(row["ours"]), _fmt(row["baseline"]), _fmt(row["ratio"]),
                 _fmt(row["target"]), result]
        if previous is not None:
            cells.insert(5, _fmt((previous.get(row["name"]) or {}).get("ratio")))
        lines.append([_fmt(c) for c in cells])
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="qclip-hf benchmarks (ratio = ours / baseline, both measured in this run)")
        for column in header:
            table.add_column(column, justify="left" if column in ("benchmark", "unit") else "right")
        for cells in lines:
            table.add_row(*cells)
        console = Console(width=160, force_terminal=False, no_color=True)
        with console.capture() as captured:
            console.print(table)
        return captured.get()
    except ImportError:
        widths = [max(len(str(x)) for x in column) for column in zip(header, *lines, strict=True)]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in [header, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs (under 3 minutes)")
    parser.add_argument("--only", default=None, help="comma-separated areas, e.g. video,startup")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per module (default 600)")
    parser.add_argument("--output", default=str(REPO / "outputs" / "bench"), help="folder for the JSON results")
    parser.add_argument("--compare", default=None, help="a previous results JSON: show its ratios beside today's")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a row misses its target")
    parser.add_argument("--bench_dir", default=str(BENCH_DIR), help="folder of bench_*.py modules (default: bench/)")
    parser.add_argument("--_child", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._child:
        _child(args._child, args.quick, args._out)
        return 0
    previous = None
    if args.compare:
        if not os.path.isfile(args.compare):
            raise SystemExit(f"error: --compare {args.compare!r} does not exist — give a JSON written by run_all.py")
        previous = {row["name"]: row for row in json.loads(Path(args.compare).read_text())["rows"]}
    modules = discover(args.only.split(",") if args.only else None, Path(args.bench_dir))
    rows, timings, start = [], {}, time.perf_counter()
    for path in modules:
        print(f"running {path.name} ...", flush=True)
        module_rows, timings[path.stem] = run_module(path, args.quick, args.timeout)
        rows.extend(module_rows)
    total = time.perf_counter() - start
    print(render_table(rows, previous))
    per_module = ", ".join(f"{name.removeprefix('bench_')} {seconds:.0f} s" for name, seconds in timings.items())
    print(f"{len(rows)} rows from {len(modules)} modules in {total:.0f} s ({per_module})")
    os.makedirs(args.output, exist_ok=True)
    record = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "quick": args.quick, "seconds": total,
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
              "module_seconds": timings, "rows": rows}
    stamped = Path(args.output) / f"bench-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
    for target in (stamped, Path(args.output) / "latest.json"):
        target.write_text(json.dumps(record, indent=2, default=float))
    print(f"results: {stamped}")
    crashed = any(row["name"].endswith("(crashed)") for row in rows)
    missed = any(row["passed"] is False for row in rows)
    return 1 if crashed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Start-up benchmark (issue 12 item 2): what a process pays before it does any work.

Rows (each a median over several fresh processes; every baseline is measured in the same run):

1. `qclip-vqa --help` vs `python -c "import torch"`: target <= 0.5 (the CLI prints usage without torch).
2. `python -c "import qclip_hf"` vs `python -c "import torch; from transformers import PreTrainedModel"`: <= 1.1.
3. `from qclip_hf import QClipModel` (model classes, registration done) vs the same baseline: informational.
4. Peak RSS of `import qclip_hf` vs `import torch`: <= 1.1. 5. Peak RSS of the model stack: informational.
6. The CLI's time to its first scored video minus what any script pays for the same work (import, model load,
   decode and forward of one clip with a tiny model, in a fresh process): target < 1 s.

Usage: `python bench/bench_startup.py [--quick]` (also `run(quick)` for `bench/run_all.py`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PYTHON = sys.executable


def measure(command: list[str], repeats: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median wall time (s) and median peak RSS (MB) of `command` over `repeats` fresh processes."""
    times, peaks = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        times.append(time.perf_counter() - start)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
        process.stderr.close()
        peaks.append(usage.ru_maxrss / 1024)  # KiB on Linux
    return statistics.median(times), statistics.median(peaks)


def python_code(code: str) -> list[str]:
    return [PYTHON, "-c", code]


def row(name: str, unit: str, ours: float, baseline: float, target: str, note: str,
        limit: float | None = None, difference: bool = False) -> dict:
    ratio = ours / baseline if baseline else float("nan")
    if limit is None:
        passed = True
    else:
        passed = (ours - baseline if difference else ratio) <= limit
    return {"name": name, "unit": unit, "ours": round(ours, 3), "baseline": round(baseline, 3),
            "ratio": round(ratio, 3), "target": target, "passed": bool(passed), "note": note}


def _cli_command() -> list[str]:
    script = shutil.which("qclip-vqa")
    return [script] if script else [PYTHON, "-m", "qclip_hf.cli"]


def cli_first_video(workdir: Path, repeats: int) -> dict:
    """Row 6: `qclip-vqa score` on one clip vs a minimal script doing the same load + decode + forward."""
    import torch

    from qclip_hf import QClipConfig, QClipModel
    from qclip_hf.testing.tiny_backbones import save_tiny_backbone

    model_dir = workdir / "model"
    if not model_dir.exists():
        torch.manual_seed(0)
        backbone = save_tiny_backbone(workdir / "tiny_backbone", "clip")
        QClipModel(QClipConfig(backbone=str(backbone), scma_config={"r": 4, "layers": 2})).save_pretrained(model_dir)
    clip = workdir / "clip.mp4"
    if not clip.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "4",
                        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(clip)], check=True)
    minimal = textwrap.dedent(f"""
        import torch
        from qclip_hf import QClipModel
        from qclip_hf.pipelines.video_quality import default_video_processor
        model = QClipModel.from_pretrained({str(model_dir)!r}).eval()
        processor = default_video_processor(model)
        with torch.no_grad():
            score = model(pixel_values_videos=processor({str(clip)!r})["pixel_values_videos"]).scores
        with open({str(workdir / 'minimal.txt')!r}, "w") as handle:
            handle.write(str(float(score[0])))
    """)
    output = workdir / "scores.csv"
    cli = [*_cli_command(), "score", str(clip), "--model", str(model_dir), "--output", str(output), "--no_progress",
           "--device", "cpu"]
    cli_times, script_times = [], []
    for _ in range(repeats):  # interleaved, so a change in the machine's load hits both sides alike
        output.unlink(missing_ok=True)  # no resume: the first video is really scored
        cli_times.append(measure(cli, 1)[0])
        script_times.append(measure(python_code(minimal), 1)[0])
    ours, baseline = statistics.median(cli_times), statistics.median(script_times)
    return row("cli: first scored video minus load+decode+forward", "s", ours, baseline, "ours - baseline < 1 s",
               "baseline: a fresh script importing qclip_hf, loading the same tiny model, decoding and scoring the "
               "same 4 s 360p clip", limit=1.0, difference=True)


def run(quick: bool = False) -> list[dict]:
    """The start-up rows (see the module docstring); `quick` uses 2 repetitions instead of 7."""
    repeats = 2 if quick else 7
    rows = []
    help_time, _ = measure([*_cli_command(), "--help"], repeats)
    torch_time, torch_rss = measure(python_code("import torch"), repeats)
    rows.append(row("qclip-vqa --help vs import torch", "s", help_time, torch_time, "<= 0.5",
                    f"qclip-vqa --help; median of {repeats} fresh processes", limit=0.5))
    baseline_code = "import torch; from transformers import PreTrainedModel"
    stack_time, stack_rss = measure(python_code(baseline_code), repeats)
    import_time, import_rss = measure(python_code("import qclip_hf"), repeats)
    rows.append(row("import qclip_hf vs import torch + PreTrainedModel", "s", import_time, stack_time, "<= 1.1",
                    "registration deferred until transformers/PEFT are imported", limit=1.1))
    model_time, model_rss = measure(python_code("from qclip_hf import QClipModel"), repeats)
    rows.append(row("from qclip_hf import QClipModel vs import torch + PreTrainedModel", "s", model_time, stack_time,
                    "informational", "model classes + every registration (PEFT, Auto classes, video processor, "
                    "pipeline)"))
    rows.append(row("peak RSS: import qclip_hf vs import torch", "MB", import_rss, torch_rss, "<= 1.1",
                    "ru_maxrss of the child process", limit=1.1))
    rows.append(row("peak RSS: from qclip_hf import QClipModel vs import torch + PreTrainedModel", "MB", model_rss,
                    stack_rss, "informational", "ru_maxrss of the child process"))
    workdir = Path(tempfile.mkdtemp(prefix="bench_startup_"))
    try:
        rows.append(cli_first_video(workdir, repeats=1 if quick else 3))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repetitions instead of 7")
    args = parser.parse_args()
    for entry in run(quick=args.quick):
        status = "PASS" if entry["passed"] else "FAIL"
        print(f"{status}  {entry['name']}: ours {entry['ours']} {entry['unit']}, baseline {entry['baseline']} "
              f"{entry['unit']}, ratio {entry['ratio']} (target {entry['target']}) — {entry['note']}")


if __name__ == "__main__":
    main()

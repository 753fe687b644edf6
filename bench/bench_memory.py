"""Peak memory of sampling many frames from a long 1080p clip (issue 11 item 6): frames are resized as decoded.

Generates (once, cached under the temp dir) a 60 s 1080p30 H.264 clip (quick mode: 10 s, 8 and 300 frames), then measures, each
in a fresh process, the peak RSS of

- the decode stage: `sample_video(clip, N, "UNISampl", transform=<the processor's 336x336 resize>)` for
  N = 8, 64, 2000 (target for 2,000: under 1.5 GB; the uint8 frames themselves are N x 336 x 336 x 3);
- the whole processor call `QClipVideoProcessor(num_frames=N)(clip)`, whose float32 output alone is
  N x 3 x 336 x 336 x 4 bytes (2.7 GB for 2,000 frames): target = that size + 1.5 GB;
- the baseline: the same imports, no video (the floor every row includes).

Usage:
    python bench/bench_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_IMPORTS = (
    "import resource, sys, numpy as np; "
    "from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor; "
    "from qclip_hf.video.reader import sample_video; "
)
_PEAK = "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"


def make_clip(quick: bool) -> Path:
    seconds = 10 if quick else 60
    path = Path(tempfile.gettempdir()) / "qclip_bench_memory" / f"gray_box_{seconds}s_1080p30.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "ffmpeg", "-v", "error", "-y", "-f", "lavfi",
                "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path),
            ],
            check=True,
        )  # fmt: skip
    return path


def _peak_mb(code: str, *args: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTS + code + _PEAK, *args], capture_output=True, text=True, cwd=REPO
    )
    if out.returncode:
        raise RuntimeError(f"measurement failed ({' '.join(args)}):\n{out.stderr[-2000:]}")
    return float(out.stdout.split()[-1])


def run(quick: bool = False) -> list[dict]:
    clip = make_clip(quick)
    counts = (8, 300) if quick else (8, 64, 2000)
    baseline = _peak_mb("")
    rows = []
    decode = (
        "p = QClipVideoProcessor(); "
        "from transformers.image_utils import SizeDict; "
        "opts = {'size': SizeDict(height=336, width=336), 'resample': p.resample, 'resize_mode': 'squash'}; "
        "s = sample_video(sys.argv[1], int(sys.argv[2]), 'UNISampl', transform=p._frame_resizer(opts), timeout=3600.0); "
        "assert s.frames.shape[1:] == (336, 336, 3); "
    )
    processor = "x = QClipVideoProcessor(num_frames=int(sys.argv[2]), decode_timeout=3600.0)(sys.argv[1])['pixel_values_videos']; "
    for n in counts:
        peak = _peak_mb(decode, str(clip), str(n))
        frames_mb = n * 336 * 336 * 3 / 2**20
        rows.append({
            "name": f"memory: decode+resize {n} frames of {clip.stem}", "unit": "MB", "ours": round(peak),
            "baseline": round(baseline), "ratio": round(peak / baseline, 2),
            "target": "<= 1500 MB" if n >= 2000 else "-", "passed": peak <= 1500 if n >= 2000 else True,
            "note": f"baseline: imports only; the resized uint8 frames are {frames_mb:.0f} MB",
        })  # fmt: skip
    for n in counts:
        peak = _peak_mb(processor, str(clip), str(n))
        output_mb = n * 3 * 336 * 336 * 4 / 2**20
        rows.append({
            "name": f"memory: processor {n} frames of {clip.stem}", "unit": "MB", "ours": round(peak),
            "baseline": round(baseline), "ratio": round(peak / baseline, 2),
            "target": f"<= {output_mb + 1500:.0f} MB", "passed": peak <= output_mb + 1500,
            "note": f"includes the float32 output tensor of {output_mb:.0f} MB",
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 s clip and 8/300 frames")
    args = parser.parse_args()
    for row in run(quick=args.quick):
        print(
            f"{'PASS' if row['passed'] else 'FAIL'}  {row['name']:<58} peak {row['ours']:>6} MB  "
            f"(imports only {row['baseline']} MB; target {row['target']}; {row['note']})"
        )


if __name__ == "__main__":
    main()

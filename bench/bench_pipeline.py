"""Benchmark of `pipeline("video-quality")` with a tiny backbone (the model's cost is negligible, so this measures
the pipeline's own overhead over the video input path).

1. Pipeline time per 10 s 1080p30 H.264 clip vs the decode + sample time of the same clip (8 uniform frames,
   `sample_video`), measured in the same run; goal: ratio <= 1.5.
2. Videos per second over a folder of 50 generated clips (2 s, 640x360, 30 fps) with batch sizes 1 and 8.

Usage: `python bench/bench_pipeline.py [--workdir outputs/bench_pipeline] [--repeats 3]`
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import torch

import qclip_hf  # noqa: F401
from qclip_hf import QClipConfig, QClipModel
from qclip_hf.backbones.tiny import save_tiny_backbone
from qclip_hf.pipelines import VideoQualityPipeline
from qclip_hf.video.reader import sample_video


def make_clip(path: Path, seconds: float, size: str, rate: int = 30, seed: int = 0) -> None:
    if path.exists():
        return
    source = f"testsrc2=size={size}:rate={rate},noise=alls={10 + seed % 40}:allf=t"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", str(seconds), "-c:v", "libx264",
                    "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path)], check=True)


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", default="outputs/bench_pipeline")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num_clips", type=int, default=50)
    args = parser.parse_args()
    work = Path(args.workdir)
    (work / "folder").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    backbone = save_tiny_backbone(work / "tiny-clip", "clip")
    model = QClipModel(QClipConfig(backbone=str(backbone), scma_config={"r": 4, "layers": 2})).eval()
    pipe = VideoQualityPipeline(model=model, device="cpu")

    clip = work / "clip_10s_1080p30.mp4"
    make_clip(clip, 10, "1920x1080")
    pipe(str(clip))  # warm-up (first decode, text features)
    decode = timed(lambda: sample_video(str(clip), pipe.video_processor.num_frames, "UNISampl"), args.repeats)
    full = timed(lambda: pipe(str(clip)), args.repeats)

    clips = []
    for i in range(args.num_clips):
        clips.append(str(work / "folder" / f"clip{i:02d}.mp4"))
        make_clip(Path(clips[-1]), 2, "640x360", seed=i)
    rates = {}
    for batch_size in (1, 8):
        seconds = timed(lambda b=batch_size: pipe(clips, batch_size=b), 1)
        rates[batch_size] = len(clips) / seconds

    figures = {
        "clip": "10 s 1920x1080 30 fps H.264 (x264 veryfast, keyframe interval 250)",
        "num_frames": pipe.video_processor.num_frames,
        "decode_sample_s": round(decode, 3),
        "pipeline_s": round(full, 3),
        "ratio": round(full / decode, 3),
        "goal_ratio": 1.5,
        "folder": f"{len(clips)} clips, 2 s 640x360 30 fps",
        "videos_per_s": {f"batch_size={b}": round(r, 2) for b, r in rates.items()},
        "threads": torch.get_num_threads(),
    }
    print(f"decode+sample {decode:.3f} s | pipeline {full:.3f} s | ratio {full / decode:.2f} (goal <= 1.5)")
    for b, r in rates.items():
        print(f"folder of {len(clips)} clips, batch_size={b}: {r:.2f} videos/s")
    (work / "results.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

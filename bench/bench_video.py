"""Video data-path benchmark: motion profile and UNISampl against `ffmpeg -i clip -f null -`, plus peak memory.

Generates (once, cached under `outputs/bench_video/`) two 10 s 1080p30 H.264 clips, one with a 1 s keyframe
interval (`-g 30`) and one with x264's default (250), and a 10-minute 1080p30 clip for the memory check. Every
timing is the best of `--repeats` runs, interleaved with the `ffmpeg` baseline measured in the same run, and
printed as a ratio against it. Targets (issue 3): motion profile <= 1.3x on both clips; UNISampl of 8
full-resolution frames <= 0.8x (1 s interval) and <= 1.05x (long interval); motion-profile peak memory on the
10-minute clip within 100 MB of the 10-second clip.

Issue 12 rows (`run()`, contract 7): each motion strategy, decoding once, against one full PyAV decode of the
same file (same thread settings) on 30- and 250-frame keyframe intervals at 1080p and 360p; target <= 1.1x.
Two informational floors per clip, measured in the same run: the luma motion profile alone (what every MSE
strategy computes) and one copy of every frame (what an exact one-decode MSESortedUNI must keep); and, also
informational, MSESortedUNI as the first pass of a process (the frame arena not yet mapped, as in a CLI run that
scores one video).

Usage:
    python bench/bench_video.py [--quick] [--repeats 3] [--out outputs/bench_video] [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qclip_hf.video.decoding import decode_frames, plan_read_mode  # noqa: E402
from qclip_hf.video.stream import index_video  # noqa: E402
from qclip_hf.video.motion import compute_motion_profile  # noqa: E402
from qclip_hf.video.reader import sample_video  # noqa: E402
from qclip_hf.video.sampling import UNISampl  # noqa: E402


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def generate_clips(out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    clips = {
        "gop30_10s": out / "gop30_10s_1080p30.mp4",
        "gop250_10s": out / "x264default_10s_1080p30.mp4",
        "long_10min": out / "long_10min_1080p30.mp4",
    }
    source = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1920x1080:rate=30",
        "-t",
        "10",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
    ]
    if not clips["gop30_10s"].exists():
        _ffmpeg(*source, "-g", "30", str(clips["gop30_10s"]))
    if not clips["gop250_10s"].exists():
        _ffmpeg(*source, str(clips["gop250_10s"]))
    if not clips["long_10min"].exists():
        # Low-complexity content keeps generation short; decoding cost per frame is what the memory check needs.
        _ffmpeg(
            "-f", "lavfi",
            "-i", "color=c=gray:size=1920x1080:rate=30:duration=600,drawbox=x='mod(t*200,1700)':y=400:w=200:h=200:color=red:t=fill",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clips["long_10min"]),
        )  # fmt: skip
    return clips


def _timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def _peak_rss_mb(clip: Path) -> float:
    """Peak RSS of a fresh process that imports the package and computes one motion profile."""
    code = (
        "import resource, sys; from qclip_hf.video.motion import compute_motion_profile; "
        "p = compute_motion_profile(sys.argv[1]); "
        "print(len(p), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(clip)], check=True, capture_output=True, text=True, cwd=REPO)
    frames, peak = out.stdout.split()
    return float(peak), int(frames)


MOTION_STRATEGIES = ("MSESortedUNI", "SegMSEMean", "SegMSEMedian")


def _motion_clips(out: Path, quick: bool) -> dict[str, Path]:
    """10 s (quick: 3 s) testsrc2 clips at 1080p and 360p with 30- and 250-frame keyframe intervals."""
    out.mkdir(parents=True, exist_ok=True)
    seconds = 3 if quick else 10
    clips = {}
    for height, width in ((1080, 1920), (360, 640)):
        for gop in (30, 250):
            path = out / f"motion_{height}p_gop{gop}_{seconds}s.mp4"
            if not path.exists():
                _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30", "-t", str(seconds),
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", str(gop), str(path))  # fmt: skip
            clips[f"{height}p_gop{gop}"] = path
    return clips


def _decoded_frames(clip: Path):
    """Every frame of `clip` from one PyAV decode with the sampler's thread settings (the baseline's loop)."""
    import av

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield from container.decode(stream)


def _full_decode(clip: Path) -> None:
    """The baseline: one full PyAV decode of every frame, same thread settings as the sampler."""
    for _ in _decoded_frames(clip):
        pass


_WARM_COPIES = np.empty(0, dtype=np.uint8)


def _warm_copies(nbytes: int) -> np.ndarray:
    """Memory for the frame copies, touched once so the timed runs do not page-fault."""
    global _WARM_COPIES
    if _WARM_COPIES.size < nbytes:
        _WARM_COPIES = np.ones(nbytes, dtype=np.uint8)
    return _WARM_COPIES


def _decode_and_copy(clip: Path) -> None:
    """The floor of keeping every frame: one full PyAV decode plus one copy of each frame's planes.

    MSESortedUNI ranks every frame before it can choose, so an exact one-decode pass must keep (at least 6/7 of)
    the frames; copying them into already-mapped memory is the cheapest way that does not change the process's
    allocator (holding decoder frames makes the decoder zero fresh buffers: more). No motion, no conversion.
    """
    import av

    with av.open(str(clip)) as container:  # the baseline's loop, plus the stream's frame count to size the copies
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = max(1, stream.frames or 1)
        target, offset = None, 0
        for frame in container.decode(stream):
            planes = frame.planes
            if target is None:
                target = _warm_copies(frames * sum(plane.buffer_size for plane in planes) * 2)
            for plane in planes:
                nbytes = plane.buffer_size
                if offset + nbytes > target.size:
                    offset = 0
                target[offset : offset + nbytes] = np.frombuffer(plane, dtype=np.uint8, count=nbytes)
                offset += nbytes


def _decode_and_motion(clip: Path) -> None:
    """The floor of every MSE strategy: one full PyAV decode plus the luma motion profile, nothing kept."""
    from qclip_hf.video.motion import NeighbourMSE

    differ = None
    for frame in _decoded_frames(clip):
        if differ is None:
            differ = NeighbourMSE(frame, 64)
        differ.push(frame, frame.planes)
        if differ.full:
            differ.flush()
    differ.flush()


def _cpu_timed(fn, *args, **kwargs) -> tuple[float, float]:
    """(wall, CPU) seconds of one call; CPU counts every thread of this process (the decoder's too)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu


def _informational(name: str, ours: float, base: float, note: str) -> dict:
    """A row without a target: CPU seconds of `ours` against the full decode's, as a ratio."""
    return {
        "name": name, "unit": "s CPU", "ours": round(ours, 3), "baseline": round(base, 3),
        "ratio": round(ours / base, 3), "target": "informational", "passed": True, "note": note,
    }  # fmt: skip


def run(quick: bool = False) -> list[dict]:
    """Contract 7 rows: each motion strategy (one decode, profile not cached) / one full PyAV decode.

    The ratio is of CPU time (all threads of the process), best of the interleaved repeats: on a shared machine
    wall time mostly measures the other tenants (both figures are in the note).
    """
    from qclip_hf.video.frame_store import release_frame_arena
    from qclip_hf.video.motion_pass import MOTION_PROFILE_CACHE

    out = Path(tempfile.gettempdir()) / "qclip_bench_video"
    rows = []
    for label, clip in _motion_clips(out, quick).items():
        # Best of N estimates the uncontended cost; the 360p clips are cheap, so they get more repeats.
        repeats = 4 if label.startswith("1080p") else 9
        MOTION_PROFILE_CACHE.clear()
        sample_video(clip, 8, "MSESortedUNI", cache_motion=False)  # maps the frame arena for the warm runs
        cold_runs: list[tuple[float, float]] = []
        base_runs: list[tuple[float, float]] = []
        floor_runs: list[tuple[float, float]] = []
        motion_runs: list[tuple[float, float]] = []
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in MOTION_STRATEGIES}
        _decode_and_copy(clip)  # maps and touches the copy buffer before the timed runs
        for _ in range(repeats):  # interleaved, best of `repeats`
            base_runs.append(_cpu_timed(_full_decode, clip))
            floor_runs.append(_cpu_timed(_decode_and_copy, clip))
            motion_runs.append(_cpu_timed(_decode_and_motion, clip))
            for name in MOTION_STRATEGIES:
                MOTION_PROFILE_CACHE.clear()
                runs[name].append(_cpu_timed(sample_video, clip, 8, name, cache_motion=False))
            # The first motion pass of a process maps (page-faults) the frame arena: a CLI scoring one video.
            # Last in the repeat, so the arena it maps is warm again for the next repeat's runs.
            MOTION_PROFILE_CACHE.clear()
            release_frame_arena()
            cold_runs.append(_cpu_timed(sample_video, clip, 8, "MSESortedUNI", cache_motion=False))
        base_wall, base = min(w for w, _ in base_runs), min(c for _, c in base_runs)
        floor, motion = min(c for _, c in floor_runs), min(c for _, c in motion_runs)
        rows.append(_informational(
            f"video: floor of any MSE strategy (decode + luma motion, nothing kept), {label}", motion, base,
            f"the motion profile every MSE strategy computes (NeighbourMSE, as the pass); best of {repeats}",
        ))  # fmt: skip
        rows.append(_informational(
            f"video: floor of keeping every frame (decode + one copy each), {label}", floor, base,
            f"what an exact one-decode MSESortedUNI pays before any motion or RGB conversion; best of {repeats}",
        ))  # fmt: skip
        for name, times in runs.items():
            wall, ours = min(w for w, _ in times), min(c for _, c in times)
            note = (
                f"baseline: one full PyAV decode (thread_type AUTO, as the pass); best of {repeats}; wall "
                f"{wall:.2f}s vs {base_wall:.2f}s ({wall / base_wall:.2f}x)"
            )
            rows.append({
                "name": f"video: {name} 8 frames, {label}", "unit": "s CPU", "ours": round(ours, 3),
                "baseline": round(base, 3), "ratio": round(ours / base, 3), "target": "<= 1.1",
                "passed": ours / base <= 1.1, "note": note,
            })  # fmt: skip
        rows.append(_informational(
            f"video: MSESortedUNI 8 frames, first pass of a process (frame arena not yet mapped), {label}",
            min(c for _, c in cold_runs), base,
            f"release_frame_arena() before each run, as in a process scoring one video; best of {repeats}",
        ))  # fmt: skip
    return rows


def _print_rows(rows: list[dict]) -> None:
    for row in rows:
        print(
            f"{'PASS' if row['passed'] else 'FAIL'}  {row['name']:<48} ours {row['ours']:>7} {row['unit']}  "
            f"baseline {row['baseline']:>7}  ratio {row['ratio']:>6}  (target {row['target']})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only the motion-strategy rows on 3 s clips")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "bench_video")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    _print_rows(run(quick=args.quick))
    if args.quick:
        return
    _legacy_report(args)


def _legacy_report(args: argparse.Namespace) -> None:
    """The issue-3 table: motion profile and UNISampl against `ffmpeg -f null`, and motion-pass memory."""

    clips = generate_clips(args.out)
    results: dict[str, dict[str, float]] = {}
    for name in ("gop30_10s", "gop250_10s"):
        clip = clips[name]
        index = index_video(clip)
        uniform = UNISampl(index.num_frames, 8)
        runs: dict[str, list[float]] = {
            k: [] for k in ("ffmpeg", "motion", "unisampl", "seek", "sequential", "torchcodec")
        }
        for _ in range(args.repeats):
            runs["ffmpeg"].append(_timed(_ffmpeg, "-i", str(clip), "-f", "null", "-"))
            runs["motion"].append(_timed(compute_motion_profile, clip))
            runs["unisampl"].append(_timed(sample_video, clip, 8, "UNISampl"))
            runs["seek"].append(_timed(decode_frames, clip, uniform, read_mode="seek"))
            runs["sequential"].append(_timed(decode_frames, clip, uniform, read_mode="sequential"))
            try:
                runs["torchcodec"].append(_timed(decode_frames, clip, uniform, backend="torchcodec"))
            except ImportError:
                runs.pop("torchcodec")
        best = {k: min(v) for k, v in runs.items() if v}
        best["keyframe_interval"] = index.keyframe_interval
        best["plan"] = plan_read_mode(index, uniform)
        results[name] = best

    print(
        f"\n{'clip':<12} {'ffmpeg -f null':>14} {'motion':>16} {'UNISampl (plan)':>24} {'seek':>14} {'1 pass':>14} {'torchcodec':>14}"
    )
    for name, r in results.items():
        base = r["ffmpeg"]

        def cell(key: str, r: dict = r, base: float = base) -> str:
            return f"{r[key]:.2f}s {r[key] / base:.2f}x" if key in r else "-"

        print(
            f"{name:<12} {base:>13.2f}s {cell('motion'):>16} {cell('unisampl') + ' (' + r['plan'] + ')':>24} "
            f"{cell('seek'):>14} {cell('sequential'):>14} {cell('torchcodec'):>14}"
        )
    checks = [
        ("motion profile / ffmpeg, 1 s GOP", results["gop30_10s"]["motion"] / results["gop30_10s"]["ffmpeg"], 1.3),
        ("motion profile / ffmpeg, 250 GOP", results["gop250_10s"]["motion"] / results["gop250_10s"]["ffmpeg"], 1.3),
        (
            "UNISampl 8 frames / ffmpeg, 1 s GOP",
            results["gop30_10s"]["unisampl"] / results["gop30_10s"]["ffmpeg"],
            0.8,
        ),
        (
            "UNISampl 8 frames / ffmpeg, 250 GOP",
            results["gop250_10s"]["unisampl"] / results["gop250_10s"]["ffmpeg"],
            1.05,
        ),
    ]
    if not args.skip_memory:
        peak_short, n_short = _peak_rss_mb(clips["gop250_10s"])
        peak_long, n_long = _peak_rss_mb(clips["long_10min"])
        results["memory"] = {"peak_rss_10s_mb": peak_short, "peak_rss_10min_mb": peak_long, "frames_10min": n_long}
        print(
            f"\nmotion-profile peak RSS: 10 s clip ({n_short} frames) {peak_short:.0f} MB, "
            f"10 min clip ({n_long} frames) {peak_long:.0f} MB, difference {peak_long - peak_short:+.0f} MB"
        )
        checks.append(("peak memory 10 min - 10 s (MB)", peak_long - peak_short, 100.0))
    print()
    for label, value, target in checks:
        print(f"{'PASS' if value <= target else 'FAIL'}  {label:<40} {value:6.2f}  (target <= {target})")
    (args.out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""`qclip-vqa score PATHS... --model ID_OR_DIR --output results.{csv,jsonl,parquet}`."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..inference.files import VIDEO_EXTENSIONS, collect_video_files
from ..inference.results import OUTPUT_FORMATS, output_format
from ..inference.scoring import score_to_file
from ..pipelines.video_quality import DEFAULT_NUM_SEGMENTS, VideoQualityPipeline
from ..video.sampling import STRATEGY_NAMES

# Failures printed after the summary; all of them are in the output file.
MAX_LISTED_FAILURES = 20


def add_score_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "score",
        help="score videos (files, folders, globs) into a CSV / JSON Lines / Parquet file",
        description=(
            "Score the quality of videos with a Q-CLIP model. Folders are searched recursively for "
            f"{' '.join(VIDEO_EXTENSIONS)}; files named explicitly are scored whatever their extension. "
            "A damaged file is recorded with its error and scoring goes on. Rerunning with the same --output "
            "skips the files already scored. Under `accelerate launch -m qclip_hf.cli score ...` each process "
            "scores a shard and the main process writes the merged output."
        ),
    )
    parser.add_argument("paths", nargs="+", help="video files, folders or glob patterns (quote them)")
    parser.add_argument("--model", required=True, help="Hub id or directory of a saved Q-CLIP model")
    parser.add_argument("--output", required=True, help=f"result file; format from its extension {OUTPUT_FORMATS}")
    parser.add_argument("--revision", default=None, help="model revision (branch, tag or commit) on the Hub")
    parser.add_argument("--trust_remote_code", action="store_true", help="load the model's own code from its repo")
    parser.add_argument("--batch_size", type=int, default=8, help="videos per forward pass (default 8)")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader workers decoding ahead (default 0)")
    parser.add_argument("--num_frames", type=int, default=None, help="frames per video (default: the model's)")
    parser.add_argument("--sampling_strategy", default=None, choices=STRATEGY_NAMES,
                        help="frame sampler (default: the saved processor's)")
    parser.add_argument("--return_temporal", action="store_true", help="also score each of --num_segments segments")
    parser.add_argument("--num_segments", type=int, default=DEFAULT_NUM_SEGMENTS, help="segments of --return_temporal")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:1, ... (default: the launcher's device, cuda when available)")
    parser.add_argument("--allow_failures", "--allow-failures", action="store_true",
                        help="exit 0 even when some files could not be scored")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_score)
    return parser


def _positive(name: str, value: int | None, allow_zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise ValueError(f"--{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")


def build_pipeline(model: str, device: Any, revision: str | None = None,
                   trust_remote_code: bool = False) -> VideoQualityPipeline:
    """Load a saved Q-CLIP model (directory or Hub id) and wrap it in a [`VideoQualityPipeline`]."""
    from transformers import AutoModel

    loaded = AutoModel.from_pretrained(model, revision=revision, trust_remote_code=trust_remote_code)
    return VideoQualityPipeline(model=loaded, device=device)


def run_score(args: argparse.Namespace) -> int:
    """Run `score` with parsed arguments; returns the exit code (1 when any file failed, unless allowed)."""
    from accelerate import PartialState

    output_format(args.output)  # a bad extension fails before the model loads
    _positive("batch_size", args.batch_size)
    _positive("num_workers", args.num_workers, allow_zero=True)
    _positive("num_frames", args.num_frames)
    _positive("num_segments", args.num_segments)
    files = collect_video_files(args.paths)
    if not files:
        raise ValueError(f"no video files found in {args.paths} (extensions: {' '.join(VIDEO_EXTENSIONS)})")
    cpu = args.device is not None and str(args.device).startswith("cpu")
    state = PartialState(cpu=cpu)
    # Under a launcher each process owns one device; otherwise the user's choice (or what accelerate picked).
    device = state.device if state.num_processes > 1 or args.device is None else args.device
    pipe = build_pipeline(args.model, device, revision=args.revision, trust_remote_code=args.trust_remote_code)
    params = {"return_temporal": args.return_temporal, "num_segments": args.num_segments}
    if args.num_frames is not None:
        params["num_frames"] = args.num_frames
    if args.sampling_strategy is not None:
        params["sampling_strategy"] = args.sampling_strategy
    summary = score_to_file(pipe, files, os.path.abspath(args.output), batch_size=args.batch_size,
                            num_workers=args.num_workers, state=state, progress=not args.no_progress, **params)
    if state.is_main_process:
        for path, error in summary.failures[:MAX_LISTED_FAILURES]:
            print(f"failed: {path}: {error}", file=sys.stderr)
        if len(summary.failures) > MAX_LISTED_FAILURES:
            print(f"... and {len(summary.failures) - MAX_LISTED_FAILURES} more failures in {args.output}",
                  file=sys.stderr)
        print(summary.line())
    return 1 if summary.failed and not args.allow_failures else 0


__all__ = ["add_score_parser", "build_pipeline", "run_score"]

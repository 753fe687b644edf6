"""`qclip-vqa report RESULTS --output report.html`: the HTML report of a scoring run.

Nothing heavy is imported at module level (the top-level parser must start fast); see `run_report`.
"""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_TOP_N = 5  # kept equal to qclip_hf.reporting.html_report.DEFAULT_TOP_N (not imported: start-up time)


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a `qclip-vqa score` result file",
        description=(
            "Write one HTML file (opens offline: images and scripts are inline) showing a scoring run: counts, "
            "score histogram, a sortable and filterable table of every video, the worst and best N videos with "
            "the frames the model sampled and their temporal quality curve, and the failures with their reasons."
        ),
    )
    parser.add_argument("results", help="a .csv / .jsonl / .parquet written by `qclip-vqa score --output`")
    parser.add_argument("--output", required=True, help="the .html report to write")
    parser.add_argument("--model", default=None,
                        help="the model that scored the run (directory or Hub id): the processor saved with it "
                             "picks the frames shown (default: uniformly sampled frames)")
    parser.add_argument("--revision", default=None, help="model revision on the Hub")
    parser.add_argument("--top_n", type=int, default=DEFAULT_TOP_N,
                        help=f"worst and best videos shown with frames (default {DEFAULT_TOP_N})")
    parser.add_argument("--num_frames", type=int, default=None,
                        help="frames per video shown (default: what the results record, i.e. what the run used)")
    parser.add_argument("--sampling_strategy", default=None,
                        help="frame sampler (default: what the results record, i.e. what the run used)")
    parser.add_argument("--no_thumbnails", action="store_true",
                        help="do not re-decode the shown videos (no frame strips)")
    parser.add_argument("--title", default=None, help="page title")
    parser.set_defaults(func=run_report)
    return parser


def run_report(args: argparse.Namespace) -> int:
    """Run `report` with parsed arguments; returns the exit code (0; bad inputs raise a `QClipError`)."""
    from ..reporting.html_report import write_report

    if args.top_n < 0:
        raise ValueError(f"--top_n must be >= 0, got {args.top_n}")
    path = write_report(args.results, args.output, model=args.model, revision=args.revision, top_n=args.top_n,
                        num_frames=args.num_frames, sampling_strategy=args.sampling_strategy,
                        thumbnails=not args.no_thumbnails, title=args.title)
    print(f"report written: {path.resolve()}")
    print(f"open it with:   xdg-open {path.resolve()}   (or any browser; it needs no network)")
    return 0


__all__ = ["add_report_parser", "run_report"]

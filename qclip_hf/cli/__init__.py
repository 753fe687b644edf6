"""The `qclip-vqa` command line (console script `qclip-vqa = qclip_hf.cli:main`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .score import add_score_parser, build_pipeline, run_score


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qclip-vqa", description="Q-CLIP video quality assessment.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_score_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse `argv` (default `sys.argv[1:]`), run the command, return the exit code.

    Exit codes: 0 success; 1 some files failed (without `--allow_failures`); 2 bad arguments or inputs.

    Example:
        ```python
        >>> from qclip_hf.cli import main
        >>> main(["score", "videos/", "--model", "outputs/demo/final", "--output", "scores.csv"])  # doctest: +SKIP
        0
        ```
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"qclip-vqa {args.command}: error: {error}", file=sys.stderr)
        return 2


__all__ = ["build_parser", "build_pipeline", "main", "run_score"]

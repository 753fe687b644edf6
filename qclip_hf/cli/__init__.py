"""The `qclip-vqa` command line (console script `qclip-vqa = qclip_hf.cli:main`).

Start-up time is a feature: building the parser imports only the standard library and the subcommand modules,
whose `add_<name>_parser` functions import nothing heavy (torch, transformers and the model load inside each
`run_<name>`). So `qclip-vqa --help` and argument errors return before torch is imported.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from .app import add_app_parser
from .calibrate import add_calibrate_parser
from .report import add_report_parser
from .score import add_score_parser, build_pipeline, run_score

EXIT_NOT_STARTED = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped with Ctrl+C


def build_parser() -> argparse.ArgumentParser:
    """The `qclip-vqa` parser with its subcommands `score`, `report`, `app` and `calibrate` (imports no torch).

    Example:
        ```python
        >>> from qclip_hf.cli import build_parser
        >>> build_parser().parse_args(["report", "scores.csv", "--output", "report.html"]).command
        'report'
        ```
    """
    parser = argparse.ArgumentParser(prog="qclip-vqa", description="Q-CLIP video quality assessment.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_score_parser(subparsers)
    add_report_parser(subparsers)
    add_app_parser(subparsers)
    add_calibrate_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse `argv` (default `sys.argv[1:]`), run the command, return the exit code.

    Exit codes: 0 success; 1 some inputs failed (without `--allow_failures`); 2 the run could not start (usage,
    model, output, device), printed as one line `error: <what> — <what to do>` (`--debug` adds the traceback);
    130 stopped with Ctrl+C (one line; `score` keeps what it scored).

    Example:
        ```python
        >>> from qclip_hf.cli import main
        >>> main(["score", "videos/", "--model", "outputs/demo/run/best", "--output", "scores.csv"])  # doctest: +SKIP
        0
        ```
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..errors import QClipError

    try:
        return args.func(args)
    except (QClipError, ValueError, FileNotFoundError) as error:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NOT_STARTED
    except KeyboardInterrupt:  # Ctrl+C while loading: one line, not a traceback through torch's import machinery
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"interrupted: qclip-vqa {args.command} stopped (Ctrl+C)", file=sys.stderr)
        return EXIT_INTERRUPTED


__all__ = ["build_parser", "build_pipeline", "main", "run_score"]

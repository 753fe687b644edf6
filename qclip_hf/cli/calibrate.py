"""`qclip-vqa calibrate RESULTS LABELS --model DIR`: fit a model's map from raw score to MOS on labelled videos.

Nothing heavy is imported at module level (the top-level parser must start fast); see `run_calibrate`.
"""

from __future__ import annotations

import argparse
from typing import Any

KINDS = ("auto", "logistic4", "isotonic")  # kept equal to qclip_hf.calibration.fitting.FIT_KINDS (start-up time)


def add_calibrate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `calibrate` subcommand to the `qclip-vqa` parser (imports nothing heavy)."""
    parser = subparsers.add_parser(
        "calibrate",
        help="fit (or replace) a model's map from raw score to MOS on your labelled videos",
        description=(
            "Fit the monotonic map from the model's raw score to your MOS scale on videos you have labelled, and "
            "save it as calibration.json in the model folder: from then on the pipeline, `qclip-vqa score`, the "
            "report and the app show the calibrated `mos` and its `level` beside the raw score. First score the "
            "labelled videos with the same model (`qclip-vqa score VIDEOS --model DIR --output results.csv`). "
            "Prints the fit (PLCC, SROCC, RMSE, n) and writes a scatter plot. Nothing is written when the inputs "
            "do not pair up (exit code 2)."
        ),
    )
    parser.add_argument("results",
                        help="a .csv / .jsonl / .parquet written by `qclip-vqa score` for the labelled videos")
    parser.add_argument("labels", help="the videos' MOS: a CSV with a header (path or file_name, and mos), a JSON "
                                       "list / object, or a headerless label list (path, duration, fps, MOS)")
    parser.add_argument("--model", required=True, help="the local folder of the model that scored RESULTS")
    parser.add_argument("--output", default=None,
                        help="write the calibration here instead of MODEL/calibration.json (a .json file)")
    parser.add_argument("--kind", default="auto", choices=KINDS,
                        help="the map: auto (4-parameter logistic unless isotonic fits held-out points clearly "
                             "better; the default), logistic4 or isotonic")
    parser.add_argument("--mos_range", nargs=2, type=float, default=None, metavar=("LOW", "HIGH"),
                        help="the MOS scale, e.g. 1 5, whose five equal bands are the levels (default: the lowest "
                             "and highest label)")
    parser.add_argument("--lower_is_better", action="store_true", help="the labels are DMOS-like (lower = better)")
    parser.add_argument("--label_column", default="mos", help="the MOS column of a CSV / JSON labels file")
    parser.add_argument("--plot", default=None,
                        help="the scatter PNG to write (default: beside the calibration, same name .png)")
    parser.add_argument("--no_plot", action="store_true", help="write no scatter plot")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error")
    parser.set_defaults(func=run_calibrate)
    return parser


def run_calibrate(args: argparse.Namespace) -> int:
    """Run `calibrate` with parsed arguments; returns 0 (bad inputs raise a `CalibrationError`: exit code 2)."""
    from ..training.user_calibration import calibrate

    if args.mos_range is not None and not args.mos_range[0] < args.mos_range[1]:
        raise ValueError(f"--mos_range LOW HIGH needs LOW < HIGH, got {args.mos_range[0]:g} {args.mos_range[1]:g}")
    run = calibrate(args.results, args.labels, model=args.model, output=args.output, kind=args.kind,
                    mos_range=tuple(args.mos_range) if args.mos_range else None,
                    higher_is_better=not args.lower_is_better, label_column=args.label_column,
                    plot=False if args.no_plot else (args.plot or True))
    print(run.summary())
    return 0


__all__ = ["add_calibrate_parser", "run_calibrate"]

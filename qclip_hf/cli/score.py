"""`qclip-vqa score PATHS... --model ID_OR_DIR --output results.{csv,jsonl,parquet}`.

Exit codes: 0 every input scored; 1 some inputs failed (each listed with its reason, all in the output);
2 the run could not start (usage, model, output, device) — checked before the first video is decoded and reported
as one line ``error: <what> — <what to do>`` (``--debug`` adds the traceback).

Only the standard library is imported at module level: the top-level parser must build without torch.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Any

from ..inference.files import VIDEO_EXTENSIONS

# Failures printed after the summary; all of them are in the output file.
MAX_LISTED_FAILURES = 20
# Q-CLIP averages per-frame features (8 frames in the paper): beyond this a run only gets slower, not better.
MAX_NUM_FRAMES = 256
EXIT_OK, EXIT_SOME_FAILED, EXIT_NOT_STARTED, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_score_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `score` subcommand to the `qclip-vqa` parser (imports nothing heavy)."""
    parser = subparsers.add_parser(
        "score",
        help="score videos (files, folders, globs, URLs) into a CSV / JSON Lines / Parquet file",
        description=(
            "Score the quality of videos with a Q-CLIP model. Folders are searched recursively for the video "
            "extensions (see --extensions); files named explicitly and http(s) URLs are scored whatever their "
            "extension. A damaged or missing input is recorded with its error and scoring goes on. Rerunning into "
            "the same --output reuses a row only if the file (path, size, mtime), the model and every scoring "
            "option are unchanged. Exit codes: 0 all scored, 1 some inputs failed, 2 the run could not start. "
            "Under `accelerate launch -m qclip_hf.cli score ...` each process scores a shard and the main process "
            "writes the merged output."
        ),
    )
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="video files, folders, glob patterns (quote them) or http(s) URLs; "
                             "put `--` before names starting with a dash")
    parser.add_argument("--model", required=True, help="Hub id or folder of a saved Q-CLIP model")
    parser.add_argument("--output", required=True,
                        help="result file; its extension picks the format: .csv, .jsonl or .parquet")
    parser.add_argument("--revision", default=None, help="model revision (branch, tag or commit) on the Hub")
    parser.add_argument("--trust_remote_code", action="store_true",
                        help="load the model through AutoModel with the code shipped in its repo")
    parser.add_argument("--batch_size", type=int, default=8, help="videos per forward pass (default 8)")
    parser.add_argument("--num_workers", type=int, default=0, help="DataLoader workers decoding ahead (default 0)")
    parser.add_argument("--num_frames", type=int, default=None,
                        help=f"frames per video, at most {MAX_NUM_FRAMES} (default: the model's)")
    parser.add_argument("--sampling_strategy", default=None,
                        help="frame sampler, e.g. UNISampl, SegMSEMean (default: the saved processor's)")
    parser.add_argument("--return_temporal", action="store_true", help="also score each of --num_segments segments")
    parser.add_argument("--num_segments", type=int, default=None,
                        help="segments of --return_temporal (default 4)")
    parser.add_argument("--raw_format", default=None, metavar="WxH[:PIX_FMT[:FPS]]",
                        help="geometry of raw .yuv inputs, e.g. 1920x1080:yuv420p:30 (folders then include .yuv)")
    parser.add_argument("--extensions", default=None, metavar=".EXT[,.EXT...]",
                        help="extra extensions to collect from folders, comma-separated (default list: "
                             f"{' '.join(VIDEO_EXTENSIONS)})")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:1, mps, ... (default: the launcher's device, cuda when available)")
    parser.add_argument("--allow_failures", action="store_true",
                        help="exit 0 even when some inputs could not be scored")
    parser.add_argument("--report", default=None, metavar="REPORT.html",
                        help="also write the HTML report of the results (as `qclip-vqa report`)")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar")
    parser.add_argument("--verbose", action="store_true",
                        help="show third-party logs, warnings and progress bars (silenced by default)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error that stops the run")
    parser.set_defaults(func=run_score)
    return parser


def build_pipeline(model: str, device: Any, revision: str | None = None, trust_remote_code: bool = False) -> Any:
    """Load a saved Q-CLIP model (folder or Hub id) and wrap it in a [`VideoQualityPipeline`].

    Raises:
        [`~qclip_hf.errors.ModelLoadError`]: the model cannot be loaded (the message says why and what to do).
    """
    from ..errors import ModelLoadError, QClipError
    from ..pipelines.video_quality import VideoQualityPipeline

    try:
        if trust_remote_code:
            from transformers import AutoModel

            loaded = AutoModel.from_pretrained(model, revision=revision, trust_remote_code=True)
        else:
            from ..models.qclip import QClipModel

            loaded = QClipModel.from_pretrained(model, revision=revision)
    except QClipError:
        raise
    except Exception as error:  # noqa: BLE001 — whatever the loader raised, the user needs one sentence and a fix
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(
            f"cannot load the model {model!r} ({type(error).__name__}: {reason})",
            "pass a folder written by QClipModel.save_pretrained or a Hub id of a Q-CLIP model "
            "(rerun with --debug for the traceback)",
        ) from error
    return VideoQualityPipeline(model=loaded, device=device)


def run_score(args: argparse.Namespace) -> int:
    """Run `score` with parsed arguments; returns the exit code (0 all scored, 1 some failed, 2 not started)."""
    from .score_setup import configure_third_party_output, is_main_process

    configure_third_party_output(verbose=args.verbose)
    from ..errors import QClipError

    try:
        setup = _prepare(args)
    except (QClipError, ValueError) as error:
        if is_main_process():
            if args.debug:
                traceback.print_exc()
            print(f"error: {error}", file=sys.stderr)
        return EXIT_NOT_STARTED
    return _score(args, setup)


def _prepare(args: argparse.Namespace) -> dict[str, Any]:
    """Every check that can run before the first decode, in the order of their cost; returns what scoring needs."""
    from ..errors import QClipError
    from .score_setup import check_device, check_report, discover, parse_raw_format, positive

    positive("batch_size", args.batch_size)
    positive("num_workers", args.num_workers, allow_zero=True)
    positive("num_frames", args.num_frames)
    if args.num_frames is not None and args.num_frames > MAX_NUM_FRAMES:
        raise QClipError(f"--num_frames {args.num_frames} is more than {MAX_NUM_FRAMES} frames per video (the model "
                         "averages its frames' features; the paper uses 8, and a short video would only repeat "
                         "frames)", f"pass --num_frames {MAX_NUM_FRAMES} or fewer")
    positive("num_segments", args.num_segments)
    raw_format = parse_raw_format(args.raw_format)
    from ..inference.results import check_output

    output = os.path.abspath(args.output)
    check_output(output)
    report = check_report(args.report, output)
    found = discover(args.paths, args.extensions, raw_format is not None)
    if not args.trust_remote_code:  # a wrong --model fails here, before torch and the model stack are imported
        from ..models.qclip.checks_qclip import check_saved_model

        check_saved_model(args.model, revision=args.revision)
    check_device(args.device)

    from accelerate import PartialState

    from ..inference.resume_key import model_fingerprint

    cpu = args.device is not None and str(args.device).startswith("cpu")
    state = PartialState(cpu=cpu)
    # Under a launcher each process owns one device; otherwise the user's choice (or what accelerate picked).
    device = state.device if state.num_processes > 1 or args.device is None else args.device
    pipe = build_pipeline(args.model, device, revision=args.revision, trust_remote_code=args.trust_remote_code)
    if raw_format is not None:
        pipe.video_processor.raw_format = raw_format.to_dict()
    params: dict[str, Any] = {"return_temporal": args.return_temporal}
    for name in ("num_frames", "sampling_strategy", "num_segments"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    if args.return_temporal and "num_segments" not in params:
        from ..pipelines.video_quality import DEFAULT_NUM_SEGMENTS

        params["num_segments"] = DEFAULT_NUM_SEGMENTS
    try:
        pipe._sanitize_parameters(**params)  # an unknown --sampling_strategy fails here, listing the names
    except ValueError as error:
        raise QClipError(f"invalid scoring option: {error}", "see `qclip-vqa score --help`") from error
    local_model = os.path.isdir(args.model)
    fingerprint = model_fingerprint(pipe.model, source=os.path.abspath(args.model) if local_model else args.model,
                                    revision=args.revision)
    return {"state": state, "pipe": pipe, "params": params, "output": output, "report": report, "found": found,
            "fingerprint": fingerprint}


def _score(args: argparse.Namespace, setup: dict[str, Any]) -> int:
    from ..inference.names import printable
    from ..inference.scoring import score_to_file

    state, output = setup["state"], setup["output"]
    try:
        summary = score_to_file(setup["pipe"], setup["found"].inputs, output, batch_size=args.batch_size,
                                num_workers=args.num_workers, state=state, progress=not args.no_progress,
                                fingerprint=setup["fingerprint"], **setup["params"])
    except KeyboardInterrupt:
        if state.is_main_process:
            print(f"interrupted: the videos scored so far are in {printable(output)}; rerun the same command to "
                  "resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    summary.skipped_files = len(setup["found"].skipped)
    summary.missing_inputs = len(setup["found"].missing)
    failed = summary.failed + summary.missing_inputs
    if not state.is_main_process:
        return EXIT_SOME_FAILED if failed and not args.allow_failures else EXIT_OK
    for path in setup["found"].missing[:MAX_LISTED_FAILURES]:
        print(f"not found: {printable(path)} (no such file or folder, or a pattern that matched nothing)",
              file=sys.stderr)
    for path, error in summary.failures[:MAX_LISTED_FAILURES]:
        print(f"failed: {path}: {error}", file=sys.stderr)
    if len(summary.failures) > MAX_LISTED_FAILURES:
        print(f"... and {len(summary.failures) - MAX_LISTED_FAILURES} more failures in {printable(output)}",
              file=sys.stderr)
    print(summary.line())
    if setup["report"] is not None:
        from ..reporting.html_report import write_report

        write_report(output, setup["report"], model=args.model, revision=args.revision, num_frames=args.num_frames,
                     sampling_strategy=args.sampling_strategy)
        print(f"report -> {printable(setup['report'])}")
    return EXIT_SOME_FAILED if failed and not args.allow_failures else EXIT_OK


__all__ = ["add_score_parser", "build_pipeline", "run_score"]

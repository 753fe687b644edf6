"""Checks `qclip-vqa score` runs before the first decode, and the silencing of third-party output.

Each check raises [`~qclip_hf.errors.QClipError`] (or a subclass) whose message is one sentence naming the input and
one saying what to do; the CLI prints it as ``error: <message>`` and exits with code 2.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

from ..errors import OutputError, QClipError
from ..inference.files import VIDEO_EXTENSIONS, DiscoveredInputs, discover_inputs, normalize_extensions
from ..inference.names import printable

# Loggers of the libraries a scoring run goes through; at WARNING they print download and deprecation chatter.
THIRD_PARTY_LOGGERS = ("transformers", "huggingface_hub", "datasets", "httpx", "httpcore", "urllib3", "accelerate",
                       "torch", "peft", "timm", "open_clip", "torchcodec", "libav")
RAW_FORMAT_HELP = "use WIDTHxHEIGHT[:PIX_FMT[:FPS]], e.g. 1920x1080:yuv420p:30"
RAW_FORMAT_HINT = ("raw .yuv video is scored once its frame size is given: pass --raw_format "
                   "WIDTHxHEIGHT[:PIX_FMT[:FPS]], e.g. --raw_format 1920x1080:yuv420p:30")


def configure_third_party_output(verbose: bool = False) -> None:
    """Silence third-party logs, warnings and progress bars (the default), or turn them all on (`verbose`).

    Environment variables are set only when the user has not set them, and before the libraries read them where
    possible; libraries already imported are configured through their own switches.
    """
    if verbose:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "info")
        warnings.simplefilter("default")
        for name in THIRD_PARTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
        import huggingface_hub.utils
        import transformers

        transformers.utils.logging.set_verbosity_info()
        transformers.utils.logging.enable_progress_bar()
        huggingface_hub.utils.enable_progress_bars()
        return
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # DataLoader workers and launched processes inherit it
    warnings.filterwarnings("ignore")
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    _silence_transformers()


def _silence_transformers() -> None:
    """Switch off what the libraries already imported print; the others read the variables set above at import
    (importing transformers here would cost ~1 s before the first argument check)."""
    import sys

    if "huggingface_hub" in sys.modules:
        import huggingface_hub.utils

        huggingface_hub.utils.disable_progress_bars()
    if "transformers" in sys.modules:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    if "datasets" in sys.modules:  # do not import 🤗 datasets just to silence it
        sys.modules["datasets"].disable_progress_bars()


def is_main_process() -> bool:
    """Whether this is the main process of a launch (rank 0), read from the launcher's environment."""
    return os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) == "0"


def positive(name: str, value: int | None, allow_zero: bool = False) -> None:
    if value is not None and (value < 0 or (value == 0 and not allow_zero)):
        raise QClipError(f"--{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}",
                         f"pass a {'non-negative' if allow_zero else 'positive'} whole number")


def parse_raw_format(text: str | None) -> Any:
    """`--raw_format WxH[:PIX_FMT[:FPS]]` -> `RawVideoFormat` (or `None`)."""
    if text is None:
        return None
    from ..data.raw_format import parse_raw_format as parse  # RawVideoFormat.parse, the grammar shared with training

    try:
        return parse(text)
    except ValueError as error:
        raise QClipError(f"--raw_format {text!r} is not valid ({error})", RAW_FORMAT_HELP) from error


def check_report(report: str | None, output: str) -> str | None:
    """The absolute report path after checking it can be written, or `None` without `--report`."""
    if report is None:
        return None
    if importlib.util.find_spec("qclip_hf.reporting.html_report") is None:
        raise QClipError("--report needs qclip_hf.reporting.html_report, which this installation lacks",
                         "update qclip-hf, or run without --report")
    report = os.path.abspath(report)
    if os.path.isdir(report):
        raise OutputError(f"--report {printable(report)!r} is a folder",
                          "pass a file name such as report.html")
    if report == output:
        raise OutputError("--report and --output name the same file", "give the report its own name, e.g. report.html")
    folder = os.path.dirname(report)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the report folder {printable(folder)!r} ({error.strerror or error})",
                          "choose a writable location for --report") from error
    if not os.access(folder, os.W_OK):
        raise OutputError(f"cannot write the report into {printable(folder)!r}",
                          "choose a writable location for --report")
    return report


def discover(paths: Sequence[str], extensions: str | None, raw: bool) -> DiscoveredInputs:
    """The inputs of the run (see `discover_inputs`) without the paths that name nothing (`missing`, reported apart);
    raises when there is nothing to score, and for raw `.yuv` files named without `--raw_format` (`raw`)."""
    if not paths:
        raise QClipError("no input given", "pass video files, folders, glob patterns or URLs after `score`")
    wanted = list(VIDEO_EXTENSIONS)
    if raw:
        wanted.append(".yuv")
    if extensions:
        try:
            wanted.extend(normalize_extensions(extensions.split(",")))
        except ValueError as error:
            raise QClipError(f"--extensions {extensions!r} is not valid ({error})",
                             "list extensions separated by commas, e.g. --extensions .dat,.vid") from error
    found = discover_inputs(paths, wanted)
    # A path or pattern that names nothing is not a video that failed: it is listed apart and never scored.
    missing = set(found.missing)
    videos = [path for path in found.inputs if path not in missing]
    raw_named = [path for path in videos if not raw and path.lower().endswith(".yuv")]
    if raw_named:
        more = f" and {len(raw_named) - 1} more" if len(raw_named) > 1 else ""
        raise QClipError(f"{printable(raw_named[0])!r}{more} has no header to tell its frame size (raw .yuv video)",
                         RAW_FORMAT_HINT)
    if not videos:
        if found.missing and not found.skipped:
            shown = ", ".join(printable(path) for path in found.missing[:3])
            more = f" and {len(found.missing) - 3} more" if len(found.missing) > 3 else ""
            raise QClipError(f"no such file or folder: {shown}{more} (a glob pattern matched nothing)"
                             if any(glob.has_magic(path) for path in paths) else
                             f"no such file or folder: {shown}{more}",
                             "check the paths and the working directory (quote glob patterns)")
        kinds = sorted({os.path.splitext(p)[1].lower() or "(none)" for p in found.skipped})
        detail = f"; {len(found.skipped)} other files skipped (extensions: {' '.join(kinds[:10])})" if kinds else ""
        hint = (RAW_FORMAT_HINT if ".yuv" in kinds else
                "name the files explicitly or add their extension with --extensions")
        raise QClipError(f"no video found in {', '.join(map(printable, paths))}{detail}", hint)
    return DiscoveredInputs(inputs=videos, missing=found.missing, skipped=found.skipped)


def check_device(device: str | None) -> None:
    """Raise when `--device` names no device of this machine (e.g. `cuda` without a GPU)."""
    if device is None:
        return
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise QClipError(f"--device {device!r} is not a device name", "use cpu, cuda, cuda:N or mps") from error
    if parsed.type == "cpu":
        return
    backend = getattr(torch, parsed.type, None) if parsed.type != "mps" else torch.backends.mps
    available = bool(backend is not None and hasattr(backend, "is_available") and backend.is_available())
    if not available:
        raise QClipError(f"--device {device} was asked for, but this machine has no {parsed.type} device",
                         "use --device cpu, or omit --device to pick what is available")
    count = backend.device_count() if hasattr(backend, "device_count") else 1
    if parsed.index is not None and parsed.index >= count:
        raise QClipError(f"--device {device}: this machine has {count} {parsed.type} device(s)",
                         f"use an index from 0 to {count - 1}")


__all__ = [
    "check_device",
    "check_report",
    "configure_third_party_output",
    "discover",
    "is_main_process",
    "parse_raw_format",
    "positive",
]

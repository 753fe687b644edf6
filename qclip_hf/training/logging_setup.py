"""Logging of a training run: our INFO lines on, third-party INFO noise (HTTP requests, file locks) off.

`logging.basicConfig(level=INFO)` also lets through every INFO line of the libraries below — e.g. one `httpx` line
per Hub request (26 in a short run). They say nothing a user acts on, so they are raised to WARNING unless
`--verbose`.
"""

from __future__ import annotations

import logging

# Loggers whose INFO/DEBUG output is per-request or per-file chatter.
NOISY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "safehttpx", "h11", "urllib3", "filelock", "fsspec",
                 "huggingface_hub", "datasets", "PIL", "matplotlib", "torchcodec", "libav")


def quiet_third_party_logs(verbose: bool = False) -> None:
    """Silence third-party INFO logs (WARNING and above still show) unless `verbose`.

    With `verbose=True` the listed loggers are set to INFO again, so their lines show under an INFO root logger.
    Also hides 🤗 datasets' progress bars when not verbose.

    Example:
        ```python
        >>> import logging
        >>> quiet_third_party_logs(verbose=False)
        >>> logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        True
        ```
    """
    level = logging.INFO if verbose else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(level)
    try:
        import datasets

        if verbose:
            datasets.enable_progress_bars()
        else:
            datasets.disable_progress_bars()
    except ImportError:  # datasets is a dependency, but logging setup must never be what fails
        pass


REPORT_TO_CHOICES = ("tensorboard", "wandb", "all", "none")


def _tracker_available(name: str) -> bool:
    from accelerate.utils import is_tensorboard_available, is_wandb_available

    return {"tensorboard": is_tensorboard_available, "wandb": is_wandb_available}[name]()


def resolve_report_to(report_to: str | list[str] | None, logger: logging.Logger | None = None) -> list[str] | None:
    """`--report_to {tensorboard,wandb,all,none}` (as in the transformers examples) -> `Accelerator(log_with=...)`.

    `"all"` means every installed tracker among TensorBoard and Weights & Biases; a tracker that is named but not
    installed is dropped with a warning (the run goes on without it). `"none"` / `None` / nothing installed gives
    `None` (no tracking).

    Raises:
        `ValueError`: an unknown name, listing the allowed ones.

    Example:
        ```python
        >>> from accelerate import Accelerator
        >>> accelerator = Accelerator(log_with=resolve_report_to("all"), project_dir="runs/x")  # doctest: +SKIP
        ```
    """
    logger = logger or logging.getLogger(__name__)
    names = [report_to] if isinstance(report_to, str) or report_to is None else list(report_to)
    names = [n for n in names if n is not None]
    unknown = [n for n in names if n not in REPORT_TO_CHOICES]
    if unknown:
        raise ValueError(f"--report_to {unknown[0]!r}: allowed values are {list(REPORT_TO_CHOICES)}.")
    if not names or "none" in names:
        return None
    wanted = ["tensorboard", "wandb"] if "all" in names else list(dict.fromkeys(names))
    chosen = []
    for name in wanted:
        if _tracker_available(name):
            chosen.append(name)
        elif "all" not in names:
            package = "tensorboard" if name == "tensorboard" else "wandb"
            logger.warning("--report_to %s: %s is not installed, so nothing is logged to it (pip install %s).",
                           name, package, package)
    if "all" in names and not chosen:
        logger.warning("--report_to all: neither tensorboard nor wandb is installed; no tracker is used.")
    return chosen or None

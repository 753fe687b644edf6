"""Errors that qclip-hf raises for a user's input, shared by the Python API and the CLI.

Every message is one sentence naming the input and one saying what to do, joined by " — ", so the CLI can print
``error: <message>`` and Python users read the same words. The CLI maps these to exit code 2 ("the run could
not start") and prints no traceback unless ``--debug``.
"""

from __future__ import annotations


class QClipError(Exception):
    """Base class: `QClipError(what, fix)` renders as ``"<what> — <fix>"``.

    Example:
        ```python
        >>> str(QClipError("model directory '/x' does not exist", "check the path or pass a Hub id"))
        "model directory '/x' does not exist — check the path or pass a Hub id"
        ```
    """

    def __init__(self, what: str, fix: str | None = None) -> None:
        self.what, self.fix = what, fix
        super().__init__(f"{what} — {fix}" if fix else what)

    def __reduce__(self):  # picklable across DataLoader workers and processes
        return (type(self), (self.what, self.fix))


class ModelLoadError(QClipError, OSError):
    """A Q-CLIP model (or its backbone) cannot be loaded: missing path, offline id, corrupt weights, bad config."""


class OutputError(QClipError, OSError):
    """An output path cannot be written in the requested form (a directory, an unknown format, a foreign file)."""

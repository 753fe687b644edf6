"""Which inputs a scoring run covers: explicit files, folders (recursive, by extension), glob patterns and URLs."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

# Containers and elementary streams FFmpeg (hence PyAV / torchcodec) demuxes that videos are shipped in. Raw
# `.yuv` is left out: it has no header, so it needs a raw format (width, height, pixel format) a folder walk
# cannot know; the CLI adds it when `--raw_format` is given. `--extensions` adds others.
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4", ".m4v", ".mov", ".qt", ".mkv", ".webm", ".avi", ".divx", ".flv", ".f4v", ".wmv", ".asf",
    ".mpg", ".mpeg", ".m1v", ".m2v", ".vob", ".ts", ".m2t", ".mts", ".m2ts", ".3gp", ".3g2", ".ogv", ".ogg",
    ".mxf", ".dv", ".y4m", ".nut", ".rm", ".rmvb", ".gif", ".mjpeg", ".mjpg", ".h264", ".264", ".h265",
    ".265", ".hevc", ".ivf", ".obu",
)
URL_SCHEMES: tuple[str, ...] = ("http://", "https://")


def is_url(path: str | os.PathLike) -> bool:
    """Whether `path` is an http(s) URL (scored by streaming it through FFmpeg, not looked up on disk)."""
    return isinstance(path, str) and path.lower().startswith(URL_SCHEMES)


def normalize_extensions(extensions: Iterable[str]) -> tuple[str, ...]:
    """Lower-case, dot-prefixed, de-duplicated extensions (`"MP4"`, `".mp4"` -> `".mp4"`).

    Raises:
        `ValueError`: an empty extension.
    """
    out: list[str] = []
    for extension in extensions:
        extension = extension.strip().lower()
        if not extension.lstrip("."):
            raise ValueError(f"empty file extension in {list(extensions)!r}")
        extension = extension if extension.startswith(".") else f".{extension}"
        if extension not in out:
            out.append(extension)
    return tuple(out)


def is_video_file(path: str | os.PathLike, extensions: Iterable[str] = VIDEO_EXTENSIONS) -> bool:
    """Whether `path` ends with one of `extensions` (case-insensitive)."""
    return os.fspath(path).lower().endswith(normalize_extensions(extensions))


@dataclass
class DiscoveredInputs:
    """What `discover_inputs` found.

    Attributes:
        inputs (`list[str]`): what to score, sorted and de-duplicated: absolute file paths, URLs, and paths that do
            not exist (kept so that the run records each as a failure, rather than aborting).
        missing (`list[str]`): the inputs among `inputs` that do not exist (paths and patterns that match nothing).
        skipped (`list[str]`): files inside the walked folders whose extension is not a video extension.
    """

    inputs: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def discover_inputs(
    paths: Iterable[str | os.PathLike], extensions: Iterable[str] = VIDEO_EXTENSIONS
) -> DiscoveredInputs:
    """Expand files, folders, glob patterns and URLs into the inputs of a scoring run.

    A file named explicitly is kept whatever its extension (it may be a damaged or oddly named video the caller
    wants scored); folders are walked recursively and keep only `extensions` (the others are counted as
    skipped); a pattern with `*`, `?` or `[` is expanded with `glob(..., recursive=True)` (`**` crosses folders);
    http(s) URLs are kept as they are. A path that does not exist, or a pattern that matches nothing, is kept
    as an input and listed in `missing`: the run records it as a failure and scores the rest.

    Example:
        ```python
        >>> found = discover_inputs(["clips/", "extra/*.mkv", "one.avi", "https://example.com/v.mp4"])  # doctest: +SKIP
        >>> found.inputs, len(found.skipped)  # doctest: +SKIP
        (['/data/clips/a.mp4', '/data/extra/c.mkv', '/data/one.avi', 'https://example.com/v.mp4'], 1)
        ```
    """
    extensions = normalize_extensions(extensions)
    found: set[str] = set()
    missing: set[str] = set()
    skipped: set[str] = set()
    for entry in paths:
        entry = os.fspath(entry)
        if isinstance(entry, bytes):
            entry = os.fsdecode(entry)
        if is_url(entry):
            found.add(entry)
        elif glob.has_magic(entry) and not os.path.exists(entry):
            matches = glob.glob(entry, recursive=True)
            if not matches:
                missing.add(os.path.abspath(entry))
            for match in matches:
                if os.path.isdir(match):
                    _walk(match, extensions, found, skipped)
                elif is_video_file(match, extensions):
                    found.add(os.path.abspath(match))
                else:
                    skipped.add(os.path.abspath(match))
        elif os.path.isdir(entry):
            _walk(entry, extensions, found, skipped)
        elif os.path.lexists(entry):
            found.add(os.path.abspath(entry))
        else:
            missing.add(os.path.abspath(entry))
    return DiscoveredInputs(inputs=sorted(found | missing), missing=sorted(missing), skipped=sorted(skipped))


def collect_video_files(
    paths: Iterable[str | os.PathLike], extensions: Iterable[str] = VIDEO_EXTENSIONS
) -> list[str]:
    """The inputs of `discover_inputs(paths, extensions)`, raising on a missing path (for scripts that want that).

    Raises:
        `FileNotFoundError`: a path that does not exist or a pattern that matches nothing.
    """
    found = discover_inputs(paths, extensions)
    if found.missing:
        raise FileNotFoundError(f"{found.missing[0]!r} does not exist (no file or folder matches it)")
    return found.inputs


def _walk(folder: str, extensions: tuple[str, ...], found: set[str], skipped: set[str]) -> None:
    for root, _, names in os.walk(folder):
        for name in names:
            target = found if is_video_file(name, extensions) else skipped
            target.add(os.path.abspath(os.path.join(root, name)))


__all__ = [
    "URL_SCHEMES",
    "VIDEO_EXTENSIONS",
    "DiscoveredInputs",
    "collect_video_files",
    "discover_inputs",
    "is_url",
    "is_video_file",
    "normalize_extensions",
]

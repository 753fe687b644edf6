"""Which files a scoring run covers: explicit files, folders (recursive, by video extension) and glob patterns."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable

# Containers FFmpeg (hence PyAV / torchcodec) demuxes and that VQA collections ship in. Raw `.yuv` is left out:
# it has no header, so it needs a `raw_format` (width, height, pixel format) the folder walk cannot know; pass
# `.yuv` files explicitly with `--raw_format` instead.
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".flv", ".wmv", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
    ".3gp", ".ogv",
)


def is_video_file(path: str | os.PathLike, extensions: Iterable[str] = VIDEO_EXTENSIONS) -> bool:
    """Whether `path` ends with one of `extensions` (case-insensitive)."""
    return os.fspath(path).lower().endswith(tuple(e.lower() for e in extensions))


def collect_video_files(
    paths: Iterable[str | os.PathLike], extensions: Iterable[str] = VIDEO_EXTENSIONS
) -> list[str]:
    """Expand files, folders and globs into a sorted, de-duplicated list of absolute video paths.

    A file named explicitly is kept whatever its extension (it may be a damaged or oddly named video the caller
    wants scored); folders are walked recursively and keep only `extensions`; a pattern with `*`, `?` or `[`
    is expanded with `glob(..., recursive=True)` (`**` crosses folders), folders it matches are walked.

    Raises:
        `FileNotFoundError`: a path that does not exist or a pattern that matches nothing.

    Example:
        ```python
        >>> collect_video_files(["clips/", "extra/*.mkv", "one.avi"])  # doctest: +SKIP
        ['/data/clips/a.mp4', '/data/clips/sub/b.webm', '/data/extra/c.mkv', '/data/one.avi']
        ```
    """
    extensions = tuple(extensions)
    found: set[str] = set()
    for entry in paths:
        entry = os.fspath(entry)
        if glob.has_magic(entry):
            matches = glob.glob(entry, recursive=True)
            if not matches:
                raise FileNotFoundError(f"pattern {entry!r} matches no file")
            for match in matches:
                if os.path.isdir(match):
                    found.update(_walk(match, extensions))
                elif is_video_file(match, extensions):
                    found.add(os.path.abspath(match))
        elif os.path.isdir(entry):
            found.update(_walk(entry, extensions))
        elif os.path.exists(entry):
            found.add(os.path.abspath(entry))
        else:
            raise FileNotFoundError(f"{entry!r} does not exist")
    return sorted(found)


def _walk(folder: str, extensions: tuple[str, ...]) -> list[str]:
    return [
        os.path.abspath(os.path.join(root, name))
        for root, _, names in os.walk(folder)
        for name in names
        if is_video_file(name, extensions)
    ]


__all__ = ["VIDEO_EXTENSIONS", "collect_video_files", "is_video_file"]

"""How a video's file name is written into a result file, so that any name survives CSV, Parquet and JSON Lines.

On Linux a file name is a sequence of bytes: it need not be valid UTF-8, and it may hold a newline or other
control characters. Python represents such names with lone surrogates (PEP 383, ``surrogateescape``), which no
UTF-8 writer accepts, and control characters break tools that read a result file line by line.

The rule (documented in docs/inference.md):

- a path that is valid UTF-8 text without control characters (U+0000-U+001F, U+007F) is written as it is
  (absolute, spaces and leading dashes included);
- any other path is written as a ``file://`` URI (RFC 8089) whose bytes outside the unreserved set are
  percent-encoded (RFC 3986), e.g. ``file:///videos/caf%E9.mp4`` for the Latin-1 name ``café.mp4``.

Written paths are absolute (they start with ``/``) and URLs keep their scheme, so the two forms cannot be confused;
`decode_path` turns either back into the exact name the operating system knows.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, unquote_to_bytes

FILE_URI_PREFIX = "file://"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def encode_path(path: str | bytes | os.PathLike) -> str:
    """The text written in a result file's `path` column for `path` (see the module docstring for the rule).

    Example:
        ```python
        >>> encode_path("/videos/a b.mp4")
        '/videos/a b.mp4'
        >>> encode_path(b"/videos/caf\\xe9.mp4")
        'file:///videos/caf%E9.mp4'
        >>> encode_path("/videos/two\\nlines.mp4")
        'file:///videos/two%0Alines.mp4'
        ```
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    path = os.fspath(path)
    if _is_plain_text(path) and not path.startswith(FILE_URI_PREFIX):
        return path
    return FILE_URI_PREFIX + quote(os.fsencode(path), safe="/")


def decode_path(text: str) -> str:
    """The operating-system path (a `str`, with surrogates for non-UTF-8 bytes) that `encode_path` wrote as `text`.

    Example:
        ```python
        >>> import os
        >>> os.fsencode(decode_path("file:///videos/caf%E9.mp4"))
        b'/videos/caf\\xe9.mp4'
        >>> decode_path("/videos/a b.mp4")
        '/videos/a b.mp4'
        ```
    """
    if text.startswith(FILE_URI_PREFIX):
        return os.fsdecode(unquote_to_bytes(text[len(FILE_URI_PREFIX):]))
    return text


def printable(text: str) -> str:
    """`text` safe for a terminal or a UTF-8 file: undecodable bytes as ``\\xNN``, control characters escaped.

    For messages (errors, warnings) that quote a file name; result rows use `encode_path` instead.
    """
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _is_plain_text(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that are not UTF-8
        return False
    return _CONTROL.search(path) is None


__all__ = ["FILE_URI_PREFIX", "decode_path", "encode_path", "printable"]

"""The one exception the video data path raises for unreadable inputs."""

from __future__ import annotations

import os


class VideoDecodeError(ValueError):
    """A video could not be decoded: missing, empty, truncated, corrupt, not a video, no video stream, ...

    It is a `ValueError` so callers that already guard input validation catch it. The message always
    names the input and the reason; both are also available as attributes.

    Args:
        source (`str`): a printable name for the input (a path, or `"<bytes: N>"` / `"<file-like>"`).
        reason (`str`): why it could not be decoded.

    Example:

    ```python
    >>> from qclip_hf.video.errors import VideoDecodeError
    >>> err = VideoDecodeError("clip.mp4", "file is empty (0 bytes)")
    >>> str(err)
    "cannot decode video 'clip.mp4': file is empty (0 bytes)"
    >>> isinstance(err, ValueError)
    True
    ```
    """

    def __init__(self, source: str | os.PathLike, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"cannot decode video '{self.source}': {reason}")

    def __reduce__(self):
        # Keep the two-argument constructor picklable (DataLoader workers send exceptions across processes).
        return (type(self), (self.source, self.reason))

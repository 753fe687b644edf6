"""A handful of small graded videos (and one broken file) for report, app and README tests.

Clips are ffmpeg test patterns (96x64, 2 s, 15 fps) with increasing noise, so a model's scores differ between them.

Example:
    ```python
    >>> from qclip_hf.testing.sample_videos import write_sample_videos
    >>> paths = write_sample_videos("/tmp/videos")  # doctest: +SKIP
    >>> [p.name for p in paths][:2]  # doctest: +SKIP
    ['bars_noise0.mp4', 'bars_noise1.mp4']
    ```
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PATTERNS = {"bars": "smptebars", "testsrc": "testsrc2"}
NOISE_LEVELS = (0, 30, 60)
BROKEN_NAME = "broken.mp4"


def write_sample_videos(folder: str | os.PathLike, *, broken: bool = True) -> list[Path]:
    """Write `len(PATTERNS) * len(NOISE_LEVELS)` H.264 clips (and, with `broken`, a non-video `broken.mp4`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, source in PATTERNS.items():
        for level, noise in enumerate(NOISE_LEVELS):
            path = folder / f"{name}_noise{level}.mp4"
            if not path.exists():
                filters = f"noise=alls={noise}:allf=t" if noise else "null"
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"{source}=size=96x64:rate=15",
                                "-t", "2", "-vf", filters, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)],
                               check=True)
            paths.append(path)
    if broken:
        path = folder / BROKEN_NAME
        path.write_bytes(b"not a video: " + bytes(range(256)) * 8)
        paths.append(path)
    return paths


__all__ = ["BROKEN_NAME", "NOISE_LEVELS", "PATTERNS", "write_sample_videos"]

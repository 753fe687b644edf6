"""Small generated videos for the video tests (session-scoped: generated once per run)."""

from __future__ import annotations

import os
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest

STILL_A = range(0, 40)  # frames 0-39: one still texture
BURST = range(40, 52)  # frames 40-51: a fresh random texture every frame
STILL_B = range(52, 64)  # frames 52-63: another still texture
PATTERN_FRAMES = 64


def write_video(path, frames, fps=30, codec="libx264", pix_fmt="yuv420p", options=None, pts=None, gop=None):
    """Encode (T, H, W, 3) uint8 frames with PyAV; `pts` (in 1/fps units) allows variable frame rate."""
    with av.open(os.fspath(path), "w") as container:
        stream = container.add_stream(codec, rate=fps, options=options or {})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if gop is not None:
            stream.codec_context.gop_size = gop
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, fps)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = int(pts[i]), Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def pattern_frames(height=48, width=64):
    rng = np.random.default_rng(1234)
    frames = np.empty((PATTERN_FRAMES, height, width, 3), dtype=np.uint8)
    frames[list(STILL_A)] = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    for i in BURST:
        frames[i] = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    frames[list(STILL_B)] = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return frames


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def pattern_video(video_dir):
    """Lossless H.264: still segment, a burst of motion, still segment (see STILL_A / BURST / STILL_B)."""
    return write_video(video_dir / "pattern.mp4", pattern_frames(), options={"qp": "0"}, gop=16)


@pytest.fixture(scope="session")
def testsrc_video(video_dir):
    """2 s 160x120 testsrc2 at 30 fps with a 15-frame keyframe interval (60 frames)."""
    path = video_dir / "testsrc.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=30",
        "-t",
        2,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-g",
        15,
        path,
    )
    return path


@pytest.fixture(scope="session")
def long_gop_video(video_dir):
    """Same content, one keyframe only (x264 default interval of 250 > 60 frames)."""
    path = video_dir / "long_gop.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-t", 2, "-c:v", "libx264", "-pix_fmt", "yuv420p", path
    )
    return path


@pytest.fixture(scope="session")
def vt():
    """The generators above, for tests (with --import-mode=importlib, conftest cannot be imported by name)."""
    import types

    return types.SimpleNamespace(
        write_video=write_video,
        pattern_frames=pattern_frames,
        ffmpeg=ffmpeg,
        STILL_A=STILL_A,
        BURST=BURST,
        STILL_B=STILL_B,
    )

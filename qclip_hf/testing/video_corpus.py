"""A corpus of small real-world-style videos (not made with the tests' own encoder settings), for decoder tests.

Each file is made by the `ffmpeg` CLI (apt's FFmpeg 5.1: libx264, libxvid, mpeg4, mjpeg, mpeg2video, theora,
wmv2, flv, h263, ...), then some are damaged on purpose (a cut tail, flipped bytes in the last packets).
Sample videos already installed on the machine (e.g. gradio's `media_assets/videos`) are copied in too.

:func:`build_corpus` is idempotent and cached per directory (a `corpus.json` manifest), so a session-scoped
test fixture or a CLI folder test can call it freely; clips are 160x120, 2 s, so building all takes ~2 s.
:func:`reference_frames` is the independent reference decode the tests compare against: the `ffmpeg` CLI
writing every frame as `rgb24` rawvideo (`-vsync passthrough`, no frame dropped or duplicated, rotation
applied as players do).

Example:

```python
>>> from qclip_hf.testing.video_corpus import build_corpus
>>> corpus = build_corpus("/tmp/corpus")
>>> corpus["mpeg4_xvid_bframes.avi"]["codec"], corpus["mpeg4_xvid_bframes.avi"]["container"]
('mpeg4', 'avi')
```
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

# testsrc2 with a red box moving 7 px per frame over it, so every frame differs (a frame swap would be visible).
_SOURCE = [
    "-f", "lavfi", "-i",
    "testsrc2=size=160x120:rate=25:duration=2[a];color=c=red:size=20x20:rate=25[b];"
    "[a][b]overlay=x='mod(n*7,140)':y=40:shortest=1",
]  # fmt: skip

# name -> (ffmpeg output arguments, codec, container, note). Every file has 50 frames unless noted.
_GENERATED: dict[str, tuple[list[str], str, str, str]] = {
    "mpeg4_xvid_bframes.avi": (
        ["-c:v", "mpeg4", "-vtag", "XVID", "-bf", "2", "-g", "12", "-q:v", "4"],
        "mpeg4",
        "avi",
        "MPEG-4 Part 2, FFmpeg's encoder with an XVID tag and 2 B-frames (a legacy camera/DivX-era layout)",
    ),
    "libxvid_bframes.avi": (
        ["-c:v", "libxvid", "-bf", "2", "-g", "25"],
        "mpeg4",
        "avi",
        "MPEG-4 Part 2 by the Xvid library itself, B-frames on",
    ),
    "mjpeg.avi": (["-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"], "mjpeg", "avi", "Motion JPEG, full range"),
    "h264_high10.mkv": (["-c:v", "libx264", "-pix_fmt", "yuv420p10le", "-g", "10"], "h264", "matroska", "10-bit"),
    "mpeg2_interlaced.ts": (
        ["-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "1", "-b:v", "1M", "-f", "mpegts"],
        "mpeg2video",
        "mpegts",
        "interlaced MPEG-2 (top field first) in MPEG-TS",
    ),
    "h264_vfr.mkv": (
        # Frames 0-24 at 25 fps, then every other timestamp: a variable frame rate with no dropped frame.
        ["-vf", "setpts='if(lt(N,25),N,25+(N-25)*2)/25/TB'", "-vsync", "vfr", "-c:v", "libx264", "-bf", "3"],
        "h264",
        "matroska",
        "variable frame rate (timestamps step 1 then 2 frame periods)",
    ),
    "theora.ogv": (["-c:v", "libtheora", "-q:v", "6"], "theora", "ogg", "Theora in Ogg"),
    "wmv2.wmv": (["-c:v", "wmv2", "-b:v", "1M"], "wmv2", "asf", "Windows Media Video 8 in ASF"),
    "flv1.flv": (["-c:v", "flv", "-b:v", "1M"], "flv1", "flv", "Sorenson Spark in FLV"),
    "h263.3gp": (["-vf", "scale=176:144", "-c:v", "h263", "-b:v", "500k"], "h263", "3gp", "H.263 in 3GP, 176x144"),
    "mpeg2.mxf": (["-c:v", "mpeg2video", "-b:v", "2M", "-f", "mxf"], "mpeg2video", "mxf", "MPEG-2 in MXF"),
    "h264.m2ts": (["-c:v", "libx264", "-f", "mpegts", "-mpegts_m2ts_mode", "1"], "h264", "mpegts", "Blu-ray M2TS"),
    "h264.mts": (["-c:v", "libx264", "-f", "mpegts", "-mpegts_m2ts_mode", "1"], "h264", "mpegts", "AVCHD .mts"),
    "raw.y4m": (["-pix_fmt", "yuv420p"], "rawvideo", "yuv4mpegpipe", "YUV4MPEG2"),
    "anim.gif": (["-t", "1"], "gif", "gif", "animated GIF (25 frames, palette)"),
}

_DAMAGED_SOURCE = ["-c:v", "libx264", "-bf", "2", "-g", "25", "-movflags", "+faststart"]


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True)


def _packets(path: Path) -> list[tuple[int, int]]:
    """(byte position, size) of every video packet in file order."""
    import av

    with av.open(str(path)) as container:
        return [(p.pos, p.size) for p in container.demux(video=0) if p.size and p.pos is not None and p.pos >= 0]


def _make_damaged(directory: Path) -> dict[str, dict[str, Any]]:
    """H.264 MP4 (moov first) damaged in its last packets: bytes cut, and bytes flipped."""
    clean = directory / "_h264_faststart.mp4"
    if not clean.exists():
        _ffmpeg(*_SOURCE, *_DAMAGED_SOURCE, str(clean))
    packets = _packets(clean)
    data = bytearray(clean.read_bytes())
    infos: dict[str, dict[str, Any]] = {}

    cut = directory / "h264_cut_tail.mp4"
    # Cut in the middle of the last packet in file order: the demuxer returns it short, the decoder fails on it.
    last_pos, last_size = max(packets)
    cut.write_bytes(bytes(data[: last_pos + last_size // 3]))
    infos[cut.name] = {"note": "H.264 MP4 (faststart) with the file cut inside its last packet", "damaged": True}

    flipped = directory / "h264_flipped_tail.mp4"
    rng = np.random.default_rng(7)
    damaged = bytearray(data)
    for pos, size in sorted(packets)[-2:]:
        # Keep the NAL length prefix and header bytes; scramble the slice data.
        start, end = pos + 8, pos + size
        damaged[start:end] = rng.integers(0, 256, end - start, dtype=np.uint8).tobytes()
    flipped.write_bytes(bytes(damaged))
    infos[flipped.name] = {
        "note": "H.264 MP4 with random bytes over the slice data of its last 2 packets",
        "damaged": True,
    }
    return infos


def _rotated(directory: Path) -> None:
    plain = directory / "_h264_plain.mp4"
    if not plain.exists():
        _ffmpeg(*_SOURCE, "-c:v", "libx264", "-g", "15", str(plain))
    _ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(directory / "h264_rotated90.mp4"))


def installed_sample_videos() -> list[Path]:
    """Real sample videos shipped by installed packages (gradio's media assets), if any."""
    found: list[Path] = []
    for root in {p for p in sys.path if p.endswith("site-packages")}:
        for pattern in ("gradio/media_assets/videos/*", "gradio/test_data/*.mp4", "imageio/resources/*.mp4"):
            found += [Path(p) for p in glob.glob(os.path.join(root, pattern))]
    return sorted({p for p in found if p.suffix.lower() in {".mp4", ".avi", ".mkv", ".webm", ".mov", ".ogv"}})


def probe(path: str | os.PathLike) -> dict[str, Any]:
    """Codec, container and frame count as the `ffprobe` CLI reports them (`count_frames`: decoded frames)."""
    out = subprocess.run(
        [
            "ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
            "-show_entries", "stream=codec_name,width,height,pix_fmt,nb_read_frames,field_order:format=format_name",
            "-of", "json", os.fspath(path),
        ],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    data = json.loads(out)
    stream = data["streams"][0]
    return {
        "codec": stream["codec_name"],
        "container": data["format"]["format_name"].split(",")[0],
        "width": stream["width"],
        "height": stream["height"],
        "pix_fmt": stream.get("pix_fmt"),
        "decodable_frames": int(stream.get("nb_read_frames", 0)),
    }


def build_corpus(directory: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Create (once) the corpus in `directory` and return `{file name: info}`.

    `info` keys: `path`, `codec`, `container`, `width`, `height`, `pix_fmt`, `decodable_frames` (frames the
    `ffmpeg` CLI decodes), `damaged` (bool: some packets cannot be decoded, substitutions expected),
    `num_frames` (frames the container indexes), `undecodable_frames` (their numbers, damaged files only),
    `expected_substitutions_uniform8` (how many of the 8 uniform frames are substituted), `real` (bool: a
    sample video found on disk rather than generated), `note`. A second call returns the cached
    manifest (`corpus.json`) when every file is still there.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / "corpus.json"
    if manifest.exists():
        cached = json.loads(manifest.read_text())
        if all(Path(info["path"]).exists() for info in cached.values()):
            return cached
    extra: dict[str, dict[str, Any]] = {}
    for name, (args, _, _, note) in _GENERATED.items():
        target = directory / name
        if not target.exists():
            _ffmpeg(*_SOURCE, *args, str(target))
        extra[name] = {"note": note, "damaged": False}
    _rotated(directory)
    extra["h264_rotated90.mp4"] = {"note": "H.264 MP4 with a 90-degree display matrix", "damaged": False}
    extra.update(_make_damaged(directory))
    for sample in installed_sample_videos():
        name = f"real_{sample.parent.parent.name}_{sample.name}"
        if not (directory / name).exists():
            shutil.copyfile(sample, directory / name)
        extra[name] = {"note": f"sample video shipped at {sample}", "damaged": False, "real": True}
    corpus: dict[str, dict[str, Any]] = {}
    for name, info in extra.items():
        path = directory / name
        entry = {"path": str(path), "real": False, **probe(path), **info}
        undecodable = undecodable_frames(path) if entry["damaged"] else []
        count = entry["decodable_frames"] + len(undecodable)
        uniform = np.round(np.linspace(0, count - 1, 8)).astype(int).tolist()
        entry.update(
            num_frames=count,
            undecodable_frames=undecodable,
            expected_substitutions_uniform8=sum(i in undecodable for i in uniform),
        )
        corpus[name] = entry
    manifest.write_text(json.dumps(corpus, indent=1))
    return corpus


def undecodable_frames(path: str | os.PathLike) -> list[int]:
    """Frame numbers (timestamp ranks over the demuxed packets) that PyAV's decoder does not return."""
    import av

    with av.open(os.fspath(path)) as container:
        stream = container.streams.video[0]
        packet_pts: list[int] = []
        decoded: set[int] = set()
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets, None)
            except av.FFmpegError:
                packet = None
            if packet is not None and packet.size:
                packet_pts.append(packet.pts)
            try:
                decoded.update(frame.pts for frame in stream.decode(packet))
            except av.FFmpegError:
                pass
            if packet is None:
                break
    return [i for i, pts in enumerate(sorted(packet_pts)) if pts not in decoded]


def reference_frames(path: str | os.PathLike, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Every frame of `path` as (N, H, W, 3) uint8 RGB from the `ffmpeg` CLI (independent of PyAV).

    `-vsync passthrough` keeps each decoded frame exactly once; FFmpeg applies display rotation by default
    (as players do). `width`/`height` are the displayed size (after rotation); probed when omitted.
    """
    if width is None or height is None:
        info = probe(path)
        width, height = info["width"], info["height"]
        rotation = _rotation(path)
        if rotation % 180 == 90:
            width, height = height, width
    raw = subprocess.run(
        [
            "ffmpeg", "-v", "error", "-i", os.fspath(path), "-map", "0:v:0", "-vsync", "passthrough",
            "-sws_flags", "bilinear", "-pix_fmt", "rgb24", "-f", "rawvideo", "-",
        ],
        check=False, capture_output=True,
    ).stdout  # fmt: skip
    frame = width * height * 3
    return np.frombuffer(raw[: len(raw) // frame * frame], dtype=np.uint8).reshape(-1, height, width, 3)


def _rotation(path: str | os.PathLike) -> int:
    import av

    with av.open(os.fspath(path)) as container:
        for frame in container.decode(video=0):
            return int(round(frame.rotation or 0))
    return 0


__all__ = ["build_corpus", "installed_sample_videos", "probe", "reference_frames", "undecodable_frames"]

import io
import subprocess

import av
import numpy as np
import pytest

from qclip_hf.video.decoding import decode_frames, plan_read_mode
from qclip_hf.video.stream import index_video
from qclip_hf.video.errors import VideoDecodeError
from qclip_hf.video.sources import RawVideoFormat


def _ffmpeg_rgb(path, count):
    """Frames as the ffmpeg CLI outputs them (it applies rotation), flattened."""
    out = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-frames:v",
            str(count),
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(out, dtype=np.uint8)


def test_index(testsrc_video, long_gop_video):
    index = index_video(testsrc_video)
    assert index.num_frames == 60 and (index.width, index.height) == (160, 120)
    assert index.keyframes == (0, 15, 30, 45) and index.fps == 30
    assert index_video(long_gop_video).keyframes == (0,)


def test_lossless_pattern_roundtrip(pattern_video, vt):
    frames = decode_frames(pattern_video, [0, 41, 63])
    # lossless codec (qp 0): what comes back is exactly the yuv420p version of the frames written
    expected = np.stack(
        [
            av.VideoFrame.from_ndarray(f, format="rgb24")
            .reformat(format="yuv420p")
            .reformat(format="rgb24")
            .to_ndarray()
            for f in vt.pattern_frames()[[0, 41, 63]]
        ]
    )
    assert frames.shape == expected.shape and frames.dtype == np.uint8
    assert np.abs(frames.astype(int) - expected).max() <= 2
    assert np.array_equal(frames[0], decode_frames(pattern_video, [5])[0])  # still segment: identical frames


def test_seek_and_sequential_agree(testsrc_video, long_gop_video):
    for path in (testsrc_video, long_gop_video):
        indices = [0, 7, 16, 29, 31, 44, 59]
        seek = decode_frames(path, indices, read_mode="seek")
        sequential = decode_frames(path, indices, read_mode="sequential")
        assert np.array_equal(seek, sequential)
        full = decode_frames(path, list(range(60)), read_mode="sequential")
        assert np.array_equal(full[indices], seek)


def test_repeated_and_unsorted_indices(testsrc_video):
    frames = decode_frames(testsrc_video, [30, 2, 30])
    assert np.array_equal(frames[0], frames[2])
    assert np.array_equal(frames[1], decode_frames(testsrc_video, [2])[0])
    with pytest.raises(ValueError, match="out of range"):
        decode_frames(testsrc_video, [60])


def test_plan_read_mode(testsrc_video, long_gop_video, tmp_path, vt):
    uniform = np.round(np.linspace(0, 59, 8)).astype(int)
    assert plan_read_mode(index_video(testsrc_video), [59]) == "seek"
    assert plan_read_mode(index_video(long_gop_video), [59]) == "sequential"
    # 1 s keyframe interval over 10 s: the uniform selection seeks (few frames per GOP are decoded)
    path = tmp_path / "gop30.mp4"
    vt.ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=30", "-t", 10, "-c:v", "libx264", "-g", 30, path)
    assert plan_read_mode(index_video(path), np.round(np.linspace(0, 299, 8)).astype(int)) == "seek"
    assert plan_read_mode(index_video(long_gop_video), uniform) == "sequential"


def test_bytes_filelike_dict_agree(testsrc_video):
    data = testsrc_video.read_bytes()
    expected = decode_frames(testsrc_video, [3, 50])
    assert np.array_equal(decode_frames(data, [3, 50]), expected)
    assert np.array_equal(decode_frames(io.BytesIO(data), [3, 50]), expected)
    assert np.array_equal(decode_frames({"path": None, "bytes": data}, [3, 50]), expected)
    assert np.array_equal(decode_frames({"path": str(testsrc_video), "bytes": None}, [3, 50]), expected)


def test_torchcodec_backend_agrees(testsrc_video, long_gop_video):
    pytest.importorskip("torchcodec")
    for path in (testsrc_video, long_gop_video):
        indices = [0, 13, 31, 59]
        assert np.array_equal(decode_frames(path, indices, backend="torchcodec"), decode_frames(path, indices))
    # the decoder a datasets.Video column yields is accepted too (datasets keeps the source on it)
    import datasets

    row = datasets.Dataset.from_dict({"video": [str(testsrc_video)]}).cast_column("video", datasets.Video())[0]
    assert np.array_equal(decode_frames(row["video"], [5]), decode_frames(testsrc_video, [5]))


def test_raw_yuv(tmp_path, vt):
    frames = vt.pattern_frames(height=48, width=64)[:10]
    raw = b"".join(
        av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p").to_ndarray().tobytes() for f in frames
    )
    path = tmp_path / "clip.yuv"
    path.write_bytes(raw)
    fmt = RawVideoFormat(64, 48, "yuv420p")
    index = index_video(path, raw_format=fmt)
    assert index.num_frames == 10
    decoded = decode_frames(path, [0, 4, 9], raw_format=fmt)
    expected = np.stack(
        [
            av.VideoFrame.from_ndarray(frames[i], format="rgb24")
            .reformat(format="yuv420p")
            .reformat(format="rgb24")
            .to_ndarray()
            for i in (0, 4, 9)
        ]
    )
    assert np.array_equal(decoded, expected)
    assert np.array_equal(
        decode_frames(path, [9, 0], raw_format=fmt.to_dict(), read_mode="sequential"), expected[[2, 0]]
    )


def test_rotation_matches_ffmpeg_cli(testsrc_video, tmp_path, vt):
    rotated = tmp_path / "rot.mp4"
    vt.ffmpeg("-i", testsrc_video, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated)
    frame = decode_frames(rotated, [0])[0]
    assert frame.shape == (160, 120, 3)
    assert np.array_equal(frame.reshape(-1), _ffmpeg_rgb(rotated, 1))


@pytest.mark.parametrize(
    "codec,pix_fmt,ext", [("libx264", "yuv420p10le", "mp4"), ("ffv1", "gray", "mkv"), ("ffv1", "gray16le", "mkv")]
)
def test_high_bit_depth_and_gray_give_8bit_rgb(codec, pix_fmt, ext, tmp_path, vt):
    path = tmp_path / f"clip.{ext}"
    vt.ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=30", "-t", 0.5, "-c:v", codec, "-pix_fmt", pix_fmt, path)
    frame = decode_frames(path, [0])[0]
    assert frame.dtype == np.uint8 and frame.shape == (48, 64, 3)
    reference = _ffmpeg_rgb(path, 1).reshape(48, 64, 3)
    assert np.abs(frame.astype(int) - reference).mean() < 6  # scaler dithering may differ from the CLI's
    if pix_fmt.startswith("gray"):
        assert np.array_equal(frame[..., 0], frame[..., 1])


def test_variable_frame_rate(tmp_path, vt):
    frames = vt.pattern_frames()[:20]
    pts = np.cumsum([0] + [1, 3, 1, 1, 5] * 3 + [2] * 4)[:20]  # irregular gaps
    path = vt.write_video(tmp_path / "vfr.mkv", frames, options={"qp": "0"}, pts=pts, gop=6)
    index = index_video(path)
    assert index.num_frames == 20
    indices = [0, 4, 11, 19]
    assert np.array_equal(
        decode_frames(path, indices, read_mode="seek"), decode_frames(path, indices, read_mode="sequential")
    )


def test_validation_errors(testsrc_video):
    with pytest.raises(ValueError, match="backend must be one of"):
        decode_frames(testsrc_video, [0], backend="opencv")
    with pytest.raises(ValueError, match="read_mode must be one of"):
        decode_frames(testsrc_video, [0], read_mode="fast")
    with pytest.raises(ValueError, match="pixel_format must be one of"):
        RawVideoFormat(64, 48, "yuv9000")
    with pytest.raises(ValueError, match="width must be a positive int"):
        RawVideoFormat(0, 48)


def test_raw_video_format_parse():
    from qclip_hf.video.sources import RawVideoFormat

    assert RawVideoFormat.parse("1920x1080") == RawVideoFormat(1920, 1080, "yuv420p", 30.0)
    assert RawVideoFormat.parse("64x48:gray:25") == RawVideoFormat(64, 48, "gray", 25.0)
    assert RawVideoFormat.parse("64X48:yuv422p") == RawVideoFormat(64, 48, "yuv422p", 30.0)
    for bad, message in (
        ("1920", "expected WIDTHxHEIGHT"),
        ("axb", "expected WIDTHxHEIGHT"),
        ("64x48:yuv420p:fast", "FPS 'fast' is not a number"),
        ("64x48:nope", "pixel_format must be one of"),
        ("0x48", "width must be a positive int"),
        ("64x48:gray:25:1", "expected WIDTHxHEIGHT"),
    ):
        with pytest.raises(ValueError, match=message):
            RawVideoFormat.parse(bad)


def test_raw_file_not_a_whole_number_of_frames(tmp_path):
    from qclip_hf.video.reader import sample_video
    from qclip_hf.video.sources import RawVideoFormat

    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(64 * 48 * 3 // 2 * 5 + 7))
    with pytest.raises(VideoDecodeError, match=r"not a whole number of 64x48 yuv420p frames .*5 frames \+ 7 bytes"):
        sample_video(path, 4, raw_format=RawVideoFormat.parse("64x48"))
    path.write_bytes(bytes(64 * 48 * 3 // 2 * 5))
    assert sample_video(path, 4, raw_format=RawVideoFormat.parse("64x48:yuv420p:25")).frames.shape == (4, 48, 64, 3)


def test_http_url_source(testsrc_video):
    """http(s) URLs are opened by FFmpeg itself (index, motion pass and frame reads all re-open the URL)."""
    import functools
    import http.server
    import threading

    from qclip_hf.video.reader import sample_video

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(testsrc_video.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{testsrc_video.name}"
        for strategy in ("UNISampl", "SegMSEMedian"):
            remote, local = sample_video(url, 8, strategy), sample_video(testsrc_video, 8, strategy)
            assert remote.indices.tolist() == local.indices.tolist()
            assert np.array_equal(remote.frames, local.frames)
        with pytest.raises(VideoDecodeError, match="not a readable video container|cannot open"):
            sample_video(url.replace(testsrc_video.name, "missing.mp4"), 8)
    finally:
        server.shutdown()
        server.server_close()


def test_verified_seeks_keep_seek_mode_on_a_clean_file(testsrc_video):
    from qclip_hf.video.decoding import decode_frames_with_report

    frames, report = decode_frames_with_report(testsrc_video, [59, 0, 30, 30], read_mode="seek")
    assert report.read_mode == "seek" and not report.warnings and report.frames_requested == 4
    sequential, _ = decode_frames_with_report(testsrc_video, [59, 0, 30, 30], read_mode="sequential")
    assert np.array_equal(frames, sequential) and np.array_equal(frames[2], frames[3])

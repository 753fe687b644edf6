"""Every kind of unreadable input gives a VideoDecodeError naming the file and the reason, quickly."""

import io

import av
import numpy as np
import pytest
from PIL import Image

from qclip_hf.video.decoding import decode_frames
from qclip_hf.video.stream import index_video
from qclip_hf.video.errors import VideoDecodeError
from qclip_hf.video.motion import compute_motion_profile
from qclip_hf.video.reader import sample_video


def _good(vt, tmp_path, faststart):
    path = tmp_path / ("good_fs.mp4" if faststart else "good.mp4")
    flags = ["-movflags", "+faststart"] if faststart else []
    vt.ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30", "-t", 2, "-c:v", "libx264", "-g", 15, *flags, path)
    return path.read_bytes()


def make_bad_file(kind, tmp_path, vt):
    """Generate one bad input of `kind`; returns (path, expected reason regex)."""
    path = tmp_path / f"{kind}.mp4"
    if kind == "missing":
        return path, "file not found"
    if kind == "directory":
        path.mkdir()
        return path, "is a directory"
    if kind == "zero_byte":
        path.write_bytes(b"")
        return path, r"empty \(0 bytes\)"
    if kind == "truncated_moov_at_end":
        data = _good(vt, tmp_path, faststart=False)
        path.write_bytes(data[: len(data) // 2])
        return path, "not a readable video container"
    if kind == "truncated_faststart":
        data = _good(vt, tmp_path, faststart=True)
        path.write_bytes(data[: len(data) // 2])
        return path, "truncated or corrupt"
    if kind == "corrupt_stream":
        data = bytearray(_good(vt, tmp_path, faststart=True))
        start = data.find(b"mdat") + 104  # keep the container intact, garble the coded frames
        data[start:] = np.random.default_rng(0).integers(0, 256, len(data) - start, dtype=np.uint8).tobytes()
        path.write_bytes(bytes(data))
        return path, "corrupt"
    if kind == "text":
        path.write_text("this is not a video\n" * 20)
        return path, "not a readable video container"
    if kind == "png":
        path = tmp_path / "image.png"
        Image.new("RGB", (32, 32), "red").save(path)
        return path, "not a video: a still image"
    if kind == "audio_only":
        path = tmp_path / "audio.m4a"
        vt.ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", path)
        return path, "audio-only"
    if kind == "zero_frames":
        path = tmp_path / "empty.avi"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("mpeg4", rate=30)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            container.start_encoding()
        return path, "zero readable frames"
    if kind == "absurd_dimensions":
        path = tmp_path / "huge.y4m"
        path.write_bytes(b"YUV4MPEG2 W16000 H16000 F30:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000))
        return path, "absurd frame size 16000x16000"
    raise AssertionError(kind)


BAD_KINDS = [
    "missing",
    "directory",
    "zero_byte",
    "truncated_moov_at_end",
    "corrupt_stream",
    "text",
    "png",
    "audio_only",
    "zero_frames",
    "absurd_dimensions",
]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_file_raises_clear_error(kind, tmp_path, vt):
    path, reason = make_bad_file(kind, tmp_path, vt)
    for run in (
        lambda: sample_video(path, 8, "UNISampl"),
        lambda: compute_motion_profile(path),
        lambda: sample_video(path, 8, "SegMSEMean"),
    ):
        with pytest.raises(VideoDecodeError, match=reason) as info:
            run()
        assert str(path) in str(info.value) and info.value.source == str(path)
        assert isinstance(info.value, ValueError)


def test_truncated_file_is_read_up_to_the_cut_with_substitutes(tmp_path, vt):
    """A file cut in half (moov first) plays up to the cut: it is sampled over the frames it still indexes,
    and the frames the cut damaged are replaced by the nearest decodable one, as the report says."""
    path, _ = make_bad_file("truncated_faststart", tmp_path, vt)
    for name in ("UNISampl", "SegMSEMean"):
        sampled = sample_video(path, 8, name)
        assert sampled.frames.shape == (8, 120, 160, 3) and 10 < sampled.num_frames < 60
        assert sampled.report.frames_requested == 8 and sampled.report.frames_substituted <= 2
    assert 10 < len(compute_motion_profile(path)) < 60
    with pytest.raises(VideoDecodeError, match=r"only \d+ of 8 requested frames could be decoded"):
        sample_video(path, 8, "UNISampl", min_decoded_fraction=1.0)


@pytest.mark.parametrize("kind", ["zero_byte", "corrupt_stream", "text", "audio_only"])
def test_bad_bytes_and_filelike(kind, tmp_path, vt):
    path, reason = make_bad_file(kind, tmp_path, vt)
    data = path.read_bytes()
    with pytest.raises(VideoDecodeError, match=reason):
        sample_video(data, 4)
    with pytest.raises(VideoDecodeError, match=reason):
        compute_motion_profile(io.BytesIO(data))


@pytest.mark.parametrize("kind", ["corrupt_stream", "text", "zero_frames"])
def test_bad_file_torchcodec_backend(kind, tmp_path, vt):
    pytest.importorskip("torchcodec")
    path, _ = make_bad_file(kind, tmp_path, vt)
    with pytest.raises(VideoDecodeError):
        decode_frames(path, [0], backend="torchcodec")


def test_time_limit_is_enforced(testsrc_video):
    with pytest.raises(VideoDecodeError, match="time limit"):
        compute_motion_profile(testsrc_video, timeout=1e-9)
    with pytest.raises(VideoDecodeError, match="time limit"):
        index_video(testsrc_video, timeout=1e-9)


def test_raw_yuv_errors(tmp_path):
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(100))
    with pytest.raises(VideoDecodeError, match="pass raw_format"):
        sample_video(path, 8)
    with pytest.raises(VideoDecodeError, match="shorter than one 64x48 yuv420p frame"):
        sample_video(path, 8, raw_format={"width": 64, "height": 48})


def test_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(VideoDecodeError("a.mp4", "file not found")))
    assert str(err) == "cannot decode video 'a.mp4': file not found" and err.reason == "file not found"

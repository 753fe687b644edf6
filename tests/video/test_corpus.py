"""Files not made with our own encoder settings (qclip_hf.testing.video_corpus) decode to the same frames as a
sequential reference decode, damaged ones with their undecodable frames substituted and reported."""

import hashlib

import av
import numpy as np
import pytest

from qclip_hf.testing.video_corpus import build_corpus, reference_frames
from qclip_hf.video.decoding import decode_frames_with_report
from qclip_hf.video.stream import frame_to_rgb, index_video
from qclip_hf.video.motion_pass import MOTION_PROFILE_CACHE
from qclip_hf.video.reader import sample_video


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def digest(array):
    return hashlib.md5(np.ascontiguousarray(array).tobytes()).hexdigest()


def sequential_reference(path, wanted=None):
    """(timestamp, md5 of the RGB frame) of every frame PyAV decodes, in decoder output order (display order),
    decoding every packet in one pass as `ffmpeg` does; only the frames numbered in `wanted` are converted
    (md5 `None` for the others) to keep the test fast."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets, None)
            except av.FFmpegError:  # cut container: flush what the decoder holds, as ffmpeg does
                packet = None
            try:
                for f in stream.decode(packet):
                    keep = wanted is None or len(frames) in wanted
                    frames.append((f.pts, digest(frame_to_rgb(f)) if keep else None))
            except av.FFmpegError:
                pass
            if packet is None:
                break
    return frames


def test_corpus_covers_the_issue_kinds(corpus):
    codecs = {info["codec"] for info in corpus.values()}
    assert {"mpeg4", "mjpeg", "h264", "mpeg2video"} <= codecs
    assert any(info["pix_fmt"] == "yuv420p10le" for info in corpus.values())
    assert sum(info["damaged"] for info in corpus.values()) >= 2
    for ext in (".y4m", ".ts", ".m2ts", ".mts", ".mxf", ".3gp", ".ogv", ".flv", ".wmv", ".gif", ".avi", ".mkv"):
        assert any(name.endswith(ext) for name in corpus), ext
    assert build_corpus(next(iter(corpus.values()))["path"].rsplit("/", 1)[0]) == corpus  # cached manifest


def test_every_clean_file_matches_the_sequential_reference(corpus):
    MOTION_PROFILE_CACHE.clear()
    for name, info in corpus.items():
        if info["damaged"]:
            continue
        runs = {(s, n): sample_video(info["path"], n, s) for s in ("UNISampl", "SegMSEMedian") for n in (8, 16)}
        wanted = {int(i) for sampled in runs.values() for i in sampled.indices}
        reference = sequential_reference(info["path"], wanted)
        for (strategy, num), sampled in runs.items():
            assert sampled.num_frames == len(reference) == info["decodable_frames"] == info["num_frames"], name
            assert sampled.report.frames_substituted == 0, name
            for j, i in enumerate(sampled.indices):
                assert digest(sampled.frames[j]) == reference[i][1], (name, strategy, num, int(i))


def test_frame_identity_agrees_with_the_ffmpeg_cli(corpus):
    """Independent of PyAV: each sampled frame is closest to the same-numbered frame `ffmpeg` writes."""
    for name, info in corpus.items():
        if info["damaged"] or info["width"] * info["height"] > 640 * 360:
            continue
        cli = reference_frames(info["path"])
        sampled = sample_video(info["path"], 8, "UNISampl")
        assert len(cli) == sampled.num_frames, name
        for j, i in enumerate(sampled.indices):
            window = range(max(0, i - 3), min(len(cli), i + 4))  # neighbours: an off-by-one frame would win
            distance = {k: np.abs(cli[k].astype(np.int16) - sampled.frames[j]).mean() for k in window}
            assert min(distance, key=distance.get) == i and distance[i] < 6, (name, int(i), distance)


def test_seek_unreliable_avi_falls_back_to_one_pass(corpus, monkeypatch):
    """Xvid AVI with B-frames: its timestamps are not in display order, so seeks cannot be trusted."""
    path = corpus["libxvid_bframes.avi"]["path"]
    indices = [3, 4, 5, 20, 40]
    frames, report = decode_frames_with_report(path, indices, read_mode="seek")
    assert report.read_mode == "sequential" and not report.warnings  # known for AVI: no warning per file
    reference = sequential_reference(path)
    assert [digest(f) for f in frames] == [reference[i][1] for i in indices]
    # Had AVI not been known as inexact, the verified seek detects it (timestamps out of display order) and
    # switches to one pass by itself, with the same frames and a warning.
    from qclip_hf.video import decoding, frame_reads

    monkeypatch.setattr(frame_reads, "INEXACT_SEEK_CONTAINERS", frozenset())
    monkeypatch.setattr(decoding, "INEXACT_SEEK_CONTAINERS", frozenset())
    detected, report = decode_frames_with_report(path, indices, read_mode="seek")
    assert report.read_mode == "sequential" and "seeking is unreliable" in report.warnings[0]
    assert [digest(f) for f in detected] == [reference[i][1] for i in indices]


@pytest.mark.parametrize("name", ["h264_cut_tail.mp4", "h264_flipped_tail.mp4"])
def test_damaged_tail_is_substituted_and_reported(corpus, name):
    path = corpus[name]["path"]
    index = index_video(path)
    reference = dict(sequential_reference(path))  # pts -> frame, only the decodable ones
    # (the ffmpeg CLI may output an error-concealed picture for a damaged packet that PyAV reports as an error)
    assert len(reference) <= corpus[name]["decodable_frames"] < index.num_frames
    for num in (8, 16):
        sampled = sample_video(path, num, "UNISampl")  # asks for the last frame, which is damaged
        undecodable = [int(i) for i in sampled.indices if index.pts[i] not in reference]
        assert undecodable and sampled.report.frames_substituted == len(undecodable)
        if num == 8:  # the manifest's figure, which the CLI's folder test relies on
            assert sampled.report.frames_substituted == corpus[name]["expected_substitutions_uniform8"]
        assert "replaced by the nearest decodable frame" in " ".join(sampled.report.warnings)
        for j, i in enumerate(sampled.indices):
            if int(i) in undecodable:  # the nearest decodable frame stands in
                nearest = min((abs(k - i), k) for k, p in enumerate(index.pts) if p in reference)[1]
                assert digest(sampled.frames[j]) == reference[index.pts[nearest]]
            else:
                assert digest(sampled.frames[j]) == reference[index.pts[i]]
    with pytest.raises(ValueError, match="requested frames could be decoded"):
        sample_video(path, 8, "UNISampl", min_decoded_fraction=1.0)


def test_one_decode_motion_pass_keeps_exact_frames_of_every_clean_file(corpus):
    """Every layout of the corpus (gif, mjpeg, 10-bit, rotated, interlaced mpeg2, ...) through the arena path
    (every frame copied and rebuilt in a template) converts to the frames of a plain sequential decode."""
    from qclip_hf.video.stream import Deadline, as_openable
    from qclip_hf.video.motion import compute_motion_profile
    from qclip_hf.video.motion_pass import motion_pass_sample
    from qclip_hf.video.sampling import MSESortedUNI, SegMSEMean

    for name, info in corpus.items():
        if info["damaged"]:
            continue
        video = as_openable(info["path"])
        profile = compute_motion_profile(info["path"])
        for strategy in (MSESortedUNI, SegMSEMean):
            result = motion_pass_sample(
                video, strategy, 8, np.random.default_rng(0), Deadline(video.name, 60), short_side=64,
                max_pixels=1 << 26, max_held=0, expected_frames=lambda stats, info=info: info["num_frames"],
            )  # fmt: skip
            with result.store as store:
                assert np.array_equal(result.profile, profile), name
                reference = sequential_reference(info["path"], {int(i) for i in result.chosen})
                for i in result.chosen:
                    assert digest(store.to_rgb(int(i))) == reference[int(i)][1], (name, strategy.__name__, int(i))


def test_segments_are_cut_from_a_trusted_frame_count(corpus):
    """An AVI header counts packed-B-frame placeholders (50 for 48 frames): the reader indexes such containers
    first, so SegMSE picks are never released early and no second decode is needed."""
    MOTION_PROFILE_CACHE.clear()
    for name, info in corpus.items():
        if info["damaged"]:
            continue
        sampled = sample_video(info["path"], 8, "SegMSEMean", cache_motion=False)
        assert not sampled.report.warnings, (name, sampled.report.warnings)

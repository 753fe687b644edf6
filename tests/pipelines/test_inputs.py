"""What the video-quality pipeline accepts: frame arrays in both layouts, URLs, and a clear error for one image."""

from __future__ import annotations

import functools
import http.server
import threading

import numpy as np
import pytest
import torch

from qclip_hf import QClipModel
from qclip_hf.pipelines import VideoQualityPipeline
from qclip_hf.pipelines.inputs import check_video_input
from qclip_hf.testing.video_corpus import build_corpus

from .test_video_quality import write_video


@pytest.fixture(scope="module")
def pipe(model_dir):
    return VideoQualityPipeline(model=QClipModel.from_pretrained(model_dir), device="cpu")


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(5).integers(0, 256, size=(10, 36, 44, 3), dtype=np.uint8)


def test_channels_last_and_channels_first_arrays_score_the_same(pipe, frames):
    reference = pipe(frames)["score"]
    first = frames.transpose(0, 3, 1, 2).copy()  # (T, C, H, W)
    assert pipe(first)["score"] == reference
    assert pipe(torch.from_numpy(frames))["score"] == reference
    assert pipe(torch.from_numpy(first))["score"] == reference
    assert pipe(frames[:1])["score"] == pipe(frames[0][None])["score"]  # a 1-frame video, as the error advises
    batch = pipe([frames, first])
    assert [r["score"] for r in batch] == [reference, reference]
    assert batch[0]["substituted_frames"] == 0 and batch[0]["warnings"] == []


@pytest.mark.parametrize("image", [
    np.zeros((36, 44, 3), np.uint8),  # (H, W, C)
    np.zeros((3, 36, 44), np.uint8),  # (C, H, W)
    torch.zeros(36, 44, 4, dtype=torch.uint8),  # RGBA tensor
], ids=["HWC", "CHW", "HWC-tensor"])
def test_a_single_image_is_a_clear_error(pipe, image):
    with pytest.raises(ValueError, match=r"one image, not a video .*frames\[None\]"):
        pipe(image)
    with pytest.raises(ValueError, match=r"inputs\[1\].*one image"):
        pipe([np.zeros((2, 36, 44, 3), np.uint8), image])


def test_a_list_of_images_tells_to_stack_them(pipe, frames):
    with pytest.raises(ValueError, match=r"np\.stack\(frames\)"):
        pipe(list(frames))


def test_other_bad_arrays_name_the_problem():
    with pytest.raises(ValueError, match="4-D array"):
        check_video_input(np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="no frames"):
        check_video_input(np.zeros((0, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="ambiguous"):
        check_video_input(np.zeros((5, 8, 8), np.uint8))  # gray video or image: never guessed


@pytest.fixture(scope="module")
def http_root(tmp_path_factory):
    """A local HTTP server (127.0.0.1, free port) serving a folder; yields (folder, base URL)."""
    root = tmp_path_factory.mktemp("served")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


def test_http_url_scores_like_the_file(pipe, http_root):
    root, base = http_root
    write_video(root / "clip.mp4", num_frames=16, seed=3)
    by_path = pipe(str(root / "clip.mp4"), return_temporal=True, num_segments=2)
    by_url = pipe(f"{base}/clip.mp4", return_temporal=True, num_segments=2)
    assert by_url["score"] == by_path["score"]
    assert [s["score"] for s in by_url["temporal"]] == [s["score"] for s in by_path["temporal"]]
    with pytest.raises(ValueError, match="missing.mp4"):
        pipe(f"{base}/missing.mp4")


def test_decode_reports_reach_the_result(pipe, tmp_path_factory):
    corpus_dir = tmp_path_factory.mktemp("corpus")
    build_corpus(corpus_dir)
    damaged = str(corpus_dir / "h264_cut_tail.mp4")
    clean = str(corpus_dir / "h264_high10.mkv")
    reports = pipe.video_processor(damaged, num_frames=4)["decode_reports"][0]
    assert reports["frames_substituted"] >= 1  # the premise: the processor substitutes a frame of this file
    for batch_size in (1, 2):
        results = pipe([clean, damaged], batch_size=batch_size, num_frames=4)
        assert results[0]["substituted_frames"] == 0
        assert results[1]["substituted_frames"] == reports["frames_substituted"]
        assert results[1]["warnings"] == reports["warnings"] and results[1]["warnings"]

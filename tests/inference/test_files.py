"""Which files a scoring run covers."""

from __future__ import annotations

import os

import pytest

from qclip_hf.inference import VIDEO_EXTENSIONS, collect_video_files, is_video_file


def test_folders_globs_and_explicit_files(tmp_path):
    for name in ("a.mp4", "sub/b.MKV", "sub/deep/c.webm", "sub/d.mov", "e.avi", "f.m4v", "notes.txt", "g.yuv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [os.path.relpath(p, tmp_path) for p in collect_video_files([tmp_path])]
    assert found == ["a.mp4", "e.avi", "f.m4v", "sub/b.MKV", "sub/d.mov", "sub/deep/c.webm"]
    assert [os.path.basename(p) for p in collect_video_files([str(tmp_path / "**" / "*.webm")])] == ["c.webm"]
    # Named explicitly, any file is kept (raw .yuv included); duplicates collapse.
    explicit = collect_video_files([tmp_path / "g.yuv", tmp_path / "a.mp4", str(tmp_path / "a.mp4")])
    assert [os.path.basename(p) for p in explicit] == ["a.mp4", "g.yuv"]
    assert is_video_file("X.MP4") and not is_video_file("x.txt") and ".mkv" in VIDEO_EXTENSIONS


def test_missing_inputs_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect_video_files([tmp_path / "missing.mp4"])
    with pytest.raises(FileNotFoundError, match="matches no file"):
        collect_video_files([str(tmp_path / "*.mp4")])

"""Which inputs a scoring run covers."""

from __future__ import annotations

import os

import pytest

from qclip_hf.inference import VIDEO_EXTENSIONS, collect_video_files, discover_inputs, is_video_file


def test_folders_globs_explicit_files_urls_and_skipped(tmp_path):
    for name in ("a.mp4", "sub/b.MKV", "sub/deep/c.webm", "sub/d.y4m", "e.mxf", "f.gif", "notes.txt", "g.yuv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = discover_inputs([tmp_path])
    assert [os.path.relpath(p, tmp_path) for p in found.inputs] == ["a.mp4", "e.mxf", "f.gif", "sub/b.MKV",
                                                                   "sub/d.y4m", "sub/deep/c.webm"]
    assert sorted(os.path.basename(p) for p in found.skipped) == ["g.yuv", "notes.txt"] and found.missing == []
    with_yuv = discover_inputs([tmp_path], (*VIDEO_EXTENSIONS, "YUV"))
    assert len(with_yuv.inputs) == 7 and len(with_yuv.skipped) == 1
    assert [os.path.basename(p) for p in discover_inputs([str(tmp_path / "**" / "*.webm")]).inputs] == ["c.webm"]
    # Named explicitly, any file is kept (raw .yuv included); duplicates collapse; URLs are kept as they are.
    explicit = discover_inputs([tmp_path / "g.yuv", tmp_path / "a.mp4", str(tmp_path / "a.mp4"), "https://x/v.mp4"])
    assert [os.path.basename(p) for p in explicit.inputs] == ["a.mp4", "g.yuv", "v.mp4"]
    assert is_video_file("X.MP4") and not is_video_file("x.txt")
    assert {".y4m", ".ts", ".m2ts", ".mts", ".mxf", ".3gp", ".ogv", ".flv", ".wmv", ".gif"} <= set(VIDEO_EXTENSIONS)


def test_missing_inputs_are_kept_as_inputs(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    found = discover_inputs([tmp_path / "a.mp4", tmp_path / "missing.mp4", str(tmp_path / "none" / "*.mp4")])
    assert sorted(os.path.basename(p) for p in found.missing) == ["*.mp4", "missing.mp4"]
    assert len(found.inputs) == 3
    with pytest.raises(FileNotFoundError, match="does not exist"):
        collect_video_files([tmp_path / "missing.mp4"])

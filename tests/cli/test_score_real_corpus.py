"""Acceptance: a folder of real-world-style files (the video corpus) plus one damaged file of each kind we can make
scores to completion through the CLI: every decodable file scored, every undecodable one recorded with a reason."""

from __future__ import annotations

import shutil

import pytest

from qclip_hf.inference import read_rows
from qclip_hf.testing.video_corpus import build_corpus


def _damage(folder, corpus):
    """One damaged file of each kind: empty, garbage, not a video, header cut, tail cut (AVI), index lost (MP4)."""
    avi = corpus["mpeg4_xvid_bframes.avi"]["path"]
    plain = next(info["path"] for name, info in corpus.items() if name == "h264_rotated90.mp4")
    damaged = {
        "empty.mp4": b"",
        "garbage.mp4": bytes(range(256)) * 64,
        "text_named.mkv": b"this is a text file, not a video\n" * 10,
    }
    data = open(avi, "rb").read()
    damaged["avi_cut_header.avi"] = data[:200]
    damaged["avi_cut_tail.avi"] = data[: int(len(data) * 0.85)]
    mp4 = open(plain, "rb").read()
    damaged["mp4_moov_lost.mp4"] = mp4[: len(mp4) // 2] if mp4.find(b"moov") > len(mp4) // 2 else mp4[200:]
    for name, content in damaged.items():
        (folder / name).write_bytes(content)
    return set(damaged)


@pytest.mark.slow
def test_corpus_folder_scores_to_completion(cli, model_dir, tmp_path):
    corpus = build_corpus(tmp_path / "build")
    folder = tmp_path / "videos"
    folder.mkdir()
    for name, info in corpus.items():
        shutil.copyfile(info["path"], folder / name)
    damaged = _damage(folder, corpus)
    output = tmp_path / "results.csv"
    run = cli.run(folder, "--model", model_dir, "--output", output, "--device", "cpu", "--batch_size", "4",
                  timeout=1200)
    assert run.returncode in (0, 1), run.stderr
    assert "Traceback" not in run.stderr
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in read_rows(output)}
    assert set(rows) == set(corpus) | damaged  # every file has its row
    for name in corpus:  # every corpus file is scored, damaged tails included
        assert rows[name]["status"] == "ok", (name, rows[name]["error"])
        assert isinstance(rows[name]["substituted_frames"], int)
    for name in damaged:
        row = rows[name]
        assert row["status"] == "ok" or (row["error"] and "VideoDecodeError" in row["error"]), row
    assert {n for n in damaged if rows[n]["status"] == "failed"} >= {"empty.mp4", "garbage.mp4", "text_named.mkv"}
    assert cli.leftovers(tmp_path) == []
    # The table for the closing note (visible with `pytest -s`).
    print(f"\n{'file':34} {'codec/container':24} {'result':8} substituted  warnings / error")
    for name in sorted(rows):
        row, info = rows[name], corpus.get(name, {})
        kind = f"{info.get('codec', '?')}/{info.get('container', '?')}" if info else "(damaged by the test)"
        detail = row["warnings"] if row["status"] == "ok" else row["error"].split("': ", 1)[-1]
        print(f"{name:34} {kind:24} {'scored' if row['status'] == 'ok' else 'error':8} "
              f"{row['substituted_frames'] if row['substituted_frames'] is not None else '-':>11}  "
              f"{(detail or '')[:110]}")

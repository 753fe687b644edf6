"""Result files: formats, journals, merge rules."""

from __future__ import annotations

import json

import pytest

from qclip_hf.inference import completed_paths, merge_results, output_format, read_rows, result_row
from qclip_hf.inference.results import JournalWriter

OK = {"score": 0.5, "levels": {"excellent": 0.7, "bad": 0.3},
      "temporal": [{"segment": 0, "start_frame": 0, "end_frame": 4, "start_time": 0.0, "end_time": 0.4, "score": 0.4}]}


@pytest.mark.parametrize("extension", ["csv", "jsonl", "parquet"])
def test_merge_keeps_one_row_per_path_and_round_trips(tmp_path, extension):
    output = str(tmp_path / f"r.{extension}")
    with JournalWriter(output, 0) as journal:
        journal.write([result_row("/a.mp4", OK), result_row("/b.mp4", error=ValueError("broken"))])
    with JournalWriter(output, 1) as journal:
        journal.write([result_row("/c.mp4", OK)])
    assert completed_paths(output) == {"/a.mp4", "/c.mp4"}  # read from journals before the merge
    rows = merge_results(output)
    assert [r["path"] for r in rows] == ["/a.mp4", "/b.mp4", "/c.mp4"]
    assert not list(tmp_path.glob("*.partial.jsonl"))
    # A retry that succeeds replaces the failure; a later failure never replaces a success.
    with JournalWriter(output, 0) as journal:
        journal.write([result_row("/b.mp4", OK), result_row("/a.mp4", error=ValueError("flaky"))])
    merged = {r["path"]: r for r in merge_results(output)}
    assert all(r["status"] == "ok" for r in merged.values()) and len(merged) == 3
    back = read_rows(output)[0]
    assert back["score"] == 0.5 and back["prob_excellent"] == 0.7 and back["temporal"] == OK["temporal"]
    assert back["error"] is None


def test_truncated_journal_line_is_ignored_and_bad_extension_rejected(tmp_path):
    output = str(tmp_path / "r.jsonl")
    with open(output + ".rank0.partial.jsonl", "w") as handle:
        handle.write(json.dumps(result_row("/a.mp4", OK)) + "\n" + '{"path": "/b.mp4", "sta')
    assert completed_paths(output) == {"/a.mp4"}
    with pytest.raises(ValueError, match="must be one of"):
        output_format("r.txt")
    with pytest.raises(ValueError, match="exactly one"):
        result_row("/a.mp4")

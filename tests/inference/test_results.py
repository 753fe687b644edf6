"""Result files: formats, journals, merge rules, output checks."""

from __future__ import annotations

import json
import logging

import pytest

from qclip_hf.errors import OutputError
from qclip_hf.inference import check_output, completed_paths, merge_results, output_format, read_rows, result_row
from qclip_hf.inference.results import JournalWriter

OK = {"score": 0.5, "mos": 3.9, "level": "good", "prompt_level_probs": {"excellent": 0.7, "bad": 0.3},
      "substituted_frames": 2,
      "warnings": ["frame 7 undecodable", "sequential read"],
      "temporal": [{"segment": 0, "start_frame": 0, "end_frame": 4, "start_time": 0.0, "end_time": 0.4, "score": 0.4}]}
IDENTITY = {"size": 10, "mtime_ns": 1764421200123456789}


@pytest.mark.parametrize("extension", ["csv", "jsonl", "parquet"])
def test_merge_keeps_the_newest_row_per_path_and_round_trips(tmp_path, extension):
    output = str(tmp_path / f"r.{extension}")
    with JournalWriter(output, 0) as journal:
        journal.write([result_row("/a.mp4", OK, identity=IDENTITY, key="k1"),
                       result_row("/b.mp4", error=ValueError("broken"))])
    with JournalWriter(output, 1) as journal:
        journal.write([result_row("/c.mp4", OK)])
    assert completed_paths(output) == {"/a.mp4", "/c.mp4"}  # read from journals before the merge
    rows = merge_results(output)
    assert [r["path"] for r in rows] == ["/a.mp4", "/b.mp4", "/c.mp4"]
    assert not list(tmp_path.glob("*.partial.jsonl")) and not list(tmp_path.glob(".*.tmp"))
    # A row written later (the file was scored again on purpose) replaces the earlier one, success or not.
    with JournalWriter(output, 0) as journal:
        journal.write([result_row("/b.mp4", OK), result_row("/a.mp4", error=ValueError("flaky"))])
    merged = {r["path"]: r for r in merge_results(output)}
    assert merged["/b.mp4"]["status"] == "ok" and merged["/a.mp4"]["status"] == "failed"
    back = {r["path"]: r for r in read_rows(output)}["/b.mp4"]
    assert back["score"] == 0.5 and back["prompt_prob_excellent"] == 0.7 and back["temporal"] == OK["temporal"]
    assert back["mos"] == 3.9 and back["level"] == "good"
    assert merged["/a.mp4"]["mos"] is None and merged["/a.mp4"]["level"] is None  # a failed row
    assert back["error"] is None and back["substituted_frames"] == 2
    assert back["warnings"] == "frame 7 undecodable; sequential read"
    with JournalWriter(output, 0) as journal:
        journal.write([result_row("/a.mp4", OK, identity=IDENTITY, key="k1")])
    again = {r["path"]: r for r in merge_results(output)}["/a.mp4"]
    assert (again["size"], again["mtime_ns"], again["run_key"]) == (10, 1764421200123456789, "k1")


def test_cut_journal_line_is_dropped_with_a_warning(tmp_path, caplog):
    output = str(tmp_path / "r.jsonl")
    with open(output + ".rank0.partial.jsonl", "w") as handle:
        handle.write(json.dumps(result_row("/a.mp4", OK)) + "\n" + '{"path": "/b.mp4", "sta')
    with caplog.at_level(logging.WARNING):
        assert completed_paths(output) == {"/a.mp4"}
    assert "last line is cut" in caplog.text
    # The next writer ends the cut line first, so its own rows stay readable.
    with JournalWriter(output, 0) as journal:
        journal.write([result_row("/c.mp4", OK)])
    assert [r["path"] for r in merge_results(output)] == ["/a.mp4", "/c.mp4"]


def test_output_checks(tmp_path):
    with pytest.raises(OutputError, match="extension .txt"):
        output_format("r.txt")
    with pytest.raises(OutputError, match="is a folder"):
        check_output(tmp_path)
    (tmp_path / "other.csv").write_text("x,y\n1,2\n")
    with pytest.raises(OutputError, match="not a qclip-vqa result file"):
        check_output(tmp_path / "other.csv")
    (tmp_path / "other.jsonl").write_text('{"x": 1}\n')
    with pytest.raises(OutputError, match="not a qclip-vqa result file"):
        check_output(tmp_path / "other.jsonl")
    (tmp_path / "bytes.parquet").write_bytes(b"not parquet")
    with pytest.raises(OutputError, match="not a qclip-vqa result file"):
        check_output(tmp_path / "bytes.parquet")
    assert check_output(tmp_path / "new" / "r.parquet") == "parquet" and (tmp_path / "new").is_dir()
    with pytest.raises(ValueError, match="exactly one"):
        result_row("/a.mp4")


@pytest.mark.parametrize("extension", ["csv", "jsonl", "parquet"])
def test_rows_of_an_older_file_read_with_todays_names(tmp_path, extension):
    import pyarrow as pa
    import pyarrow.parquet as pq

    old = [{"path": "/a.mp4", "status": "ok", "score": 0.25, "error": None, "prob_excellent": 0.6, "prob_bad": 0.4}]
    output = tmp_path / f"old.{extension}"
    if extension == "jsonl":
        output.write_text(json.dumps(old[0]) + "\n")
    elif extension == "csv":
        output.write_text("path,status,score,error,prob_excellent,prob_bad\n/a.mp4,ok,0.25,,0.6,0.4\n")
    else:
        pq.write_table(pa.Table.from_pylist(old), output)
    row = read_rows(output)[0]
    assert row["prompt_prob_excellent"] == 0.6 and row["prompt_prob_bad"] == 0.4
    assert not any(key.startswith("prob_") for key in row)
    # Resuming into it writes one set of columns: the old rows' probabilities under the new names.
    with JournalWriter(str(output), 0) as journal:
        journal.write([result_row("/b.mp4", OK)])
    merged = {r["path"]: r for r in merge_results(str(output))}
    assert merged["/a.mp4"]["prompt_prob_excellent"] == 0.6 and merged["/b.mp4"]["mos"] == 3.9

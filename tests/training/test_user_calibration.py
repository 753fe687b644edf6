"""Labels files and their pairing with a scoring run's rows (what `qclip-vqa calibrate` reads)."""

from __future__ import annotations

import json

import pytest

from qclip_hf.calibration import CalibrationError
from qclip_hf.training.user_calibration import calibrate, pair_labels, read_labels
from qclip_hf.inference.results import JournalWriter, merge_results, result_row

EXPECTED = [("a.mp4", 1.5), ("sub/b.mp4", 4.25)]


@pytest.mark.parametrize("name, text", [
    ("labels.csv", "file_name,mos\na.mp4,1.5\nsub/b.mp4,4.25\n"),
    ("labels.csv", "path,quality,mos\na.mp4,x,1.5\nsub/b.mp4,y,4.25\n"),
    ("labels.txt", "a.mp4,10.0,30,1.5\nsub/b.mp4,-1,-1,4.25\n"),  # the field's label list: path, duration, fps, MOS
    ("labels.json", json.dumps({"a.mp4": 1.5, "sub/b.mp4": 4.25})),
    ("labels.json", json.dumps([{"name": "a.mp4", "mos": 1.5}, {"video": "sub/b.mp4", "mos": "4.25"}])),
    ("labels.jsonl", '{"path": "a.mp4", "mos": 1.5}\n{"path": "sub/b.mp4", "mos": 4.25}\n'),
])
def test_every_labels_format_reads_the_same_pairs(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert read_labels(path) == EXPECTED


def test_unreadable_labels_are_named(tmp_path):
    cases = {"no_header.csv": ("a.mp4,1.5\n", "no header naming the video"),
             "bad.csv": ("file_name,mos\na.mp4,good\n", "MOS 'good' is not a number"),
             "nan.json": ('{"a.mp4": NaN}', "is not finite"),
             "list.json": ("[1, 2]", "entry 1 is not an object"),
             "empty.csv": ("file_name,mos\n", "lists no videos"),
             "labels.xlsx": ("x", "is not .csv, .txt, .json, .jsonl")}
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(CalibrationError, match=message):
            read_labels(tmp_path / name)
    with pytest.raises(CalibrationError, match="does not exist"):
        read_labels(tmp_path / "missing.csv")
    (tmp_path / "other.csv").write_text("file_name,score\na.mp4,3\n")
    with pytest.raises(CalibrationError, match="no 'score'|no 'mos'"):
        read_labels(tmp_path / "other.csv")
    assert read_labels(tmp_path / "other.csv", label_column="score") == [("a.mp4", 3.0)]


def _row(path, score):
    return result_row(path, {"score": score, "mos": None, "level": None, "prompt_level_probs": {"good": 1.0}})


def test_labels_pair_by_absolute_path_relative_path_or_unique_tail(tmp_path):
    rows = [_row("/data/set/a.mp4", 0.1), _row("/data/set/sub/b.mp4", 0.2), _row("/data/other/c.mp4", 0.3),
            _row("/data/other/sub/c.mp4", 0.35), result_row("/data/set/broken.mp4", error=ValueError("x"))]
    labels = [("/data/other/c.mp4", 3.0),  # absolute
              ("a.mp4", 1.0),  # relative to the labels file's folder (/data/set)
              ("sub/b.mp4", 2.0),  # idem, in a sub-folder
              ("missing.mp4", 5.0)]
    pairs, unmatched, failed, unlabelled = pair_labels(rows, labels, "/data/set")
    assert pairs == [(0.3, 3.0), (0.1, 1.0), (0.2, 2.0)]
    assert unmatched == ["missing.mp4"] and failed == 1 and unlabelled == 1
    # A bare name matches the one video whose path ends with it; one that names two videos is refused.
    assert pair_labels(rows, [("b.mp4", 2.0)], "/elsewhere")[0] == [(0.2, 2.0)]
    with pytest.raises(CalibrationError, match="'c.mp4' matches 2 scored videos"):
        pair_labels(rows, [("c.mp4", 2.0)], "/elsewhere")
    with pytest.raises(CalibrationError, match="list 'a.mp4' twice"):
        pair_labels(rows, [("a.mp4", 2.0), ("a.mp4", 3.0)], "/data/set")


def test_one_python_call_calibrates_a_model_folder(model_dir, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    results = tmp_path / "results.jsonl"
    with JournalWriter(str(results), 0) as journal:
        journal.write([_row(f"/videos/v{i}.mp4", 0.01 * i) for i in range(8)])
    merge_results(str(results))
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({f"v{i}.mp4": 1.0 + 0.5 * i for i in range(8)}))
    run = calibrate(results, labels, model=model, mos_range=(1, 5), plot=False)
    assert run.path == model / "calibration.json" and run.matched == 8 and run.plot is None
    assert run.calibration.fit["srocc"] == pytest.approx(1.0) and run.calibration.fit["rmse"] < 0.1
    assert "fit on 8 videos: PLCC" in run.summary() and not (model / "calibration.png").exists()

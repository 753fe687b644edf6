"""`OUTPUT/predictions/<eval_name>.csv`: file, label, prediction, level probabilities."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from qclip_hf.errors import OutputError
from qclip_hf.metrics import compute_vqa_metrics
from qclip_hf.reporting.predictions import (
    predictions_path,
    read_predictions,
    write_eval_predictions,
    write_predictions,
)

LEVELS = ["excellent", "good", "fair", "poor", "bad"]


def test_written_file_round_trips_and_reproduces_the_metrics(tmp_path):
    rng = np.random.default_rng(0)
    predictions = rng.normal(size=12) * 0.03
    labels = 3 + 30 * predictions + rng.normal(size=12) * 0.2
    probs = rng.dirichlet(np.ones(5), size=12)
    path = write_predictions(predictions_path(tmp_path, "KoNViD-1k/test"), [f"v{i}.mp4" for i in range(12)],
                             labels, predictions, probs, LEVELS)
    assert path == tmp_path / "predictions" / "KoNViD-1k_test.csv"
    with open(path, newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["file", "label", "prediction", "p_excellent", "p_good", "p_fair", "p_poor", "p_bad"]
    columns = read_predictions(path)
    assert columns["file"][:2] == ["v0.mp4", "v1.mp4"]
    np.testing.assert_array_equal(columns["prediction"], predictions)  # full precision
    assert compute_vqa_metrics(columns["prediction"], columns["label"]) == compute_vqa_metrics(predictions, labels)
    np.testing.assert_allclose(np.array([columns[f"p_{n}"] for n in LEVELS]).T, probs)


def test_eval_predictions_follow_the_gathered_index_order(tmp_path):
    files = ["a.mp4", "b.mp4", "c.mp4"]
    scored = {"index": np.array([0, 1, 2]), "predictions": np.array([0.1, 0.2, 0.3]),
              "labels": np.array([1.0, 2.0, 3.0]), "level_probs": np.full((3, 5), 0.2)}
    path = write_eval_predictions(tmp_path, "test", files, scored, LEVELS)
    columns = read_predictions(path)
    assert columns["file"] == files and columns["label"] == [1.0, 2.0, 3.0] and columns["p_bad"] == [0.2] * 3
    no_probs = write_eval_predictions(tmp_path, "noprob", files, {k: scored[k] for k in ("index", "predictions",
                                                                                         "labels")})
    assert list(read_predictions(no_probs)) == ["file", "label", "prediction"]


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match="different lengths"):
        write_predictions(tmp_path / "x.csv", ["a", "b"], [1.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="5 values"):
        write_predictions(tmp_path / "x.csv", ["a"], [1.0], [0.1], [[0.5, 0.5]], LEVELS)
    with pytest.raises(OutputError, match="directory"):
        write_predictions(tmp_path, ["a"], [1.0], [0.1])
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_predictions(tmp_path / "nope.csv")

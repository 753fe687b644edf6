"""Aligned text tables: the per-epoch metrics table of a training run and generic records."""

from __future__ import annotations

import math

import pytest

from qclip_hf.reporting.tables import epoch_rows, format_epoch_table, format_table

HISTORY = [
    {"epoch": 0, "step": 4, "lr": 1e-3, "train_loss": 0.61,
     "KoNViD-1k": {"srocc": 0.51, "plcc": 0.5234, "krocc": 0.36, "rmse": 0.71},
     "LIVE-VQC": {"srocc": 0.4, "plcc": math.nan, "krocc": 0.3, "rmse": 12.5}},
    {"epoch": 1, "step": 8, "lr": 4.8e-5, "train_loss": 0.42,
     "KoNViD-1k": {"srocc": 0.7, "plcc": 0.71, "krocc": 0.52, "rmse": 0.55},
     "LIVE-VQC": {"srocc": 0.61, "plcc": 0.6, "krocc": 0.44, "rmse": 10.25}},
]


def test_epoch_table_has_one_aligned_row_per_epoch_and_eval_set():
    text = format_epoch_table(HISTORY, selected_epoch=1, fit="logistic")
    lines = text.splitlines()
    assert lines[0] == "Metrics per epoch and evaluation set"
    header, rule, rows = lines[1], lines[2], lines[3:7]
    assert header.split() == ["epoch", "step", "lr", "train", "loss", "eval", "set", "SROCC", "PLCC", "KROCC", "RMSE",
                              "best"]
    assert [r.split()[4] for r in rows] == ["KoNViD-1k", "LIVE-VQC", "KoNViD-1k", "LIVE-VQC"]
    # Aligned: every numeric cell ends exactly where its header ends (right-aligned columns).
    for name in ("SROCC", "PLCC", "RMSE"):
        end = header.index(name) + len(name)
        for row in rows:
            assert row[end - 1] != " " and (len(row) == end or row[end] == " "), (name, row)
    assert rule.startswith("-----  ----  --------  ----------  ") and len(rule) >= len(header)
    assert rows[1].split()[6] == "nan"  # LIVE-VQC PLCC of epoch 0
    assert "4.80e-05" in rows[2] and "0.0000" not in rows[2]  # a small LR keeps its digits
    assert rows[2].endswith("*") and rows[3].endswith("*") and not rows[0].endswith("*")
    assert "fit='logistic'" in lines[-1] and lines[-2] == "* = selected epoch."


def test_epoch_rows_read_nested_eval_records_and_epochs_without_eval():
    rows = epoch_rows([{"epoch": 0, "step": 1, "loss": 0.3, "eval": {"a": {"srocc": 0.1}}},
                       {"epoch": 1, "step": 2, "loss": 0.2},
                       # training/train.py's record: metrics per set under "metrics", coverage beside them
                       {"epoch": 2, "step": 3, "train_loss": 0.1, "metrics": {"b": {"srocc": 0.2, "plcc": 0.3}},
                        "eval_coverage": {"b": {"scored": 4, "unique": 4, "dataset": 4}}, "partial": False}])
    assert rows[0]["eval_set"] == "a" and rows[0]["srocc"] == 0.1 and rows[0]["train_loss"] == 0.3
    assert rows[1]["eval_set"] == "-"
    assert len(rows) == 3 and rows[2]["eval_set"] == "b" and rows[2]["plcc"] == 0.3


def test_format_table_with_sequences_missing_values_title_and_notes():
    text = format_table([("a", 1, 0.5), ("bbbb", None, 12.25)], ["name", ("n", "count"), ("v", "value")],
                        title="T", notes="values in MOS")
    assert text.splitlines() == ["T", "name  count    value", "----  -----  -------", "a         1   0.5000",
                                 "bbbb      -  12.2500", "values in MOS"]
    with pytest.raises(ValueError, match="column"):
        format_table([], [])

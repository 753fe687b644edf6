"""What a `training/train.py` run leaves besides weights: the per-epoch table, the selected epoch's predictions,
the plots, the data check (before the model loads) and raw `.yuv` training data with `--raw_format`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qclip_hf.metrics import compute_vqa_metrics
from qclip_hf.reporting.predictions import read_predictions
from qclip_hf.synthetic import generate_quality_dataset

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "training" / "train.py"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return generate_quality_dataset(tmp_path_factory.mktemp("syn"), num_sources=4, levels=2, test_sources=1,
                                    degradations=("crf", "blur", "noise"), progress=False)


def _train(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--scma", '{"r": 4, "layers": 2}', "--num_frames", "2",
                           "--checkpointing_steps", "none", "--seed", "3", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr[-4000:])
    return proc


@pytest.fixture(scope="module")
def run(tiny_backbone_dir, synthetic, tmp_path_factory):
    output = tmp_path_factory.mktemp("run") / "out"
    proc = _train("--backbone", tiny_backbone_dir("clip"), "--train_data", f"videofolder:{synthetic}/train",
                  "--eval_data", f"heldout=videofolder:{synthetic}/test", "--val_fraction", "0.25",
                  "--batch_size", "4", "--num_epochs", "2", "--fit", "logistic", "--report_to", "all",
                  "--output_dir", str(output))
    return {"output": output, "proc": proc, "results": json.loads((output / "results.json").read_text())}


def test_the_epoch_table_is_printed_with_one_row_per_epoch_and_eval_set(run):
    lines = run["proc"].stdout.splitlines()
    start = lines.index("Metrics per epoch and evaluation set")
    header = lines[start + 1]
    assert header.split()[:5] == ["epoch", "step", "lr", "train", "loss"] and "SROCC" in header
    rows = lines[start + 3:start + 7]
    assert [(r.split()[0], r.split()[4]) for r in rows] == [("0", "val"), ("0", "heldout"), ("1", "val"),
                                                            ("1", "heldout")]
    best = run["results"]["best"]["epoch"]
    assert all(r.rstrip().endswith("*") == (r.split()[0] == str(best)) for r in rows)
    srocc = run["results"]["history"][1]["metrics"]["heldout"]["srocc"]
    assert f"{srocc:.4f}" in rows[3]


def test_predictions_are_those_of_the_selected_epoch(run):
    results, output = run["results"], run["output"]
    assert sorted(p.name for p in (output / "predictions").iterdir()) == ["heldout.csv", "val.csv"]
    for name in ("heldout", "val"):
        columns = read_predictions(output / "predictions" / f"{name}.csv")
        assert len(columns["file"]) == results["eval_sizes"][name]
        assert {f"p_{level}" for level in ("excellent", "good", "fair", "poor", "bad")} <= set(columns)
        np.testing.assert_allclose(np.sum([columns[f"p_{lv}"] for lv in ("excellent", "good", "fair", "poor", "bad")],
                                          axis=0), 1.0, rtol=1e-5)
        recomputed = compute_vqa_metrics(columns["prediction"], columns["label"], fit="logistic")
        expected = results["best"]["metrics"][name]
        for metric in ("srocc", "plcc", "krocc", "rmse"):
            assert recomputed[metric] == pytest.approx(expected[metric], rel=1e-5, abs=1e-6), (name, metric)


def test_best_and_last_ship_a_calibration_fitted_on_the_validation_set(run, synthetic):
    from qclip_hf.calibration import Calibration, fit_calibration

    results, output = run["results"], run["output"]
    best = Calibration.load(output / "best")
    assert best.data["set"] == "val" and best.data["split"] == "validation" and best.data["is_test_set"] is False
    assert best.data["epoch"] == results["best"]["epoch"] and best.data["size"] == results["eval_sizes"]["val"]
    # Fitted on the selected epoch's validation predictions (OUTPUT/predictions/val.csv), never on the test set.
    columns = read_predictions(output / "predictions" / "val.csv")
    again = fit_calibration(columns["prediction"], columns["label"], mos_range=best.mos_range)
    assert again.kind == best.kind
    np.testing.assert_allclose(again.mos(columns["prediction"]), best.mos(columns["prediction"]), rtol=1e-6)
    assert best.fit["srocc"] == pytest.approx(results["best"]["metrics"]["val"]["srocc"], abs=1e-9)  # monotonic
    # The MOS scale: the lowest and highest label of the training data (a videofolder declares none).
    labels = [float(line.split(",")[1]) for line in (synthetic / "train" / "metadata.csv").read_text().splitlines()[1:]]
    assert best.mos_range == (min(labels), max(labels))
    last = Calibration.load(output / "last")
    assert last.data["epoch"] == results["history"][-1]["epoch"] and last.data["set"] == "val"
    assert f"best/ (epoch {results['best']['epoch']}) calibrated: " in run["proc"].stderr


def test_report_to_all_logs_to_the_installed_trackers(run):
    assert list(run["output"].rglob("events.out.tfevents.*")), "--report_to all wrote no TensorBoard event file"


def test_plots_and_fit_are_written(run):
    plots = run["output"] / "plots"
    assert sorted(p.name for p in plots.iterdir()) == ["krocc.png", "loss_lr.png", "plcc.png", "rmse.png",
                                                       "scatter_heldout.png", "scatter_val.png", "srocc.png"]
    with Image.open(plots / "scatter_heldout.png") as image:
        assert image.format == "PNG"
    assert run["results"]["fit"] in ("logistic", "logistic4")
    assert run["results"]["data_check"] == {"on_missing": "error", "checked": {"--train_data": 21, "heldout": 7},
                                            "num_skipped": 0, "skipped": {}}


def test_missing_videos_stop_the_run_before_the_model_loads(synthetic, tmp_path):
    data = tmp_path / "train"
    data.mkdir()
    video = next((Path(synthetic) / "train").rglob("*.mp4"))
    (data / "ok.mp4").write_bytes(video.read_bytes())
    (data / "metadata.csv").write_text("file_name,mos\nok.mp4,3.0\ngone_a.mp4,2.0\ngone_b.mp4,4.0\n")
    # The backbone does not exist either: had the model been loaded first, the error would be about it.
    proc = _train("--backbone", str(tmp_path / "no_backbone"), "--train_data", f"videofolder:{data}",
                  "--output_dir", str(tmp_path / "out"), check=False)
    assert proc.returncode == 2
    assert "error: 2 of 3 listed videos cannot be read: gone_a.mp4 (missing) in '--train_data'; gone_b.mp4" \
        in proc.stderr
    assert "--on_missing skip" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "results.json").exists()


def _write_yuv(path: Path, width: int, height: int, frames: int, level: int, extra: int = 0) -> None:
    rng = np.random.default_rng(level)
    with open(path, "wb") as handle:
        for _ in range(frames):
            luma = np.clip(rng.normal(40 * level, 10 + 5 * level, (height, width)), 0, 255).astype(np.uint8)
            handle.write(luma.tobytes() + np.full(width * height // 2, 128, np.uint8).tobytes())
        handle.write(b"\0" * extra)


def test_raw_yuv_training_data_with_raw_format_and_skip(tiny_backbone_dir, tmp_path):
    data = tmp_path / "yuv"
    data.mkdir()
    names = []
    for i in range(6):
        _write_yuv(data / f"v{i}.yuv", 48, 32, 3, level=i % 5)
        names.append(f"v{i}.yuv")
    _write_yuv(data / "partial.yuv", 48, 32, 2, level=1, extra=7)
    rows = "".join(f"{n},{1 + i % 5}\n" for i, n in enumerate(names)) + "partial.yuv,2\nabsent.yuv,3\n"
    (data / "metadata.csv").write_text("file_name,mos\n" + rows)
    common = ["--backbone", tiny_backbone_dir("clip"), "--train_data", f"videofolder:{data}", "--eval_data",
              f"same=videofolder:{data}", "--raw_format", "48x32:yuv420p:25", "--batch_size", "3",
              "--num_epochs", "1"]
    proc = _train(*common, "--output_dir", str(tmp_path / "err"), check=False)
    assert proc.returncode == 2 and "partial.yuv (raw size" in proc.stderr and "48x32 yuv420p" in proc.stderr
    _train(*common, "--on_missing", "skip", "--output_dir", str(tmp_path / "out"))
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    skipped = results["data_check"]["skipped"]["--train_data"]
    assert [s["file"] for s in skipped] == ["partial.yuv", "absent.yuv"]
    assert skipped[1]["reason"] == "missing" and "not a whole number" in skipped[0]["reason"]
    assert results["eval_sizes"]["same"] == 6 and results["history"][0]["metrics"]["same"]["srocc"] is not None


def test_pushing_a_local_backbone_is_refused_before_the_model_loads(tiny_backbone_dir, synthetic, tmp_path):
    proc = _train("--backbone", tiny_backbone_dir("clip"), "--train_data", f"videofolder:{synthetic}/train",
                  "--output_dir", str(tmp_path / "out"), "--push_to_hub", "--hub_model_id", "me/qclip",
                  check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "is the local path" in proc.stderr and "--hub_backbone_id" in proc.stderr
    assert "trainable parameters" not in proc.stderr  # stopped before the model was built


def test_saved_folders_carry_a_card_with_this_runs_results(run):
    output, results = run["output"], run["results"]
    best = (output / "best" / "README.md").read_text()
    assert "No training record" not in best and "arXiv:2508.06092" in best
    heldout = results["best"]["metrics"]["heldout"]
    assert f"| heldout | {results['eval_sizes']['heldout']} | {heldout['srocc']:.4f} |" in best
    assert "selected on 'val', a validation set held out from training" in best
    assert str(output) not in best and "training data: a local video folder (train)" in best  # never its path
    last = (output / "last" / "README.md").read_text()
    assert "the last epoch trained (epoch 1)" in last

"""`qclip-vqa calibrate RESULTS LABELS --model DIR`, run as a user runs it (a subprocess): the fit, and refusals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from qclip_hf.calibration import Calibration
from qclip_hf.inference import read_rows
from qclip_hf.synthetic import generate_quality_dataset
from qclip_hf.testing.browser import artifacts_dir


def calibrate_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qclip_hf.cli", "calibrate", *map(os.fsdecode, args)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="module")
def labelled(cli, model_dir, tmp_path_factory):
    """Ten generated videos with their MOS (`metadata.csv`: file_name, mos), scored by the tiny model."""
    root = tmp_path_factory.mktemp("labelled")
    data = generate_quality_dataset(root / "data", num_sources=3, levels=2, test_sources=1,
                                    degradations=("crf", "blur"), progress=False)
    results = root / "results.csv"
    run = cli.run(data / "train", "--model", model_dir, "--output", results, "--device", "cpu")
    assert run.returncode == 0, run.stderr
    return {"videos": data / "train", "labels": data / "train" / "metadata.csv", "results": results}


@pytest.fixture
def model_copy(model_dir, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    return target


def test_calibrate_fits_prints_the_fit_and_writes_the_map_and_its_scatter(labelled, model_copy):
    run = calibrate_cli(labelled["results"], labelled["labels"], "--model", model_copy, "--mos_range", "1", "5")
    assert run.returncode == 0, run.stderr
    calibration = Calibration.load(model_copy)
    rows = read_rows(labelled["results"])
    assert calibration.fit["n"] == len(rows) == 10 and calibration.mos_range == (1.0, 5.0)
    assert calibration.data["labels"] == str(labelled["labels"]) and calibration.data["size"] == 10
    fit = calibration.fit
    assert f"fit on 10 videos: PLCC {fit['plcc']:.4f}  SROCC {fit['srocc']:.4f}  RMSE {fit['rmse']:.4f}" in run.stdout
    assert f"written: {model_copy / 'calibration.json'}" in run.stdout
    plot = model_copy / "calibration.png"
    assert f"scatter plot: {plot}" in run.stdout and Image.open(plot).size[0] > 400
    shutil.copy(plot, artifacts_dir() / "calibrate_scatter.png")  # for a person to look at
    # The model now loads calibrated: its outputs gain the MOS of this map.
    from qclip_hf import QClipModel

    assert QClipModel.from_pretrained(model_copy).calibration == calibration
    # Running it again replaces the map and says so; --output writes elsewhere and leaves the model's alone.
    again = calibrate_cli(labelled["results"], labelled["labels"], "--model", model_copy, "--kind", "isotonic",
                          "--no_plot")
    assert again.returncode == 0 and "replaced the previous calibration" in again.stdout
    assert Calibration.load(model_copy).kind == "isotonic"
    before = (model_copy / "calibration.json").read_bytes()
    other = model_copy.parent / "elsewhere.json"
    assert calibrate_cli(labelled["results"], labelled["labels"], "--model", model_copy, "--output", other,
                         "--no_plot").returncode == 0
    assert Calibration.load(other) == calibration and (model_copy / "calibration.json").read_bytes() == before


def _refused(run: subprocess.CompletedProcess, model: Path, message: str) -> None:
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], run.stderr
    assert not (model / "calibration.json").exists() and not (model / "calibration.png").exists()


def test_bad_inputs_are_refused_before_anything_is_written(labelled, model_copy, tmp_path):
    results, labels = labelled["results"], labelled["labels"]
    names = [line.split(",")[0] for line in labels.read_text().splitlines()[1:]]
    unrelated = tmp_path / "unrelated.csv"
    unrelated.write_text("file_name,mos\nnot_scored_a.mp4,2\nnot_scored_b.mp4,4\n")
    _refused(calibrate_cli(results, unrelated, "--model", model_copy), model_copy, "none of the 2 labels")
    few = tmp_path / "few.json"
    few.write_text(json.dumps({name: 1.0 + i for i, name in enumerate(names[:3])}))
    _refused(calibrate_cli(results, few, "--model", model_copy), model_copy, "3 labelled videos; a calibration needs "
                                                                             "at least 5")
    constant = tmp_path / "constant.csv"
    constant.write_text("file_name,mos\n" + "".join(f"{name},3.5\n" for name in names))
    _refused(calibrate_cli(results, constant, "--model", model_copy), model_copy, "every MOS is 3.5")
    no_mos = tmp_path / "no_mos.csv"
    no_mos.write_text("file_name,quality\n" + "".join(f"{name},3\n" for name in names))
    _refused(calibrate_cli(results, no_mos, "--model", model_copy), model_copy, "no 'mos'")
    _refused(calibrate_cli(results, labels, "--model", tmp_path / "no-such-model"), model_copy,
             "model folder '" + str(tmp_path / "no-such-model") + "' does not exist")
    _refused(calibrate_cli(tmp_path / "missing.csv", labels, "--model", model_copy), model_copy,
             "results file '" + str(tmp_path / "missing.csv") + "' does not exist")
    _refused(calibrate_cli(results, labels, "--model", model_copy, "--mos_range", "5", "1"), model_copy,
             "LOW < HIGH")

"""`Calibration`: the map, the level bands, calibration.json, and the round trip with a saved model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from qclip_hf import QClipModel
from qclip_hf.calibration import Calibration, CalibrationError, fit_calibration, load_calibration
from qclip_hf.errors import ModelLoadError

LOGISTIC = Calibration("logistic4", {"b1": 5.0, "b2": 1.0, "b3": 0.02, "b4": 0.01}, mos_range=(1.0, 5.0))


def test_levels_are_five_equal_bands_of_the_mos_range_bad_to_excellent():
    assert LOGISTIC.band_edges() == [1.0, 1.8, 2.6, 3.4, 4.2, 5.0]
    cases = {0.5: "bad", 1.0: "bad", 1.79: "bad", 1.8: "poor", 2.6: "fair", 3.0: "fair", 3.4: "good", 4.2: "excellent",
             5.0: "excellent", 5.3: "excellent"}
    assert {mos: LOGISTIC.level_of(mos) for mos in cases} == cases
    assert LOGISTIC.level_of(None) is None and LOGISTIC.level_of(float("nan")) is None
    # A DMOS-like scale (lower = better) reverses the bands; another range moves them.
    dmos = Calibration("logistic4", LOGISTIC.parameters, mos_range=(0, 100), higher_is_better=False)
    assert [dmos.level_of(v) for v in (5, 30, 50, 70, 95)] == ["excellent", "good", "fair", "poor", "bad"]
    assert LOGISTIC.to_dict()["level_bands"] == {"bad": [1.0, 1.8], "poor": [1.8, 2.6], "fair": [2.6, 3.4],
                                                 "good": [3.4, 4.2], "excellent": [4.2, 5.0]}


def test_the_map_is_the_logistic_of_the_metrics_module():
    from qclip_hf.metrics import logistic4

    scores = np.array([-0.05, 0.0, 0.02, 0.03, 0.2])
    np.testing.assert_array_equal(LOGISTIC.mos(scores), logistic4(scores, 5.0, 1.0, 0.02, 0.01))
    assert LOGISTIC.mos_of(0.02) == pytest.approx(3.0) and LOGISTIC.mos_of(None) is None
    assert np.isnan(LOGISTIC.mos([np.nan])[0])


def test_json_round_trip_and_refusals(tmp_path):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=30)
    calibration = fit_calibration(scores, 3 + np.tanh(scores) + rng.normal(scale=0.1, size=30), mos_range=(1, 5),
                                  data={"set": "val", "split": "validation", "epoch": 3})
    path = calibration.save(tmp_path)
    assert path == tmp_path / "calibration.json"
    payload = json.loads(path.read_text())
    assert {"kind", "parameters", "direction", "mos_range", "higher_is_better", "level_names", "level_bands", "fit",
            "data", "choice"} <= set(payload)
    assert payload["data"] == {"set": "val", "split": "validation", "epoch": 3, "size": 30}
    assert payload["mos_range"] == [1.0, 5.0] and payload["direction"] == "increasing"
    assert Calibration.load(tmp_path) == calibration == load_calibration(tmp_path)
    assert load_calibration(tmp_path / "nothing-here") is None  # no file: uncalibrated, not an error
    path.write_text("{not json")
    with pytest.raises(CalibrationError, match="cannot be read.*qclip-vqa calibrate"):
        Calibration.load(path)
    with pytest.raises(ModelLoadError, match="calibration.json' cannot be read"):
        load_calibration(tmp_path)
    path.write_text(json.dumps({**payload, "kind": "spline"}))
    with pytest.raises(CalibrationError, match="kind must be one of 'logistic4', 'isotonic'"):
        Calibration.load(path)
    with pytest.raises(ValueError, match="flat"):
        Calibration("logistic4", {"b1": 3, "b2": 3, "b3": 0, "b4": 1}, mos_range=(1, 5))
    with pytest.raises(ValueError, match="strictly increasing"):
        Calibration("isotonic", {"scores": [0, 0], "mos": [1, 2]}, mos_range=(1, 5))


def test_a_saved_model_carries_its_calibration_and_an_uncalibrated_one_has_none(model_dir, tmp_path):
    model = QClipModel.from_pretrained(model_dir)
    assert model.calibration is None  # a model saved without a map: raw score only
    model.calibration = LOGISTIC
    model.save_pretrained(tmp_path / "calibrated")
    assert (tmp_path / "calibrated" / "calibration.json").is_file()
    again = QClipModel.from_pretrained(tmp_path / "calibrated")
    assert again.calibration == LOGISTIC
    # Saving an uncalibrated model over that folder removes the map, which described other weights.
    again.calibration = None
    again.save_pretrained(tmp_path / "calibrated")
    assert not (tmp_path / "calibrated" / "calibration.json").exists()
    # A broken calibration.json is named before the backbone loads.
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "calibration.json").write_text('{"kind": "logistic4"}')
    with pytest.raises(ModelLoadError, match="calibration.json' cannot be read.*no 'parameters'"):
        QClipModel.from_pretrained(broken)


def test_the_map_travels_with_a_hub_push_and_loads_from_the_repo(model_dir, tmp_path):
    from qclip_hf.testing.hub_server import LocalHubServer, run_with_hub

    folder = tmp_path / "calibrated"
    shutil.copytree(model_dir, folder)
    LOGISTIC.save(folder)
    server = LocalHubServer(tmp_path / "hub")
    server.start()
    try:
        code = ("import json, sys\nfrom qclip_hf import QClipModel\n"
                "QClipModel.from_pretrained(sys.argv[1]).push_to_hub('user/calibrated')\n"
                "model = QClipModel.from_pretrained('user/calibrated')\n"
                "print(json.dumps(model.calibration.to_dict()))\n")
        done = run_with_hub(server.endpoint, code, tmp_path / "home", str(folder))
    finally:
        server.stop()
    assert Calibration.from_dict(json.loads(done.stdout.strip().splitlines()[-1])) == LOGISTIC

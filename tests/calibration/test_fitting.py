"""Fitting the map raw score -> MOS: the logistic / isotonic choice, order kept (SROCC unchanged), refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from qclip_hf.calibration import CalibrationError, fit_calibration
from qclip_hf.calibration.fitting import isotonic_knots, keeps_order
from qclip_hf.metrics import logistic4


def _sigmoid_data(n=60, seed=0, noise=0.15):
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.02, 0.015, size=n)  # a model's own scale: small numbers around 0.02
    mos = logistic4(scores, 4.8, 1.3, 0.02, 0.006) + rng.normal(scale=noise, size=n)
    return scores, mos


def test_logistic_is_chosen_for_a_sigmoid_relation_and_keeps_srocc():
    scores, mos = _sigmoid_data()
    calibration = fit_calibration(scores, mos, mos_range=(1, 5), data={"set": "val"})
    assert calibration.kind == "logistic4" and calibration.increasing
    assert calibration.choice["cv_rmse"]["logistic4"] <= calibration.choice["cv_rmse"]["isotonic"] / 0.95
    mapped = calibration.mos(scores)
    # Monotonic: the calibrated MOS ranks the videos exactly as the raw score (SROCC identical, not approximately).
    assert stats.spearmanr(mapped, mos)[0] == stats.spearmanr(scores, mos)[0] == calibration.fit["srocc"]
    assert np.argsort(mapped, kind="stable").tolist() == np.argsort(scores, kind="stable").tolist()
    # The fit figures are those of the calibrated MOS, RMSE on the MOS scale (the noise is 0.15 MOS).
    assert calibration.fit["n"] == 60 and 0.08 < calibration.fit["rmse"] < 0.3 and calibration.fit["plcc"] > 0.9
    assert calibration.data == {"set": "val", "size": 60}


def test_isotonic_is_chosen_when_it_predicts_held_out_points_clearly_better():
    rng = np.random.default_rng(0)
    scores = rng.uniform(-1, 1, size=300)
    mos = 1 + np.digitize(scores, [-0.6, -0.5, 0.5, 0.6]) + rng.normal(scale=0.1, size=300)  # a staircase
    calibration = fit_calibration(scores, mos, mos_range=(1, 5))
    assert calibration.kind == "isotonic"
    assert calibration.choice["cv_rmse"]["isotonic"] < 0.95 * calibration.choice["cv_rmse"]["logistic4"]
    assert stats.spearmanr(calibration.mos(scores), mos)[0] == stats.spearmanr(scores, mos)[0]
    # Constant beyond the fitted scores: it never extrapolates past the MOS it saw.
    knots = calibration.parameters
    assert calibration.mos([scores.min() - 5])[0] == knots["mos"][0] and calibration.mos([9.0])[0] == knots["mos"][-1]


def test_a_step_that_saturates_the_logistic_falls_back_to_isotonic_and_keeps_ranks():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=200)
    mos = np.where(scores > 0.3, 4.5, 1.5) + rng.normal(scale=0.2, size=200)
    calibration = fit_calibration(scores, mos, mos_range=(1, 5))
    assert calibration.kind == "isotonic" and "saturates" in calibration.choice["reason"]
    assert keeps_order(calibration.mos(scores), scores)


def test_a_score_running_against_the_mos_gives_a_decreasing_map():
    scores, mos = _sigmoid_data(seed=3)
    for kind in ("logistic4", "isotonic"):
        calibration = fit_calibration(-scores, mos, kind=kind, mos_range=(1, 5))
        assert not calibration.increasing
        assert stats.spearmanr(calibration.mos(-scores), mos)[0] == pytest.approx(stats.spearmanr(scores, mos)[0])


def test_isotonic_knots_are_the_pav_blocks_with_the_ends_at_the_extreme_scores():
    xs, ys = isotonic_knots(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 2.0, 4.0, 3.8]))
    assert xs.tolist() == [0.0, 1.5, 4.0] and ys.tolist() == pytest.approx([1.0, 2.5, 3.9])
    # Equal scores are pooled before the blocks are formed.
    xs, ys = isotonic_knots(np.array([0.0, 0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert xs.tolist() == [0.0, 1.0, 2.0] and ys.tolist() == [1.5, 3.0, 4.0]


def test_mos_range_defaults_to_the_labels_and_bad_inputs_are_refused():
    scores, mos = _sigmoid_data(n=12)
    assert fit_calibration(scores, mos).mos_range == (float(mos.min()), float(mos.max()))
    with pytest.raises(CalibrationError, match="4 labelled videos; a calibration needs at least 5"):
        fit_calibration(scores[:4], mos[:4])
    with pytest.raises(CalibrationError, match="every MOS is 3"):
        fit_calibration(scores, np.full(12, 3.0))
    with pytest.raises(CalibrationError, match="every score is"):
        fit_calibration(np.full(12, 0.02), mos)
    with pytest.raises(CalibrationError, match="NaN or infinite"):
        fit_calibration(np.r_[scores[:-1], np.nan], mos)
    with pytest.raises(ValueError, match="'auto', 'logistic4', 'isotonic'"):
        fit_calibration(scores, mos, kind="spline")
    with pytest.raises(ValueError, match="low < high"):
        fit_calibration(scores, mos, mos_range=(5, 1))

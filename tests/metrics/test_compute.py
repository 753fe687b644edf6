import math

import numpy as np
import pytest
from scipy import stats

from qclip_hf.metrics import FIT_METHODS, compute_vqa_metrics, fit_logistic4, logistic4, vqa_metrics_path

PREDICTIONS = [0.12, 0.55, 0.31, 0.78, 0.64, 0.05, 0.92, 0.47, 0.33, 0.70]
REFERENCES = [1.4, 3.1, 2.2, 4.0, 3.0, 1.1, 4.6, 2.9, 2.8, 3.5]


def test_none_matches_scipy():
    got = compute_vqa_metrics(PREDICTIONS, REFERENCES)
    p, y = np.array(PREDICTIONS), np.array(REFERENCES)
    assert got["srocc"] == pytest.approx(stats.spearmanr(p, y)[0])
    assert got["plcc"] == pytest.approx(stats.pearsonr(p, y)[0])
    assert got["krocc"] == pytest.approx(stats.kendalltau(p, y)[0])
    assert got["rmse"] == pytest.approx(np.sqrt(np.mean((p - y) ** 2)))
    assert set(got) == {"srocc", "plcc", "krocc", "rmse"}
    assert all(isinstance(v, float) for v in got.values())


def test_known_vectors():
    # Hand-checkable: one adjacent swap among 4 ranks gives rho = 1 - 6*2/(4*15) = 0.8 and tau = (5-1)/6.
    got = compute_vqa_metrics([1, 3, 2, 4], [1, 2, 3, 4])
    assert got["srocc"] == pytest.approx(0.8)
    assert got["krocc"] == pytest.approx(4 / 6)
    assert got["plcc"] == pytest.approx(0.8)
    assert got["rmse"] == pytest.approx(math.sqrt(0.5))


def test_rescale_is_the_dover_convention():
    p, y = np.array(PREDICTIONS), np.array(REFERENCES)
    got = compute_vqa_metrics(p, y, fit="rescale")
    rescaled = (p - p.mean()) / p.std() * y.std() + y.mean()  # DOVER's `rescale(pr, gt)`
    assert got["plcc"] == pytest.approx(compute_vqa_metrics(p, y)["plcc"])
    assert got["rmse"] == pytest.approx(np.sqrt(np.mean((rescaled - y) ** 2)))
    assert got["srocc"] == pytest.approx(stats.spearmanr(p, y)[0])


def test_logistic_fit_recovers_a_known_logistic():
    x = np.linspace(-2.0, 3.0, 60)
    truth = logistic4(x, 4.6, 1.3, 0.4, 0.7)
    # A monotone rescaling of the predictions must not change what the fit recovers.
    np.testing.assert_allclose(fit_logistic4(x, truth), truth, atol=1e-6)
    np.testing.assert_allclose(fit_logistic4(100 * x + 7, truth), truth, atol=1e-6)
    got = compute_vqa_metrics(x, truth, fit="logistic4")
    assert got["plcc"] == pytest.approx(1.0, abs=1e-9)
    assert got["rmse"] == pytest.approx(0.0, abs=1e-6)
    # Raw PLCC of a nonlinear monotone relation is below 1: the fit is what closes the gap.
    assert compute_vqa_metrics(x, truth)["plcc"] < 0.99


def test_logistic_fit_recovers_with_centred_predictions():
    # The midpoint guess is then exactly 0, where finite-difference Jacobians stall.
    x = np.linspace(-3, 3, 50)
    truth = logistic4(x, 4.5, 1.2, 0.3, 0.8)
    np.testing.assert_allclose(fit_logistic4(x, truth), truth, atol=1e-6)


def test_logistic_fit_falls_back_to_linear_with_a_warning(monkeypatch):
    from scipy import optimize

    def fail(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(optimize, "curve_fit", fail)
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    with pytest.warns(RuntimeWarning, match="linear fit"):
        fitted = fit_logistic4(x, 2 * x + 1)
    np.testing.assert_allclose(fitted, 2 * x + 1)


def test_logistic_fit_with_noise_leaves_the_noise():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 400)
    noise = rng.normal(scale=0.1, size=400)
    got = compute_vqa_metrics(x, logistic4(x, 5.0, 1.0, 0.5, 0.1) + noise, fit="logistic4")
    assert got["rmse"] == pytest.approx(noise.std(), rel=0.1)


def test_logistic_fit_handles_negative_correlation():
    x = np.linspace(0, 1, 30)
    got = compute_vqa_metrics(x, logistic4(-x, 5.0, 1.0, -0.5, 0.1), fit="logistic4")
    assert got["plcc"] == pytest.approx(1.0, abs=1e-6)
    assert got["srocc"] == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "predictions, references, fit, message",
    [
        ([1, 2, 3], [1, 2], "none", "same length"),
        ([1], [1], "none", "At least 2 samples"),
        ([1, 2, 3], [1, 2, 3], "logistic4", "At least 4 samples"),
        ([1, float("nan"), 3], [1, 2, 3], "none", "`predictions` holds 1 NaN"),
        ([1, 2, 3], [1, float("inf"), 3], "none", "`references` holds 1 NaN or infinite"),
        ([1, 2, 3], [2, 2, 2], "none", "`references` are all equal"),
        ([1, 2, 3], [1, 2, 3], "linear", "'none', 'logistic4', 'rescale'"),
        ([[1, 2], [3, 4]], [[1, 2], [3, 4]], "none", "1-D"),
        (["a", "b"], [1, 2], "none", "sequence of numbers"),
    ],
)
def test_validation(predictions, references, fit, message):
    with pytest.raises(ValueError, match=message):
        compute_vqa_metrics(predictions, references, fit=fit)


@pytest.mark.parametrize("fit", FIT_METHODS)
def test_constant_predictions_give_nan_correlations(fit):
    got = compute_vqa_metrics([2.0] * 5, [1, 2, 3, 4, 5], fit=fit)
    assert math.isnan(got["srocc"]) and math.isnan(got["plcc"]) and math.isnan(got["krocc"])
    expected_rmse = math.sqrt(np.mean((np.array([1, 2, 3, 4, 5]) - (2.0 if fit == "none" else 3.0)) ** 2))
    assert got["rmse"] == pytest.approx(expected_rmse)


def test_column_vectors_are_accepted():
    column = np.array(PREDICTIONS)[:, None]
    assert compute_vqa_metrics(column, REFERENCES) == compute_vqa_metrics(PREDICTIONS, REFERENCES)


def test_metric_path_points_at_the_script():
    from pathlib import Path

    assert (Path(vqa_metrics_path()) / "vqa_metrics.py").is_file()

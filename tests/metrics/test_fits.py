"""`--fit {none,rescale,logistic}` (and logistic5): the mappings PLCC / RMSE are computed after."""

from __future__ import annotations

import numpy as np
import pytest

from qclip_hf.metrics import compute_vqa_metrics, fit_function, logistic4, logistic5


def test_logistic_is_the_vqeg_4_parameter_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    y = logistic4(x, 4.6, 1.2, 0.2, 0.6) + rng.normal(scale=0.05, size=80)
    assert compute_vqa_metrics(x, y, fit="logistic") == compute_vqa_metrics(x, y, fit="logistic4")
    raw = compute_vqa_metrics(x, y, fit="none")
    fitted = compute_vqa_metrics(x, y, fit="logistic")
    assert fitted["plcc"] > raw["plcc"] and fitted["rmse"] < raw["rmse"]
    assert fitted["srocc"] == raw["srocc"]  # rank metrics never fitted


def test_logistic5_recovers_its_curve_on_a_shifted_scale():
    x = np.linspace(-2.0, 3.0, 60)
    truth = logistic5(x, 3.0, 2.0, 0.5, 0.2, 3.0)
    f = fit_function(100 * x + 5, truth, "logistic5")
    np.testing.assert_allclose(f(100 * x + 5), truth, atol=1e-4)
    assert compute_vqa_metrics(x, truth, fit="logistic5")["rmse"] < 1e-4


def test_rescale_matches_the_labels_mean_and_std_and_keeps_plcc():
    rng = np.random.default_rng(1)
    x = rng.normal(size=30) * 0.01 - 0.03
    y = 3 + x * 50 + rng.normal(scale=0.3, size=30)
    mapped = fit_function(x, y, "rescale")(x)
    assert mapped.mean() == pytest.approx(y.mean()) and mapped.std() == pytest.approx(y.std())
    assert compute_vqa_metrics(x, y, "rescale")["plcc"] == pytest.approx(compute_vqa_metrics(x, y, "none")["plcc"])
    np.testing.assert_array_equal(fit_function(x, y, "none")(x), x)


def test_unknown_fit_and_too_few_samples_for_logistic5():
    with pytest.raises(ValueError, match="'logistic'"):
        fit_function([1, 2, 3], [1, 2, 3], "cubic")
    with pytest.raises(ValueError, match="At least 5 samples"):
        compute_vqa_metrics([1, 2, 3, 4], [1, 2, 3, 5], fit="logistic5")

"""The VQA correlation metrics (SROCC, PLCC, KROCC, RMSE) in plain NumPy / SciPy.

Training and evaluation code call `compute_vqa_metrics` directly; the `evaluate` module in `vqa_metrics/` wraps the
same function so both report identical numbers.

Three conventions exist in the field for PLCC and RMSE, selected by `fit`:

- `"none"`: on the raw predictions, as the Q-CLIP reference release reports them (scipy on raw scores).
- `"logistic4"` (alias `"logistic"`): the VQEG convention. A 4-parameter logistic
  `f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2` is fitted from predictions to labels by least squares
  (`scipy.optimize.curve_fit`) and PLCC / RMSE are computed on `f(predictions)`. This is what most VQA papers
  outside the DOVER line mean by PLCC.
- `"logistic5"`: the VQEG FR-TV Phase II 5-parameter logistic
  `f(x) = b1 * (0.5 - 1 / (1 + exp(b2 * (x - b3)))) + b4 * x + b5` (monotonic part plus a linear term).
- `"rescale"`: the DOVER / Q-CLIP training-code convention. Predictions are standardised and mapped to the labels'
  mean and (population) standard deviation before RMSE. PLCC is invariant to this affine map, so it equals `"none"`.

SROCC and KROCC are rank statistics and always use the raw predictions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import optimize, special, stats

__all__ = ["FIT_METHODS", "METRIC_NAMES", "compute_vqa_metrics", "fit_function", "fit_logistic4", "logistic4",
           "logistic4_parameters", "logistic5", "vqa_metrics_path"]

FIT_METHODS = ("none", "logistic4", "rescale", "logistic", "logistic5")
# "logistic" is the training script's name (`--fit logistic`) for the standard VQEG 4-parameter fit.
_FIT_ALIASES = {"logistic": "logistic4"}
METRIC_NAMES = ("srocc", "plcc", "krocc", "rmse")
# curve_fit needs at least as many points as parameters.
_LOGISTIC_MIN_SAMPLES = {"logistic4": 4, "logistic5": 5}


def vqa_metrics_path() -> str:
    """The directory of the `evaluate` module, to pass to `evaluate.load`.

    Example:
        ```python
        >>> import evaluate
        >>> from qclip_hf.metrics import vqa_metrics_path
        >>> metric = evaluate.load(vqa_metrics_path(), config_name="logistic4")
        ```
    """
    return str(Path(__file__).resolve().parent / "vqa_metrics")


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """The VQEG 4-parameter logistic `(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2`.

    `b1` and `b2` are the upper and lower asymptotes, `b3` the midpoint and `|b4|` the slope scale.

    Example:
        ```python
        >>> import numpy as np
        >>> float(logistic4(np.array(0.0), 5.0, 1.0, 0.0, 1.0))
        3.0
        ```
    """
    # expit is the overflow-free form of 1 / (1 + exp(-z)).
    return (b1 - b2) * special.expit((x - b3) / np.abs(b4)) + b2


def _logistic4_jacobian(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    # Analytic derivatives: MINPACK's finite differences take a step proportional to the parameter, which stalls a
    # parameter that starts at exactly 0 (the midpoint guess for centred predictions).
    g = special.expit((x - b3) / np.abs(b4))
    slope = (b1 - b2) * g * (1 - g)
    return np.stack([g, 1 - g, -slope / np.abs(b4), -slope * (x - b3) * np.sign(b4) / b4**2], axis=1)


def logistic5(x: np.ndarray, b1: float, b2: float, b3: float, b4: float, b5: float) -> np.ndarray:
    """The VQEG FR-TV Phase II 5-parameter logistic `b1 * (0.5 - 1 / (1 + exp(b2 * (x - b3)))) + b4 * x + b5`.

    Example:
        ```python
        >>> import numpy as np
        >>> float(logistic5(np.array(0.0), 2.0, 1.0, 0.0, 0.5, 3.0))
        3.0
        ```
    """
    return b1 * (0.5 - special.expit(-b2 * (x - b3))) + b4 * x + b5


def _linear_fallback(predictions: np.ndarray, references: np.ndarray, name: str, error: Exception):
    warnings.warn(f"The {name} fit did not converge ({error}); PLCC/RMSE use a linear fit instead.",
                  RuntimeWarning, stacklevel=4)
    slope, intercept = np.polyfit(predictions, references, deg=1)
    return lambda x: slope * np.asarray(x, dtype=np.float64) + intercept


def fit_function(predictions: np.ndarray, references: np.ndarray, fit: str = "logistic4"):
    """The mapping `fit` learns from predictions to references, as a function of new predictions.

    `"none"` is the identity, `"rescale"` the affine map to the labels' mean / std, `"logistic4"` / `"logistic"`
    and `"logistic5"` the least-squares VQEG logistics (a linear map, with a `RuntimeWarning`, if they do not
    converge). Plots draw it over a prediction grid; the metrics apply it to the predictions.

    Example:
        ```python
        >>> import numpy as np
        >>> x = np.linspace(-3, 3, 50)
        >>> f = fit_function(x, logistic4(x, 4.5, 1.2, 0.3, 0.8), "logistic")
        >>> bool(np.allclose(f(x), logistic4(x, 4.5, 1.2, 0.3, 0.8), atol=1e-6))
        True
        ```
    """
    fit = _FIT_ALIASES.get(fit, fit)
    if fit not in FIT_METHODS:
        raise ValueError(f"`fit` must be one of {', '.join(map(repr, FIT_METHODS))}, got {fit!r}.")
    predictions = np.asarray(predictions, dtype=np.float64)
    references = np.asarray(references, dtype=np.float64)
    if fit == "none":
        return lambda x: np.asarray(x, dtype=np.float64)
    if fit == "rescale":
        mean, std = predictions.mean(), predictions.std()
        return lambda x: (np.asarray(x, dtype=np.float64) - mean) / std * references.std() + references.mean()
    if fit == "logistic4":
        try:
            params = logistic4_parameters(predictions, references)
        except RuntimeError as error:
            return _linear_fallback(predictions, references, "4-parameter logistic", error)
        return lambda x: logistic4(np.asarray(x, dtype=np.float64), *params)
    spread = float(np.std(predictions)) or 1.0
    with warnings.catch_warnings():
        # Only the fitted curve is used; an unestimable parameter covariance does not matter here.
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        initial = [float(np.ptp(references)), 1.0 / spread, float(np.mean(predictions)), 0.0,
                   float(np.mean(references))]
        try:
            params, _ = optimize.curve_fit(logistic5, predictions, references, p0=initial, maxfev=20000)
        except RuntimeError as error:
            return _linear_fallback(predictions, references, "5-parameter logistic", error)
        return lambda x: logistic5(np.asarray(x, dtype=np.float64), *params)


def logistic4_parameters(predictions: np.ndarray, references: np.ndarray) -> np.ndarray:
    """The least-squares parameters `(b1, b2, b3, b4)` of `logistic4` from predictions to references.

    The initial guess follows the VQEG practice: asymptotes at the label extremes, midpoint at the prediction mean,
    slope scale from the prediction spread, which makes the fit independent of the prediction scale. The
    calibration of saved models (`qclip_hf.calibration`) stores these parameters.

    Raises:
        RuntimeError: the fit did not converge (`fit_function` then falls back to a linear map).

    Example:
        ```python
        >>> import numpy as np
        >>> x = np.linspace(-3, 3, 50)
        >>> np.round(logistic4_parameters(x, logistic4(x, 4.5, 1.2, 0.3, 0.8)), 6).tolist()
        [4.5, 1.2, 0.3, 0.8]
        ```
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    references = np.asarray(references, dtype=np.float64)
    spread = float(np.std(predictions)) or 1.0
    initial = [float(np.max(references)), float(np.min(references)), float(np.mean(predictions)), spread]
    with warnings.catch_warnings():
        # Only the fitted curve is used; an unestimable parameter covariance does not matter here.
        warnings.simplefilter("ignore", optimize.OptimizeWarning)
        params, _ = optimize.curve_fit(logistic4, predictions, references, p0=initial, jac=_logistic4_jacobian,
                                       maxfev=20000)
    return params


def fit_logistic4(predictions: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Fit `logistic4` mapping predictions to references and return the fitted predictions.

    The initial guess follows the VQEG practice (asymptotes at the label extremes, midpoint at the prediction mean,
    slope scale from the prediction spread), which makes the fit independent of the prediction scale. If the
    least-squares fit does not converge, a `RuntimeWarning` is issued and the best linear map is used instead.

    Args:
        predictions (`np.ndarray` of shape `(n,)`): raw predicted scores, not constant.
        references (`np.ndarray` of shape `(n,)`): ground-truth scores.

    Returns:
        `np.ndarray` of shape `(n,)`: the predictions mapped to the label scale.

    Example:
        ```python
        >>> import numpy as np
        >>> x = np.linspace(-3, 3, 50)
        >>> y = logistic4(x, 4.5, 1.2, 0.3, 0.8)
        >>> bool(np.allclose(fit_logistic4(x, y), y, atol=1e-6))
        True
        ```
    """
    return fit_function(predictions, references, "logistic4")(predictions)


def _as_vector(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` must be a sequence of numbers: {error}") from error
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"`{name}` must be one score per sample (a 1-D sequence), got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` holds {int((~np.isfinite(array)).sum())} NaN or infinite values.")
    return array


def compute_vqa_metrics(
    predictions: Sequence[float] | np.ndarray,
    references: Sequence[float] | np.ndarray,
    fit: str = "none",
) -> dict[str, float]:
    """Compute SROCC, PLCC, KROCC and RMSE between predicted and ground-truth quality scores.

    Args:
        predictions (`Sequence[float]` or `np.ndarray`): one predicted score per video.
        references (`Sequence[float]` or `np.ndarray`): one ground-truth score (MOS) per video, same order.
        fit (`str`, *optional*, defaults to `"none"`): the mapping applied to the predictions before PLCC and RMSE;
            one of `"none"`, `"logistic4"` (alias `"logistic"`), `"logistic5"`, `"rescale"` (see the module
            docstring).

    Returns:
        `dict[str, float]`: `{"srocc", "plcc", "krocc", "rmse"}`. RMSE is on the label scale.

    Raises:
        ValueError: if `fit` is unknown, the lengths differ, there are fewer than 2 samples (4 for `"logistic4"`),
            a value is NaN or infinite, or the references are constant (every correlation is then undefined).

    Constant predictions (an untrained or collapsed model) are not an error: SROCC, PLCC and KROCC are then NaN,
    since a correlation with a constant is undefined, and RMSE is that of the raw predictions for `"none"` and of
    the best constant, the labels' mean, for the two fits.

    Example:
        ```python
        >>> from qclip_hf.metrics import compute_vqa_metrics
        >>> scores = compute_vqa_metrics([0.1, 0.4, 0.35, 0.8], [1.0, 2.0, 3.0, 4.0], fit="rescale")
        >>> round(scores["srocc"], 3), round(scores["plcc"], 3)
        (0.8, 0.913)
        ```
    """
    if fit not in FIT_METHODS:
        raise ValueError(f"`fit` must be one of {', '.join(map(repr, FIT_METHODS))}, got {fit!r}.")
    fit = _FIT_ALIASES.get(fit, fit)
    predictions = _as_vector(predictions, "predictions")
    references = _as_vector(references, "references")
    if predictions.shape != references.shape:
        raise ValueError(
            f"`predictions` and `references` must have the same length, got {len(predictions)} and {len(references)}."
        )
    min_samples = _LOGISTIC_MIN_SAMPLES.get(fit, 2)
    if len(predictions) < min_samples:
        raise ValueError(
            f"At least {min_samples} samples are needed to compute the VQA metrics with fit={fit!r}, "
            f"got {len(predictions)}."
        )
    if np.ptp(references) == 0:
        raise ValueError("`references` are all equal: SROCC, PLCC and KROCC are undefined for constant labels.")

    if np.ptp(predictions) == 0:
        fitted = predictions if fit == "none" else np.full_like(references, references.mean())
        rmse = float(np.sqrt(np.mean((fitted - references) ** 2)))
        return {"srocc": math.nan, "plcc": math.nan, "krocc": math.nan, "rmse": rmse}

    fitted = fit_function(predictions, references, fit)(predictions)

    # A logistic fit can saturate to a constant when predictions and labels are unrelated.
    if np.ptp(fitted) == 0:
        plcc = math.nan
    else:
        plcc = float(stats.pearsonr(fitted, references)[0])
    return {
        "srocc": float(stats.spearmanr(predictions, references)[0]),
        "plcc": plcc,
        "krocc": float(stats.kendalltau(predictions, references)[0]),
        "rmse": float(np.sqrt(np.mean((fitted - references) ** 2))),
    }

"""Fitting a [`Calibration`]: raw scores and their MOS -> the monotonic map, chosen by a documented rule.

Two kinds of map:

- `"logistic4"`: the VQEG 4-parameter logistic the field fits before PLCC / RMSE (`qclip_hf.metrics`'
  `logistic4_parameters`, the same least-squares fit the metrics use);
- `"isotonic"`: the least-squares monotonic fit (pool-adjacent-violators), kept as a piecewise-linear map through
  the centres of its blocks, so it is strictly monotonic between its first and last knot.

`kind="auto"` (the default) chooses by this rule: the logistic, unless there are at least `ISOTONIC_MIN_POINTS`
(20) points and the isotonic map's RMSE in a 5-fold cross-validation (folds interleaved along the score order) is
more than 5 % lower than the logistic's — an isotonic map always fits its own points at least as well (it is the
best monotonic fit), so only held-out error can say it fits better. The isotonic map is also used when the logistic
fit does not converge, is flat, or saturates into a step that would give different scores the same MOS. Either map
keeps the order of every score it was fitted on (SROCC unchanged). What was compared is saved in
`Calibration.choice`.

Example:
    ```python
    >>> import numpy as np
    >>> from qclip_hf.calibration import fit_calibration
    >>> scores = np.linspace(-0.05, 0.05, 40)
    >>> mos = 3 + 2 * np.tanh(40 * scores)
    >>> calibration = fit_calibration(scores, mos, mos_range=(1, 5))
    >>> calibration.kind, calibration.fit["n"]
    ('logistic4', 40)
    ```
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .mapping import DEFAULT_LEVEL_NAMES, KINDS, Calibration, CalibrationError

FIT_KINDS = ("auto", *KINDS)
MIN_POINTS = 5  # the logistic has 4 parameters: one point more than that, at the very least
ISOTONIC_MIN_POINTS = 20
CV_FOLDS = 5
ISOTONIC_MARGIN = 0.95  # the isotonic map must cut the cross-validated RMSE by more than 5 %
CHOICE_RULE = (f"logistic4 unless n >= {ISOTONIC_MIN_POINTS} and the isotonic map's {CV_FOLDS}-fold cross-validated "
               f"RMSE is below {ISOTONIC_MARGIN:g} x the logistic's (or the logistic fails)")


def check_points(scores: Sequence[float] | np.ndarray, mos: Sequence[float] | np.ndarray,
                 what: str = "the calibration data") -> tuple[np.ndarray, np.ndarray]:
    """The `(scores, mos)` arrays, checked: same length, finite, at least `MIN_POINTS`, neither constant.

    Raises:
        [`CalibrationError`]: naming the problem in `what` and what to do.
    """
    x = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(mos, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise CalibrationError(f"{what} has {len(x)} scores but {len(y)} MOS values", "give one MOS per score")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise CalibrationError(f"{what} has {int(bad.sum())} NaN or infinite scores or MOS values",
                               "remove those videos or fix their labels")
    if len(x) < MIN_POINTS:
        raise CalibrationError(f"{what} has {len(x)} labelled videos; a calibration needs at least {MIN_POINTS}",
                               "label more videos (a few dozen spread over the quality range fit a usable map)")
    if np.ptp(y) == 0:
        raise CalibrationError(f"{what}: every MOS is {y[0]:g}, so there is no scale to map the scores to",
                               "label videos of different quality")
    if np.ptp(x) == 0:
        raise CalibrationError(f"{what}: every score is {x[0]:g} (the model does not tell these videos apart)",
                               "check that the results come from a trained model and from different videos")
    return x, y


def isotonic_knots(scores: np.ndarray, mos: np.ndarray, increasing: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: the knots `(scores, mos)` of the least-squares monotonic fit.

    Equal scores are pooled first; adjacent blocks are merged while they are not strictly monotonic, so the knots'
    MOS are strictly increasing (or decreasing). Each knot sits at its block's mean score, except the first and the
    last, which sit at the lowest and the highest score: interpolating between the knots keeps every fitted score's
    rank.

    Example:
        ```python
        >>> xs, ys = isotonic_knots(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), np.array([1.0, 3.0, 2.0, 4.0, 3.8]))
        >>> xs.tolist(), ys.tolist()
        ([0.0, 1.5, 4.0], [1.0, 2.5, 3.9])
        ```
    """
    unique, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    sign = 1.0 if increasing else -1.0
    means = np.bincount(inverse, weights=sign * mos) / counts
    # Blocks: [sum of score * weight, sum of mos * weight, weight]; merge while the last two are not increasing.
    blocks: list[list[float]] = []
    for x, y, w in zip(unique.tolist(), means.tolist(), counts.tolist(), strict=True):
        blocks.append([x * w, y * w, float(w)])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            blocks[-1] = [a + b for a, b in zip(blocks[-1], last, strict=True)]
    knots = np.array(blocks)
    knots_x, knots_y = knots[:, 0] / knots[:, 2], sign * knots[:, 1] / knots[:, 2]
    if len(knots_x) > 1:
        # The end knots move to the lowest and highest score, so the map is strictly monotonic over every score it
        # was fitted on (no ties: ranks, hence SROCC, are kept); beyond them it is constant.
        knots_x[0], knots_x[-1] = unique[0], unique[-1]
    return knots_x, knots_y


def _fit_kind(kind: str, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The parameters of one kind of map (`RuntimeError` / `ValueError` when it cannot be fitted)."""
    if kind == "logistic4":
        from ..metrics.compute import logistic4_parameters

        b1, b2, b3, b4 = (float(v) for v in logistic4_parameters(x, y))
        parameters = {"b1": b1, "b2": b2, "b3": b3, "b4": abs(b4)}
        if not keeps_order(_map(kind, parameters, x), x):
            raise ValueError("the logistic saturates into a step: it would give different scores the same MOS")
        return parameters
    rho = _spearman(x, y)
    knots_x, knots_y = isotonic_knots(x, y, increasing=not rho < 0)
    if len(knots_x) < 2:
        raise ValueError("the best monotonic fit is a constant: the scores do not rank these MOS")
    return {"scores": knots_x.tolist(), "mos": knots_y.tolist()}


def keeps_order(mapped: np.ndarray, scores: np.ndarray) -> bool:
    """Whether `mapped` orders the videos exactly as `scores` (or exactly reversed): distinct scores stay distinct."""
    order = np.argsort(scores, kind="stable")
    distinct = np.diff(scores[order]) > 0
    steps = np.diff(mapped[order])[distinct]
    return bool(np.all(steps > 0) or np.all(steps < 0))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy import stats

    rho = float(stats.spearmanr(x, y)[0])
    return 0.0 if math.isnan(rho) else rho


def _map(kind: str, parameters: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    if kind == "logistic4":
        from ..metrics.compute import logistic4

        return logistic4(x, parameters["b1"], parameters["b2"], parameters["b3"], parameters["b4"])
    return np.interp(x, parameters["scores"], parameters["mos"])


def cross_validated_rmse(kind: str, x: np.ndarray, y: np.ndarray, folds: int = CV_FOLDS) -> float:
    """RMSE of `kind`'s map on held-out points: `folds` folds interleaved along the score order (each fold spans
    the whole range); `inf` when a fold cannot be fitted."""
    order = np.argsort(x, kind="stable")
    fold_of = np.empty(len(x), dtype=np.int64)
    fold_of[order] = np.arange(len(x)) % folds
    predicted = np.empty(len(x))
    for fold in range(folds):
        held = fold_of == fold
        try:
            parameters = _fit_kind(kind, x[~held], y[~held])
        except (RuntimeError, ValueError):
            return math.inf
        predicted[held] = _map(kind, parameters, x[held])
    return float(np.sqrt(np.mean((predicted - y) ** 2)))


def _choose(x: np.ndarray, y: np.ndarray) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """`(kind, parameters, choice)` by the rule in the module docstring."""
    choice: dict[str, Any] = {"rule": CHOICE_RULE}
    try:
        logistic = _fit_kind("logistic4", x, y)
    except (RuntimeError, ValueError) as error:
        choice["reason"] = f"the logistic fit failed ({error}): isotonic"
        return "isotonic", _fit_kind("isotonic", x, y), choice
    if len(x) < ISOTONIC_MIN_POINTS:
        choice["reason"] = f"{len(x)} points (< {ISOTONIC_MIN_POINTS}): logistic4"
        return "logistic4", logistic, choice
    cv = {kind: cross_validated_rmse(kind, x, y) for kind in KINDS}
    choice["cv_rmse"] = cv
    if cv["isotonic"] < ISOTONIC_MARGIN * cv["logistic4"]:
        choice["reason"] = "isotonic: lower cross-validated RMSE by more than 5 %"
        return "isotonic", _fit_kind("isotonic", x, y), choice
    choice["reason"] = "logistic4: the isotonic map does not fit held-out points clearly better"
    return "logistic4", logistic, choice


def fit_calibration(
    scores: Sequence[float] | np.ndarray,
    mos: Sequence[float] | np.ndarray,
    *,
    kind: str = "auto",
    mos_range: tuple[float, float] | None = None,
    higher_is_better: bool = True,
    level_names: Sequence[str] | None = None,
    data: Mapping[str, Any] | None = None,
) -> Calibration:
    """Fit the map from raw scores to MOS on labelled videos.

    Args:
        scores (`Sequence[float]`): the model's raw scores.
        mos (`Sequence[float]`): the MOS of the same videos, on the scale the calibration maps to.
        kind (`str`, *optional*, defaults to `"auto"`): `"auto"` (the rule in the module docstring),
            `"logistic4"` or `"isotonic"`.
        mos_range (`tuple[float, float]`, *optional*): the MOS scale's `(low, high)`, which the level bands cut
            (default: the lowest and highest MOS given — pass the scale, e.g. `(1, 5)`, when the labels do not
            reach its ends).
        higher_is_better (`bool`, *optional*, defaults to `True`): `False` for a DMOS-like scale.
        level_names (`Sequence[str]`, *optional*): the model's levels, best first (default excellent ... bad).
        data (`dict`, *optional*): what the videos are (set name, split, epoch, ...), saved as provenance; `size`
            is filled in.

    Returns:
        [`Calibration`] with `fit` (n, SROCC, PLCC, KROCC and RMSE of the calibrated MOS against `mos`).

    Raises:
        [`CalibrationError`]: fewer than 5 points, constant MOS or scores, NaN values, or no monotonic relation.
        `ValueError`: an unknown `kind` or a bad `mos_range`.

    Example:
        ```python
        >>> calibration = fit_calibration(scores, mos, mos_range=(1, 5), data={"set": "my-videos"})  # doctest: +SKIP
        >>> calibration.save("my-qclip")  # doctest: +SKIP
        ```
    """
    if kind not in FIT_KINDS:
        raise ValueError(f"calibration kind must be one of {', '.join(map(repr, FIT_KINDS))}, got {kind!r}")
    x, y = check_points(scores, mos)
    if kind == "auto":
        kind, parameters, choice = _choose(x, y)
    else:
        try:
            parameters = _fit_kind(kind, x, y)
        except (RuntimeError, ValueError) as error:
            raise CalibrationError(f"the {kind} map cannot be fitted to these {len(x)} videos ({error})",
                                   "try --kind auto, or label more videos") from error
        choice = {"rule": f"kind={kind} requested"}
    if mos_range is None:
        mos_range = (float(y.min()), float(y.max()))
    info = {**(data or {}), "size": int(len(x))}
    try:
        calibration = Calibration(kind, parameters, mos_range=tuple(mos_range), higher_is_better=higher_is_better,
                                  level_names=tuple(level_names or DEFAULT_LEVEL_NAMES), data=info, choice=choice)
    except ValueError as error:  # e.g. a logistic that came out flat
        if kind != "logistic4" or "flat" not in str(error):
            raise
        parameters = _fit_kind("isotonic", x, y)
        calibration = Calibration("isotonic", parameters, mos_range=tuple(mos_range),
                                  higher_is_better=higher_is_better,
                                  level_names=tuple(level_names or DEFAULT_LEVEL_NAMES), data=info,
                                  choice={**choice, "reason": "the logistic fit is flat: isotonic"})
    return _with_fit(calibration, x, y)


def fit_figures(calibration: Calibration, scores: np.ndarray, mos: np.ndarray) -> dict[str, Any]:
    """`{"n", "srocc", "plcc", "krocc", "rmse"}` of the calibrated MOS against `mos` (RMSE in MOS units)."""
    from ..metrics.compute import compute_vqa_metrics

    figures = compute_vqa_metrics(calibration.mos(scores), mos, fit="none")
    return {"n": int(len(scores)), **{k: float(v) for k, v in figures.items()}}


def _with_fit(calibration: Calibration, x: np.ndarray, y: np.ndarray) -> Calibration:
    from dataclasses import replace

    return replace(calibration, fit=fit_figures(calibration, x, y))


__all__ = ["CHOICE_RULE", "FIT_KINDS", "ISOTONIC_MIN_POINTS", "MIN_POINTS", "check_points", "cross_validated_rmse",
           "fit_calibration", "fit_figures", "isotonic_knots"]

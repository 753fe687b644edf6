"""Training losses for quality regression: the DOVER / FAST-VQA losses the Q-CLIP reference release trains with.

The reference recipe is `plcc_loss + 0.3 * rank_loss`. Both losses are batch-level: they compare every prediction
with the rest of the batch, so a batch must hold at least 2 samples. `QualityLoss(..., single_sample="zero")` gives
the release's behaviour instead: a batch of one sample has loss 0 with a zero gradient (the optimizer still steps).
Under DDP, `training/train.py` computes these losses on the gathered global batch, not per process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "LOSS_NAMES", "SINGLE_SAMPLE_MODES", "SHIFT_INVARIANT_LOSSES", "DEFAULT_RANK_WEIGHT",
    "plcc_loss", "rank_loss", "mse_loss", "QualityLoss", "build_loss",
]

LOSS_NAMES = ("plcc", "rank", "mse")
# The reference release weighs the ranking term by 0.3 when it is added to the PLCC term.
DEFAULT_RANK_WEIGHT = 0.3
_EPS = 1e-8
# Epsilon guard of the PLCC loss: predictions whose population std is at most this fraction of (1 + |mean|) are
# treated as constant. Without it the gradient there is about 1 / _EPS in size (8.4e6 measured on 4 constant
# predictions) and points in an arbitrary direction; float32 noise on a constant is ~1e-7 of its size.
_CONSTANT_STD = 1e-6
SINGLE_SAMPLE_MODES = ("error", "zero")
# Terms unchanged when a constant is added to every prediction: under a loss made only of these, a bias on the score
# gets no gradient, so the training script freezes it.
SHIFT_INVARIANT_LOSSES = ("plcc", "rank")
_TERM = re.compile(r"^(?:(?P<weight>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*\*\s*)?(?P<name>[a-z]+)$")


def _flatten_pair(
    predictions: torch.Tensor, labels: torch.Tensor, min_samples: int
) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(predictions, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise TypeError(
            f"`predictions` and `labels` must be torch tensors, got {type(predictions).__name__} and "
            f"{type(labels).__name__}."
        )
    # Models return (batch,) or (batch, 1); labels come as (batch,). Both are one score per sample.
    predictions = predictions.reshape(-1)
    labels = labels.reshape(-1).to(dtype=predictions.dtype, device=predictions.device)
    if predictions.numel() != labels.numel():
        raise ValueError(
            f"`predictions` and `labels` must hold one score per sample, got {predictions.numel()} predictions and "
            f"{labels.numel()} labels."
        )
    if predictions.numel() < min_samples:
        raise ValueError(
            f"`predictions` must hold at least {min_samples} samples for this batch-level loss, got "
            f"{predictions.numel()}. Drop singleton batches (`drop_last=True`) or use `mse_loss`."
        )
    return predictions, labels


def plcc_loss(predictions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The PLCC loss of DOVER / FAST-VQA, as released with Q-CLIP.

    Predictions and labels are z-scored with the population standard deviation (`eps = 1e-8` added to it), then
    `rho = mean(zp * zl)` and `loss = (mse(zp, zl) / 4 + mse(rho * zp, zl) / 4) / 2`. It is 0 for predictions that
    are a positive affine map of the labels and 0.5 for a negative one.

    Constant predictions (std at most `1e-6 * (1 + |mean|)`, the epsilon guard) carry no ordering: the loss is then
    `mean(zl ** 2) / 4` (0.25 for non-constant labels, 0 for a single sample) with a zero gradient. Without the guard
    the formula's gradient there is about `1 / eps` in size (8.4e6 measured for 4 constant predictions). Batches with
    a real spread are unaffected, so the value matches the release's formula wherever that one is well defined.

    Args:
        predictions (`torch.Tensor` of shape `(batch,)` or `(batch, 1)`): predicted quality scores.
        labels (`torch.Tensor` of the same number of elements): ground-truth quality scores (MOS).

    Returns:
        `torch.Tensor`: a float32 scalar.

    Raises:
        ValueError: if the batch holds fewer than 2 samples or the sizes differ.

    Example:
        ```python
        >>> import torch
        >>> from qclip_hf.losses import plcc_loss
        >>> labels = torch.tensor([1.0, 2.0, 3.0, 4.0])
        >>> round(plcc_loss(2 * labels + 1, labels).item(), 6)
        0.0
        >>> round(plcc_loss(-labels, labels).item(), 6)
        0.5
        ```
    """
    predictions, labels = _flatten_pair(predictions, labels, min_samples=2)
    sigma, m = torch.std_mean(labels, correction=0)
    zl = (labels - m) / (sigma + _EPS)
    return _plcc_loss_of_zscored_labels(predictions, zl)


def _plcc_loss_of_zscored_labels(predictions: torch.Tensor, zl: torch.Tensor) -> torch.Tensor:
    sigma_hat, m_hat = torch.std_mean(predictions, correction=0)
    if sigma_hat.item() <= _CONSTANT_STD * (1.0 + abs(m_hat.item())):
        # The epsilon guard (see the docstring): keep the graph so backward gives exact zeros.
        return (torch.mean(zl**2) / 4 + 0.0 * predictions.sum()).float()
    zp = (predictions - m_hat) / (sigma_hat + _EPS)
    loss0 = F.mse_loss(zp, zl) / 4
    rho = torch.mean(zp * zl)
    loss1 = F.mse_loss(rho * zp, zl) / 4
    return ((loss0 + loss1) / 2).float()


def rank_loss(predictions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The pairwise ranking loss of DOVER / FAST-VQA, as released with Q-CLIP.

    `r_ij = relu((p_i - p_j) * sign(l_j - l_i))` penalises every pair ranked against its labels by the size of the
    inversion; `loss = sum(r) / (n (n - 1)) / (1 + max(r))`. Pairs with equal labels contribute nothing. The
    normalisation by `1 + max(r)` (not detached, as released) keeps the loss below 1 whatever the score scale.

    Args:
        predictions (`torch.Tensor` of shape `(batch,)` or `(batch, 1)`): predicted quality scores.
        labels (`torch.Tensor` of the same number of elements): ground-truth quality scores (MOS).

    Returns:
        `torch.Tensor`: a float32 scalar, 0 when the predictions are ordered like the labels.

    Raises:
        ValueError: if the batch holds fewer than 2 samples or the sizes differ.

    Example:
        ```python
        >>> import torch
        >>> from qclip_hf.losses import rank_loss
        >>> labels = torch.tensor([1.0, 2.0, 3.0])
        >>> rank_loss(labels, labels).item()
        0.0
        >>> round(rank_loss(torch.tensor([2.0, 1.0, 3.0]), labels).item(), 6)  # one pair swapped by 1
        0.166667
        ```
    """
    predictions, labels = _flatten_pair(predictions, labels, min_samples=2)
    n = predictions.numel()
    p = predictions.unsqueeze(1)
    y = labels.unsqueeze(1)
    # Entry [i, j] = (p_i - p_j) * sign(l_j - l_i): positive exactly when the pair is inverted.
    ranking = F.relu((p - p.t()) * torch.sign(y.t() - y))
    scale = 1 + torch.max(ranking)
    return (torch.sum(ranking) / n / (n - 1) / scale).float()


def mse_loss(predictions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean squared error between predicted and ground-truth scores, on the labels' own scale.

    Unlike the batch-level losses it is defined for a batch of 1.

    Args:
        predictions (`torch.Tensor` of shape `(batch,)` or `(batch, 1)`): predicted quality scores.
        labels (`torch.Tensor` of the same number of elements): ground-truth quality scores.

    Returns:
        `torch.Tensor`: a float32 scalar.

    Example:
        ```python
        >>> import torch
        >>> from qclip_hf.losses import mse_loss
        >>> mse_loss(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 2.0])).item()
        1.0
        ```
    """
    predictions, labels = _flatten_pair(predictions, labels, min_samples=1)
    return F.mse_loss(predictions, labels).float()


_LOSS_FUNCTIONS = {"plcc": plcc_loss, "rank": rank_loss, "mse": mse_loss}


class QualityLoss(nn.Module):
    """A weighted sum of the quality losses, `sum_k w_k * loss_k(predictions, labels)`.

    Args:
        weights (`Mapping[str, float]`): loss name (one of `"plcc"`, `"rank"`, `"mse"`) to its weight.
        single_sample (`str`, *optional*, defaults to `"error"`): what the batch-level terms (`plcc`, `rank`) do
            with a batch of one sample: `"error"` raises; `"zero"` gives 0 with a zero gradient, as the reference
            release's training loop does for its last batch (`mse` is always computed).

    Example:
        ```python
        >>> import torch
        >>> from qclip_hf.losses import QualityLoss
        >>> loss_fn = QualityLoss({"plcc": 1.0, "rank": 0.3})
        >>> labels = torch.tensor([1.0, 2.0, 3.0, 4.0])
        >>> round(loss_fn(labels * 2, labels).item(), 6)
        0.0
        >>> loss_fn
        QualityLoss(plcc + 0.3*rank)
        ```
    """

    def __init__(self, weights: Mapping[str, float], single_sample: str = "error"):
        super().__init__()
        if single_sample not in SINGLE_SAMPLE_MODES:
            raise ValueError(f"`single_sample` must be one of {SINGLE_SAMPLE_MODES}, got {single_sample!r}.")
        self.single_sample = single_sample
        if not isinstance(weights, Mapping) or len(weights) == 0:
            raise ValueError(f"`weights` must be a non-empty mapping of loss names in {LOSS_NAMES} to weights.")
        checked: dict[str, float] = {}
        for name, weight in weights.items():
            if name not in _LOSS_FUNCTIONS:
                raise ValueError(f"Unknown loss term {name!r} in `weights`; allowed: {', '.join(LOSS_NAMES)}.")
            weight = float(weight)
            if not weight > 0 or weight == float("inf"):
                raise ValueError(f"The weight of loss term {name!r} must be a finite positive number, got {weight}.")
            checked[name] = weight
        self.weights = checked

    def forward(self, predictions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        total = None
        single = self.single_sample == "zero" and isinstance(predictions, torch.Tensor) and predictions.numel() == 1
        for name, weight in self.weights.items():
            if single and name != "mse":
                term = (0.0 * predictions.sum()).float()  # the release's value for a batch of one, zero gradient
            else:
                term = _LOSS_FUNCTIONS[name](predictions, labels)
            term = term if weight == 1.0 else weight * term
            total = term if total is None else total + term
        return total

    @property
    def name(self) -> str:
        """The canonical spec string, e.g. `"plcc+0.3*rank"`, that `build_loss` parses back into this loss."""
        return "+".join(name if weight == 1.0 else f"{weight:g}*{name}" for name, weight in self.weights.items())

    def extra_repr(self) -> str:
        return self.name.replace("+", " + ")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def build_loss(name: str, rank_weight: float = DEFAULT_RANK_WEIGHT, single_sample: str = "error") -> QualityLoss:
    """Build a `QualityLoss` from a spec string such as `"plcc+rank"`.

    A spec is one or more terms joined by `+`; a term is a loss name (`plcc`, `rank`, `mse`), optionally with an
    explicit weight as `0.5*rank`. A single term has weight 1. In a sum, terms without an explicit weight have
    weight 1, except `rank`, which gets `rank_weight` (0.3, as the reference release's `plcc_loss + 0.3 * rank_loss`).

    Args:
        name (`str`): the loss spec, e.g. `"plcc"`, `"rank"`, `"mse"`, `"plcc+rank"`, `"plcc+mse"`, `"plcc+1*rank"`.
        rank_weight (`float`, *optional*, defaults to 0.3): the default weight of `rank` inside a sum.
        single_sample (`str`, *optional*, defaults to `"error"`): see [`QualityLoss`].

    Returns:
        `QualityLoss`

    Raises:
        ValueError: on an unknown or repeated term, a malformed spec or a non-positive weight.

    Example:
        ```python
        >>> from qclip_hf.losses import build_loss
        >>> build_loss("plcc+rank").weights
        {'plcc': 1.0, 'rank': 0.3}
        >>> build_loss("rank").weights
        {'rank': 1.0}
        >>> build_loss("plcc+0.5*rank+mse").weights
        {'plcc': 1.0, 'rank': 0.5, 'mse': 1.0}
        ```
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(
            f"`loss` must be a non-empty string such as 'plcc+rank'; allowed terms: {', '.join(LOSS_NAMES)}."
        )
    rank_weight = float(rank_weight)
    if not rank_weight > 0 or rank_weight == float("inf"):
        raise ValueError(f"`rank_weight` must be a finite positive number, got {rank_weight}.")
    parts = [part.strip() for part in name.lower().split("+")]
    weights: dict[str, float] = {}
    for part in parts:
        match = _TERM.match(part)
        if match is None or match["name"] not in _LOSS_FUNCTIONS:
            raise ValueError(
                f"Invalid term {part!r} in loss {name!r}: expected a loss name optionally prefixed by a weight "
                f"('0.3*rank'); allowed names: {', '.join(LOSS_NAMES)}."
            )
        term = match["name"]
        if term in weights:
            raise ValueError(f"Loss term {term!r} appears twice in loss {name!r}.")
        if match["weight"] is not None:
            weights[term] = float(match["weight"])
        elif term == "rank" and len(parts) > 1:
            weights[term] = rank_weight
        else:
            weights[term] = 1.0
    return QualityLoss(weights, single_sample=single_sample)

"""The seven frame-sampling strategies of the Q-CLIP paper, a registry by name, and `Mixed`.

The paper names the strategies (its Fig. 4) but their exact definitions are in an appendix that is not
public. Each docstring below gives the definition used here and why; docs/video.md collects them.

Common contract of every strategy::

    strategy(num_frames, num_samples, *, motion=None, rng=None) -> np.ndarray  # int64, shape (num_samples,)

- indices are in `[0, num_frames)` and sorted in time (the model mean-pools frames, but sorted frames keep
  any temporal model and the saved frames readable);
- `motion` is the per-frame motion profile (:mod:`qclip_hf.video.motion`, length `num_frames`), required by
  the MSE-driven strategies and ignored by the others;
- `rng` is a `numpy.random.Generator` or an int seed; `None` means seed 0, so a call without `rng` (eval) always
  gives the same frames for the same video;
- **short videos**: when `num_frames < num_samples`, every strategy returns the reference release's uniform
  indices `round(linspace(0, num_frames - 1, num_samples))` (numpy's round-half-to-even, as the release's
  `datasets/vqa_datasets.py` computes them): each frame in time order, repeated (e.g. 3 frames, 8 samples ->
  0 0 1 1 1 1 2 2; 7 frames -> 0 1 2 3 3 4 5 6; 1 frame -> eight 0s).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np


class SamplingStrategy(Protocol):
    """Signature shared by the strategies (see the module docstring)."""

    __name__: str
    requires_motion: bool

    def __call__(
        self,
        num_frames: int,
        num_samples: int,
        *,
        motion: Sequence[float] | np.ndarray | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> np.ndarray: ...


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """`rng` as a Generator: an int seeds a new one, `None` is seed 0 (the eval-mode default)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _check_counts(num_frames: int, num_samples: int) -> None:
    for name, value in (("num_frames", num_frames), ("num_samples", num_samples)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def short_video_indices(num_frames: int, num_samples: int) -> np.ndarray:
    """Deterministic repetition rule for videos with fewer frames than requested: the release's uniform formula.

    Example:

    ```python
    >>> short_video_indices(3, 8).tolist()
    [0, 0, 1, 1, 1, 1, 2, 2]
    ```
    """
    return np.round(np.linspace(0, num_frames - 1, num_samples)).astype(np.int64)


def _check_motion(motion: Sequence[float] | np.ndarray | None, num_frames: int, strategy: str) -> np.ndarray:
    if motion is None:
        raise ValueError(f"{strategy} needs the motion profile: pass motion=compute_motion_profile(video)")
    profile = np.asarray(motion, dtype=np.float64).reshape(-1)
    if profile.shape[0] != num_frames:
        raise ValueError(f"{strategy}: motion has {profile.shape[0]} values but the video has {num_frames} frames")
    if not np.all(np.isfinite(profile)):
        raise ValueError(f"{strategy}: motion contains non-finite values")
    return profile


def _segment_bounds(num_frames: int, num_samples: int) -> np.ndarray:
    """`num_samples + 1` boundaries of equal temporal segments (each non-empty when num_frames >= num_samples)."""
    return (np.arange(num_samples + 1, dtype=np.int64) * num_frames) // num_samples


def RandSampl(num_frames: int, num_samples: int, *, motion=None, rng=None) -> np.ndarray:  # noqa: N802
    """Random sampling: `num_samples` distinct frames drawn uniformly without replacement, sorted in time.

    The paper's baseline of pure chance: no temporal coverage guarantee, maximal diversity across epochs.
    """
    _check_counts(num_frames, num_samples)
    if num_frames < num_samples:
        return short_video_indices(num_frames, num_samples)
    picks = as_generator(rng).choice(num_frames, size=num_samples, replace=False)
    return np.sort(picks).astype(np.int64)


def UNISampl(num_frames: int, num_samples: int, *, motion=None, rng=None) -> np.ndarray:  # noqa: N802
    """Uniform sampling: `round(linspace(0, num_frames - 1, num_samples))`, first and last frame included.

    Exactly the reference release's sampler (the only one it ships), hence the eval default. Needs no motion
    profile and only `num_samples` frames, so it is decoded by seeking (or one pass for long keyframe intervals).
    """
    _check_counts(num_frames, num_samples)
    if num_frames < num_samples:
        return short_video_indices(num_frames, num_samples)
    return np.round(np.linspace(0, num_frames - 1, num_samples)).astype(np.int64)


def UNIRandStart(num_frames: int, num_samples: int, *, motion=None, rng=None) -> np.ndarray:  # noqa: N802
    """Uniform with a random start: a fixed stride `num_frames / num_samples`, one random offset for all.

    `index_i = floor(i * L + o)` with `L = num_frames / num_samples`, `o ~ U[0, L)`. The name says "uniform,
    random start": the spacing stays uniform (same temporal coverage as UNISampl) while the phase varies
    between epochs, a temporal analogue of random cropping.
    """
    _check_counts(num_frames, num_samples)
    if num_frames < num_samples:
        return short_video_indices(num_frames, num_samples)
    step = num_frames / num_samples
    offset = as_generator(rng).uniform(0.0, step)
    picks = np.floor(np.arange(num_samples) * step + offset).astype(np.int64)
    return np.minimum(picks, num_frames - 1)


def MSESortedUNI(num_frames: int, num_samples: int, *, motion=None, rng=None) -> np.ndarray:  # noqa: N802
    """Uniform over the motion ranking: sort frames by motion score, take `num_samples` evenly spaced ranks.

    Frames are ranked by their eq. 13 score (stable sort, ties by time); the ranks
    `round(linspace(0, num_frames - 1, num_samples))` are taken and the chosen frames sorted in time. The
    name reads "MSE-sorted, then UNIform": the selection spans the video's range of motion levels (stillest to
    most agitated frame) instead of its range of time, so short bursts of motion are represented.
    """
    _check_counts(num_frames, num_samples)
    profile = _check_motion(motion, num_frames, "MSESortedUNI")
    if num_frames < num_samples:
        return short_video_indices(num_frames, num_samples)
    order = np.argsort(profile, kind="stable")
    ranks = np.round(np.linspace(0, num_frames - 1, num_samples)).astype(np.int64)
    return np.sort(order[ranks]).astype(np.int64)


def _segment_pick(profile: np.ndarray, num_samples: int, statistic: str) -> np.ndarray:
    bounds = _segment_bounds(profile.shape[0], num_samples)
    picks = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        segment = profile[start:end]
        if statistic == "mean":
            # Closest to the segment mean; argmin returns the earliest frame on ties.
            local = int(np.argmin(np.abs(segment - segment.mean())))
        else:
            # The (lower) median element itself, so the pick is an actual frame of median motion.
            local = int(np.argsort(segment, kind="stable")[(segment.shape[0] - 1) // 2])
        picks.append(start + local)
    return np.asarray(picks, dtype=np.int64)


def SegMSEMean(num_frames: int, num_samples: int, *, motion=None, rng=None) -> np.ndarray:  # noqa: N802
    """Per segment, the frame whose motion is closest to the segment's mean motion.

    The video is cut into `num_samples` equal temporal segments (boundaries `floor(i * N / num_samples)`);
    from each, the frame minimising `|m_i - mean(m_segment)|` (earliest on ties). Keeps UNISampl's temporal
    coverage but, within a segment, picks a frame typical of its average motion rather than a fixed phase.
    """
    _check_counts(num_frames, num_samples)
    profile = _check_motion(motion, num_frames, "SegMSEMean")
    if num_frames < num_samples:
        return short_video_indices(num_frames, num_samples)
    return _segment_pick(profile, num_samples, "mean")


def SegMSEMedian(num_frames: int, num_samples: int, *, motion=None, rng=None) -> np.ndarray:  # noqa: N802
    """Per segment, the frame of median motion (the lower median element of the segment's scores).

    Same segments as SegMSEMean; the median is robust to a short burst inside a segment (a burst pulls the
    mean, and so SegMSEMean's pick, towards agitated frames; the median stays with the segment's majority).
    """
    _check_counts(num_frames, num_samples)
    profile = _check_motion(motion, num_frames, "SegMSEMedian")
    if num_frames < num_samples:
        return short_video_indices(num_frames, num_samples)
    return _segment_pick(profile, num_samples, "median")


for _fn, _needs in (
    (RandSampl, False),
    (UNISampl, False),
    (UNIRandStart, False),
    (MSESortedUNI, True),
    (SegMSEMean, True),
    (SegMSEMedian, True),
):
    _fn.requires_motion = _needs

SAMPLING_STRATEGIES: dict[str, Callable[..., np.ndarray]] = {
    fn.__name__: fn for fn in (RandSampl, UNISampl, UNIRandStart, MSESortedUNI, SegMSEMean, SegMSEMedian)
}
"""The six base strategies by name (`Mixed` draws among them)."""

STRATEGY_NAMES: tuple[str, ...] = (*SAMPLING_STRATEGIES, "Mixed")
"""All seven strategy names accepted by :func:`get_sampling_strategy` and `QClipVideoProcessor`."""


class Mixed:
    """Training-time mixture: each call draws one strategy from `strategies` (with `weights`), then applies it.

    In eval (`training=False`) it always uses `eval_strategy`, so scores are reproducible. The draw and the
    drawn strategy's own randomness both come from `rng`, so a seed fixes the whole selection. Use
    :meth:`choose` first when the caller wants to know whether a motion profile is needed for this draw.

    Args:
        strategies (`Sequence[str]`, *optional*): names among the six base strategies; all six by default.
        weights (`Sequence[float]`, *optional*): non-negative draw weights (normalised); uniform by default.
        eval_strategy (`str`, *optional*, defaults to `"UNISampl"`): strategy used when not training.

    Example:

    ```python
    >>> from qclip_hf.video.sampling import Mixed
    >>> mixed = Mixed(["RandSampl", "UNIRandStart"])
    >>> mixed(300, 8, rng=3, training=True).shape
    (8,)
    ```
    """

    __name__ = "Mixed"

    def __init__(
        self,
        strategies: Sequence[str] | None = None,
        weights: Sequence[float] | None = None,
        eval_strategy: str = "UNISampl",
    ) -> None:
        names = list(strategies) if strategies is not None else list(SAMPLING_STRATEGIES)
        if not names:
            raise ValueError("Mixed.strategies must not be empty")
        for name in [*names, eval_strategy]:
            if name not in SAMPLING_STRATEGIES:
                raise ValueError(f"Mixed: unknown strategy {name!r}; allowed: {list(SAMPLING_STRATEGIES)}")
        if weights is None:
            probs = np.full(len(names), 1.0 / len(names))
        else:
            probs = np.asarray(list(weights), dtype=np.float64)
            if probs.shape != (len(names),) or np.any(probs < 0) or probs.sum() <= 0:
                raise ValueError(
                    f"Mixed.weights must be {len(names)} non-negative numbers with a positive sum, got {weights!r}"
                )
            probs = probs / probs.sum()
        self.strategies, self.probabilities, self.eval_strategy = names, probs, eval_strategy

    @property
    def requires_motion(self) -> bool:
        """Whether some draw may need the motion profile."""
        return (
            any(SAMPLING_STRATEGIES[n].requires_motion for n in self.strategies)
            or SAMPLING_STRATEGIES[self.eval_strategy].requires_motion
        )

    def choose(self, rng: np.random.Generator | int | None = None, training: bool = True) -> Callable[..., np.ndarray]:
        """The strategy used for one sample (draws from `rng` when training)."""
        if not training:
            return SAMPLING_STRATEGIES[self.eval_strategy]
        generator = as_generator(rng)
        return SAMPLING_STRATEGIES[self.strategies[int(generator.choice(len(self.strategies), p=self.probabilities))]]

    def __call__(
        self, num_frames: int, num_samples: int, *, motion=None, rng=None, training: bool = True
    ) -> np.ndarray:
        generator = as_generator(rng)
        return self.choose(generator, training)(num_frames, num_samples, motion=motion, rng=generator)

    def __repr__(self) -> str:
        return f"Mixed(strategies={self.strategies}, weights={self.probabilities.tolist()}, eval_strategy={self.eval_strategy!r})"


def get_sampling_strategy(name: str, **mixed_kwargs: Any) -> Callable[..., np.ndarray] | Mixed:
    """Look a strategy up by name (case-insensitive); `"Mixed"` is built with `mixed_kwargs`.

    Example:

    ```python
    >>> from qclip_hf.video.sampling import get_sampling_strategy
    >>> get_sampling_strategy("unisampl")(300, 8).tolist()
    [0, 43, 85, 128, 171, 214, 256, 299]
    ```
    """
    lookup = {n.lower(): n for n in STRATEGY_NAMES}
    canonical = lookup.get(str(name).lower())
    if canonical is None:
        raise ValueError(f"unknown sampling strategy {name!r}; allowed: {list(STRATEGY_NAMES)}")
    if canonical == "Mixed":
        return Mixed(**mixed_kwargs)
    if mixed_kwargs:
        raise ValueError(f"options {sorted(mixed_kwargs)} only apply to the 'Mixed' strategy, not {canonical!r}")
    return SAMPLING_STRATEGIES[canonical]


def canonical_strategy_name(name: str) -> str:
    """The registered spelling of `name` (case-insensitive), or `ValueError` listing the allowed names."""
    lookup = {n.lower(): n for n in STRATEGY_NAMES}
    if str(name).lower() not in lookup:
        raise ValueError(f"unknown sampling strategy {name!r}; allowed: {list(STRATEGY_NAMES)}")
    return lookup[str(name).lower()]

"""Graded degradation ladders and the quality label derived from them.

Every degradation has levels `1..L`; level `k` has severity `s = k / L` in (0, 1], and the pristine clip has
severity 0. The label is a MOS-like score on the usual 1-5 scale:

    mos = 5 - 4 * impact[degradation] * s

so it falls linearly with the level, from 5 (pristine) to `5 - 4 * impact` at the top level. The impacts rank how
damaging the top level of each ladder is at the clip sizes this dataset uses (a 64 px clip encoded at CRF 51 is
destroyed; a 4-frame stutter leaves every frame sharp): crf 1.0, scale 0.9, noise 0.85, blur 0.8, stutter 0.6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = [
    "DEGRADATIONS",
    "IMPACT",
    "REFERENCE_CRF",
    "Degradation",
    "mos_for",
    "degradation_ladder",
    "apply_degradation",
]

DEGRADATIONS = ("crf", "scale", "blur", "noise", "stutter")
IMPACT = {"crf": 1.0, "scale": 0.9, "blur": 0.8, "noise": 0.85, "stutter": 0.6}
# Every clip is encoded at this near-transparent CRF except the CRF ladder, so each variant carries one artefact.
REFERENCE_CRF = 12
MAX_LEVELS = 5


@dataclass(frozen=True)
class Degradation:
    """One rung of a ladder: `name` ("none" for the pristine clip), `level` (0 for pristine), `severity` in [0, 1],
    and `parameter`, the physical setting (CRF value, downscale factor, blur sigma in px, noise std on 0-255, frames
    each kept frame is held for)."""

    name: str
    level: int
    severity: float
    parameter: float

    @property
    def mos(self) -> float:
        return mos_for(self.name, self.severity)

    @property
    def crf(self) -> int:
        return int(self.parameter) if self.name == "crf" else REFERENCE_CRF


def mos_for(name: str, severity: float) -> float:
    """The quality label of a clip: `5 - 4 * IMPACT[name] * severity`, rounded to 4 decimals.

    Example:
        ```python
        >>> mos_for("blur", 0.5)
        3.4
        ```
    """
    if name == "none":
        return 5.0
    if name not in IMPACT:
        raise ValueError(f"Unknown degradation {name!r}; allowed: none, {', '.join(DEGRADATIONS)}.")
    return round(5.0 - 4.0 * IMPACT[name] * severity, 4)


def _parameter(name: str, level: int, severity: float, size: int) -> float:
    if name == "crf":
        # CRF 51 is x264's worst; the ladder spans the visible range above the reference.
        return float(round(18 + 33 * severity))
    if name == "scale":
        return round(1 + 7 * severity, 4)
    if name == "blur":
        # Scaled with the frame so the ladder looks alike at 64 and 128 px.
        return round(severity * size / 20, 4)
    if name == "noise":
        return round(50 * severity, 4)
    # Stutter: hold each kept frame level + 1 frames (integer by nature, so it follows the level).
    return float(level + 1)


def degradation_ladder(names: tuple[str, ...], levels: int, size: int) -> list[Degradation]:
    """The pristine rung followed by `levels` rungs of each degradation in `names`.

    Example:
        ```python
        >>> [d.parameter for d in degradation_ladder(("crf",), levels=3, size=64)]
        [12.0, 29.0, 40.0, 51.0]
        ```
    """
    if not isinstance(levels, int) or not 1 <= levels <= MAX_LEVELS:
        raise ValueError(f"`levels` must be an integer in [1, {MAX_LEVELS}], got {levels!r}.")
    unknown = [name for name in names if name not in DEGRADATIONS]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(f"`degradations` must be distinct names from {', '.join(DEGRADATIONS)}, got {list(names)!r}.")
    ladder = [Degradation("none", 0, 0.0, float(REFERENCE_CRF))]
    for name in names:
        for level in range(1, levels + 1):
            severity = round(level / levels, 6)
            ladder.append(Degradation(name, level, severity, _parameter(name, level, severity, size)))
    return ladder


def apply_degradation(frames: np.ndarray, degradation: Degradation, rng: np.random.Generator) -> np.ndarray:
    """Apply the pixel-domain part of `degradation` to `(T, H, W, 3)` `uint8` frames.

    The CRF ladder is applied by the encoder, so CRF rungs (and the pristine rung) return the frames unchanged.

    Example:
        ```python
        >>> import numpy as np
        >>> frames = np.zeros((4, 32, 32, 3), dtype=np.uint8)
        >>> noise = degradation_ladder(("noise",), levels=1, size=32)[1]
        >>> apply_degradation(frames, noise, np.random.default_rng(0)).std() > 0
        np.True_
        ```
    """
    name, value = degradation.name, degradation.parameter
    if name in ("none", "crf"):
        return frames
    if name == "scale":
        height, width = frames.shape[1:3]
        small = (max(2, round(width / value)), max(2, round(height / value)))
        # Area-filtered down, bicubic up: the softness and ringing of a low-resolution upload.
        return np.stack(
            [
                np.asarray(
                    Image.fromarray(frame)
                    .resize(small, resample=Image.Resampling.BOX)
                    .resize((width, height), resample=Image.Resampling.BICUBIC)
                )
                for frame in frames
            ]
        )
    if name == "blur":
        blurred = ndimage.gaussian_filter(frames.astype(np.float32), sigma=(0, value, value, 0), mode="nearest")
        return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)
    if name == "noise":
        noisy = frames.astype(np.float32) + rng.normal(0.0, value, size=frames.shape).astype(np.float32)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    if name == "stutter":
        hold = int(value)
        # Frames dropped and the last kept one repeated: same duration and frame rate, jerky motion.
        return frames[(np.arange(len(frames)) // hold) * hold]
    raise ValueError(f"Unknown degradation {name!r}; allowed: none, {', '.join(DEGRADATIONS)}.")


def num_frames_for(fps: int, seconds: float) -> int:
    """Frames in a clip of `seconds` at `fps`, at least 2."""
    return max(2, int(math.floor(fps * seconds + 0.5)))

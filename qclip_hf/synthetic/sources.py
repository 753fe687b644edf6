"""Source clips for the synthetic quality dataset: smooth camera moves over real photographs.

The photographs are the ones scikit-image ships in `skimage/data` and loads without a download. Each clip is a
virtual camera that pans and zooms over one photograph along an eased path drawn from a seeded generator, so the
content is natural-image texture with real motion, not noise or flat colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["PHOTOGRAPHS", "CameraPath", "load_photograph", "sample_camera_path", "render_clip"]

# Photographs bundled in the scikit-image wheel (no pooch download), colour ones first. `skimage.data.cat` is the
# same picture as `chelsea` and is left out.
PHOTOGRAPHS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "camera",
    "coins",
    "moon",
    "brick",
    "grass",
    "gravel",
)


def load_photograph(name: str) -> np.ndarray:
    """Load one of `PHOTOGRAPHS` as an RGB `uint8` array of shape `(height, width, 3)`.

    Example:
        ```python
        >>> load_photograph("coffee").shape
        (400, 600, 3)
        ```
    """
    if name not in PHOTOGRAPHS:
        raise ValueError(f"Unknown photograph {name!r}; allowed: {', '.join(PHOTOGRAPHS)}.")
    try:
        from skimage import data
    except ImportError as error:
        raise ImportError(
            "The synthetic quality dataset renders photographs shipped with scikit-image: `pip install scikit-image`."
        ) from error
    image = np.asarray(getattr(data, name)())
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


@dataclass(frozen=True)
class CameraPath:
    """A crop window moving from `start` to `end`: centres `(x, y)` and sides in pixels of the photograph."""

    start_center: tuple[float, float]
    end_center: tuple[float, float]
    start_side: float
    end_side: float

    def window(self, t: float) -> tuple[float, float, float, float]:
        """The crop box `(left, top, right, bottom)` at time `t` in [0, 1], eased so the camera starts and stops
        smoothly."""
        eased = t * t * (3 - 2 * t)
        side = self.start_side + (self.end_side - self.start_side) * eased
        cx = self.start_center[0] + (self.end_center[0] - self.start_center[0]) * eased
        cy = self.start_center[1] + (self.end_center[1] - self.start_center[1]) * eased
        return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def sample_camera_path(height: int, width: int, rng: np.random.Generator) -> CameraPath:
    """Draw a pan-and-zoom path whose square window stays inside a `height x width` photograph.

    The window side is 45-90% of the shorter image side and changes by up to 30% (zoom in or out); the centre
    travels anywhere the window fits, which gives pans of a few to a few tens of percent of the image.

    Example:
        ```python
        >>> import numpy as np
        >>> photo = load_photograph("rocket")
        >>> path = sample_camera_path(*photo.shape[:2], rng=np.random.default_rng(0))
        >>> render_clip(photo, path, num_frames=16, size=64).shape
        (16, 64, 64, 3)
        ```
    """
    short = min(height, width)
    start_side = short * rng.uniform(0.45, 0.9)
    end_side = float(np.clip(start_side * rng.uniform(0.7, 1.3), 0.4 * short, 0.95 * short))

    def center(side: float) -> tuple[float, float]:
        return (rng.uniform(side / 2, width - side / 2), rng.uniform(side / 2, height - side / 2))

    return CameraPath(center(start_side), center(end_side), start_side, end_side)


def render_clip(photograph: np.ndarray, path: CameraPath, num_frames: int, size: int) -> np.ndarray:
    """Render `num_frames` RGB frames of `size x size` pixels along `path`.

    PIL's resampling with a fractional box gives sub-pixel camera motion and filters the downscale, so the
    pristine clip has no aliasing of its own.

    Returns:
        `np.ndarray` of shape `(num_frames, size, size, 3)`, `uint8`.
    """
    image = Image.fromarray(photograph)
    times = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
    frames = [
        np.asarray(image.resize((size, size), resample=Image.Resampling.BICUBIC, box=path.window(float(t))))
        for t in times
    ]
    return np.stack(frames)

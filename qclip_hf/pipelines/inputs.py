"""What `pipeline("video-quality")` accepts as one video, checked before any decoding.

Decoded frames are `(T, H, W, C)` (channels last) or `(T, C, H, W)` (channels first), numpy or torch, uint8; a
list of PIL images is one video. A 3-D array is refused: it could be one image `(H, W, C)` / `(C, H, W)` or a gray
video `(T, H, W)`, and guessing wrong scores an H-frame gray "video" of a photograph without a word.
"""

from __future__ import annotations

from typing import Any

_ARRAY_TYPES = ("numpy", "torch")


def is_array(value: Any) -> bool:
    """Whether `value` is a numpy array or a torch tensor (checked without importing torch)."""
    return type(value).__module__.split(".")[0] in _ARRAY_TYPES and hasattr(value, "ndim") and hasattr(value, "shape")


def check_video_input(video: Any, name: str = "video") -> None:
    """Raise a `ValueError` saying what to pass when `video` is an array that is not a clip of frames.

    Args:
        video: one pipeline input (a path, URL, bytes, file object, array, tensor or list of PIL images).
        name (`str`): how the message names the input, e.g. `"inputs[3]"`.

    Example:
        ```python
        >>> import numpy as np
        >>> check_video_input(np.zeros((8, 32, 32, 3), np.uint8))  # a clip of 8 frames: fine
        >>> check_video_input(np.zeros((32, 32, 3), np.uint8))
        Traceback (most recent call last):
        ...
        ValueError: video: a 3-D array of shape (32, 32, 3) is one image, not a video — pass a 1-frame video as `frames[None]` (shape (1, H, W, C)); a gray video as `frames[..., None]` (shape (T, H, W, 1))
        ```
    """
    if not is_array(video):
        return
    shape = tuple(int(n) for n in video.shape)
    if video.ndim == 3:
        what = "is one image" if shape[-1] in (3, 4) or shape[0] in (3, 4) else "is ambiguous (one image or a gray video)"
        raise ValueError(
            f"{name}: a 3-D array of shape {shape} {what}, not a video — pass a 1-frame video as `frames[None]` "
            "(shape (1, H, W, C)); a gray video as `frames[..., None]` (shape (T, H, W, 1))"
        )
    if video.ndim != 4:
        raise ValueError(
            f"{name}: decoded frames must be a 4-D array (T, H, W, C) or (T, C, H, W), got shape {shape} — a batch "
            "of videos is a list of such arrays or one 5-D array (B, T, H, W, C)"
        )
    if shape[0] == 0:
        raise ValueError(f"{name}: the array has no frames (shape {shape}) — pass at least one frame")


def check_inputs(inputs: Any) -> None:
    """`check_video_input` on a pipeline call's input: one video, a 5-D batch array, or a list of videos."""
    if is_array(inputs):
        if inputs.ndim == 5:
            for i, video in enumerate(inputs):
                check_video_input(video, f"inputs[{i}]")
        else:
            check_video_input(inputs, "inputs")
    elif isinstance(inputs, list):
        if inputs and all(is_array(item) and item.ndim == 3 for item in inputs):
            raise ValueError(
                f"inputs: a list of {len(inputs)} 3-D arrays is read as a batch of videos, and a 3-D array is not a "
                "video — stack the frames of one video with `np.stack(frames)` (shape (T, H, W, C)), or pass each "
                "image as a 1-frame video `image[None]`"
            )
        for i, video in enumerate(inputs):
            check_video_input(video, f"inputs[{i}]")


__all__ = ["check_inputs", "check_video_input", "is_array"]

"""Score one video for the demo app: everything the page shows, computed without Gradio (so it is testable alone).

Example:
    ```python
    >>> from qclip_hf.app.scoring import VideoScorer
    >>> scorer = VideoScorer("outputs/demo/run/best")  # doctest: +SKIP
    >>> result = scorer("clip.mp4")  # doctest: +SKIP
    >>> result.score, result.level  # doctest: +SKIP
    (0.0312, 'good')
    ```
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

DEFAULT_SEGMENTS = 4


@dataclass
class AppResult:
    """What the app shows for one video.

    Args:
        score (`float`): the whole-video score (model's own scale, higher = better).
        level (`str`): the most likely quality level.
        levels (`dict[str, float]`): probability of each level, in the model's order (excellent first).
        temporal (`list[dict]`): the temporal curve's segments (`start_time`, `end_time`, `score`, ...).
        frames (`list`): `(PIL image, caption)` for each frame the model sampled.
        warnings (`list[str]`): decoding warnings (e.g. substituted frames), when the pipeline reports them.
    """

    score: float
    level: str
    levels: dict[str, float]
    temporal: list[dict[str, Any]] = field(default_factory=list)
    frames: list[tuple[Any, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary_markdown(self) -> str:
        """A short Markdown paragraph: the score, the level and how to read them."""
        lines = [f"## Score: {self.score:.4f}", f"Most likely level: **{self.level}** "
                 f"({self.levels[self.level]:.0%})", "",
                 "The score is on the model's own scale (higher = better quality); compare videos scored by the "
                 "same model rather than reading it as a MOS."]
        if self.warnings:
            lines += ["", "Decoding warnings: " + "; ".join(self.warnings)]
        return "\n".join(lines)


class VideoScorer:
    """Loads a Q-CLIP model once and scores videos for the app.

    Args:
        model (`str`): a saved model directory or a Hub id.
        device (`str`, *optional*): `"cpu"`, `"cuda"`, ... (default: the pipeline's choice).
        num_segments (`int`, *optional*, defaults to 4): segments of the temporal curve.
        thumbnail_height (`int`, *optional*, defaults to 128): height of the frame images shown.
    """

    def __init__(self, model: str | os.PathLike, *, device: str | None = None, num_segments: int = DEFAULT_SEGMENTS,
                 thumbnail_height: int = 128) -> None:
        from transformers import pipeline

        from ..registration import register_qclip_hf

        register_qclip_hf()  # the "video-quality" task, before transformers' pipeline() looks it up

        if num_segments < 1:
            raise ValueError(f"num_segments must be >= 1, got {num_segments}")
        self.model_name = os.fspath(model)
        self.pipe = pipeline("video-quality", model=self.model_name, device=device)
        self.num_segments = num_segments
        self.thumbnail_height = thumbnail_height

    @property
    def level_names(self) -> list[str]:
        return list(self.pipe.model.config.level_names)

    def __call__(self, video: str | os.PathLike) -> AppResult:
        """Score `video` (a file path). Raises `ValueError` (e.g. `VideoDecodeError`) when it cannot be decoded."""
        from ..reporting.thumbnails import sampled_frames, thumbnail

        path = os.fspath(video)
        result = self.pipe(path, return_temporal=True, num_segments=self.num_segments)
        sampled = sampled_frames(path, self.pipe.video_processor)
        fps_known = result.get("temporal") and result["temporal"][0].get("start_time") is not None
        frames = []
        for frame, index in zip(sampled.frames, sampled.indices.tolist(), strict=True):
            caption = f"frame {index}"
            if fps_known:
                segment = result["temporal"][0]
                fps = segment["end_frame"] / segment["end_time"] if segment["end_time"] else None
                caption += f" ({index / fps:.2f} s)" if fps else ""
            frames.append((thumbnail(frame, self.thumbnail_height), caption))
        levels = dict(result["levels"])
        return AppResult(score=float(result["score"]), level=max(levels, key=levels.get), levels=levels,
                         temporal=list(result.get("temporal", [])), frames=frames,
                         warnings=list(result.get("warnings", [])))


__all__ = ["AppResult", "VideoScorer"]

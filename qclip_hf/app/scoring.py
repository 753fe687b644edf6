"""Score one video for the demo app: everything the page shows, computed without Gradio (so it is testable alone).

Example:
    ```python
    >>> from qclip_hf.app.scoring import VideoScorer
    >>> scorer = VideoScorer("outputs/demo/run/best")  # doctest: +SKIP
    >>> result = scorer("clip.mp4")  # doctest: +SKIP
    >>> result.score, result.mos, result.level  # doctest: +SKIP
    (0.0312, 4.05, 'good')
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
        score (`float`): the whole-video raw score (model's own scale, higher = better).
        mos (`float`, *optional*): the score on the MOS scale the model was calibrated on; `None` when uncalibrated.
        level (`str`, *optional*): the band of that MOS (bad ... excellent); `None` when uncalibrated.
        prompt_level_probs (`dict[str, float]`): softmax of the video's similarity to each level prompt, in the
            model's order (excellent first) — what the video looks like to the backbone, not the level.
        calibration (*optional*): the model's [`~qclip_hf.calibration.Calibration`] (its scale and bands).
        temporal (`list[dict]`): the temporal curve's segments (`start_time`, `end_time`, `score`, ...).
        frames (`list`): `(PIL image, caption)` for each frame the model sampled.
        warnings (`list[str]`): decoding warnings (e.g. substituted frames), when the pipeline reports them.
    """

    score: float
    mos: float | None
    level: str | None
    prompt_level_probs: dict[str, float]
    calibration: Any = None
    temporal: list[dict[str, Any]] = field(default_factory=list)
    frames: list[tuple[Any, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary_markdown(self) -> str:
        """A short Markdown paragraph: the MOS and its level (or "uncalibrated"), the raw score and how to read them."""
        if self.mos is not None and self.calibration is not None:
            low, high = self.calibration.mos_range
            edges = self.calibration.band_edges()
            bands = ", ".join(f"{self.calibration.level_of((a + b) / 2)} {a:g}–{b:g}"
                              for a, b in zip(edges, edges[1:], strict=False))
            better = "higher" if self.calibration.higher_is_better else "lower"
            provenance = self.calibration.provenance()
            lines = [f"## MOS {self.mos:.2f} · {self.level}",
                     f"Level: **{self.level}**, the band of the MOS on the scale {low:g}–{high:g} ({better} = better) "
                     f"the model was calibrated on: {bands}.", "",
                     f"Raw score: {self.score:.4f} (the model's own scale)."
                     + (f" Calibration {provenance}." if provenance else "")]
        else:
            lines = [f"## Score: {self.score:.4f} (uncalibrated)",
                     "This model has no calibration, so the score is on its own scale (higher = better quality), "
                     "not a MOS, and no level is given: compare videos scored by the same model, or fit a "
                     "calibration on labelled videos with `qclip-vqa calibrate`."]
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
        return AppResult(score=float(result["score"]), mos=result.get("mos"), level=result.get("level"),
                         prompt_level_probs=dict(result["prompt_level_probs"]),
                         calibration=getattr(self.pipe.model, "calibration", None),
                         temporal=list(result.get("temporal", [])), frames=frames,
                         warnings=list(result.get("warnings", [])))


__all__ = ["AppResult", "VideoScorer"]

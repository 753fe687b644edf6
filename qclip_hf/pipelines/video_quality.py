"""`pipeline("video-quality")`: video quality scores (and a temporal quality curve) from a Q-CLIP model."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.pt_utils import PipelineDataset, PipelineIterator

from ..models.qclip.video_processing_qclip import QClipVideoProcessor, load_saved_processor
from ..video.decoding import decode_frames
from ..video.stream import as_openable, index_video
from ..video.reader import frames_to_array, is_decoded_video
from ..video.sampling import UNISampl, canonical_strategy_name
from .inputs import check_inputs, check_video_input
from .loading import install_pipeline_loader

TASK = "video-quality"
DEFAULT_NUM_SEGMENTS = 4


def segment_bounds(num_frames: int, num_segments: int) -> np.ndarray:
    """(num_segments, 2) `[start, end)` frame ranges cutting `num_frames` frames into equal contiguous segments.

    Segment `k` starts at `floor(k * n / N)`; every segment holds at least one frame, so a video shorter than
    `num_segments` frames gives overlapping one-frame segments rather than empty ones.

    Example:
        ```python
        >>> segment_bounds(10, 4).tolist()
        [[0, 2], [2, 5], [5, 7], [7, 10]]
        ```
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames!r}")
    starts = (np.arange(num_segments, dtype=np.int64) * num_frames) // num_segments
    ends = (np.arange(1, num_segments + 1, dtype=np.int64) * num_frames) // num_segments
    starts = np.minimum(starts, num_frames - 1)
    return np.stack([starts, np.maximum(ends, starts + 1)], axis=1)


def default_video_processor(model: Any, **options: Any) -> QClipVideoProcessor:
    """The processor saved with `model` (`video_preprocessor_config.json` in the folder or Hub repo it was loaded
    from, see `load_saved_processor`); only when none was saved, one built for it: the backbone's frame size and
    normalisation (its image processor config, else mean = std = 0.5) and the config's `num_frames`.
    """
    source = getattr(model, "name_or_path", None)
    if source:
        saved = load_saved_processor(source, revision=getattr(model.config, "_commit_hash", None), **options)
        if saved is not None:
            return saved
    return QClipVideoProcessor.for_model(model, **options)


def collate_model_inputs(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch the outputs of [`VideoQualityPipeline.preprocess`] (each with a leading batch dim of 1): tensors are
    concatenated, lists (the `decode_reports`, one per video) joined."""
    if not items:
        raise ValueError("collate_model_inputs needs at least one item")
    keys = set(items[0])
    shapes = {tuple(item["pixel_values_videos"].shape[1:]) for item in items}
    if len(shapes) > 1:
        raise ValueError(f"videos of a batch must have the same clip shape, got {sorted(shapes)}")
    return {
        key: [entry for item in items for entry in item[key]] if isinstance(items[0][key], list)
        else torch.cat([item[key] for item in items], dim=0)
        for key in keys
    }


class VideoQualityPipeline(Pipeline):
    r"""
    Video quality assessment with a Q-CLIP model: one score per video (raw, and on the MOS scale with its level
    when the model is calibrated), the video's similarity to each quality prompt and, on request, a temporal
    quality curve.

    Inputs: a path, an http(s) URL, bytes, a binary file-like object, decoded frames (a uint8 numpy array or torch
    tensor shaped (T, H, W, C) or (T, C, H, W), or a list of PIL images), or a list of those (a list of PIL images
    is one video; a 5-D array (B, T, H, W, C) is B videos). A single image (a 3-D array) is refused with a message:
    pass it as a 1-frame video, `frames[None]`. Damaged files raise `VideoDecodeError` (a `ValueError`); the
    `qclip-vqa score` CLI records them and goes on.

    Parameters (at construction or per call):
        num_frames (`int`, *optional*): frames per clip (defaults to the processor's, i.e. the model's).
        sampling_strategy (`str`, *optional*): frame sampler of the whole-video score (`UNISampl`, `SegMSEMean`, ...).
        return_temporal (`bool`, *optional*, defaults to `False`): add `"temporal"`: the video cut into
            `num_segments` equal contiguous frame ranges, each scored from `num_frames` frames sampled uniformly
            (`UNISampl`) inside the range. Scores are on the model's scale, so a dip shows where quality drops.
        num_segments (`int`, *optional*, defaults to 4): segments of the temporal curve.
        batch_size (`int`, *optional*): videos decoded and stacked per step (the standard pipeline argument). It
            does not change any score (see `batch_invariant`).
        batch_invariant (`bool`, *optional*, defaults to `True`): run the model one clip at a time, always in the
            same tensor shape, so a video's score is bitwise the same for every `batch_size`, number of processes
            or resume point. `False` runs each batch in one forward: faster where one clip does not fill the
            hardware (a GPU, or a small model on CPU), but scores then move in the last bits (~1e-8) with the batch.

    Output per video: `{"score": float, "mos": float | None, "level": str | None, "prompt_level_probs": {level:
    probability}, "substituted_frames": int, "warnings": [str]}`:

    - `score`: the raw score, on the model's own scale (higher = better);
    - `mos`: the score mapped to the MOS scale the model was calibrated on (`model.calibration`, saved as
      `calibration.json`), and `level`: the band of that MOS (the MOS range cut into five equal bands, bad ...
      excellent).
      Both are `None` for an uncalibrated model (zero-shot, a converted release checkpoint, an older save): its
      score is not on any MOS scale and no level is guessed; fit a calibration with `qclip-vqa calibrate`;
    - `prompt_level_probs`: the softmax of the video's similarity to each level prompt ("... excellent quality"):
      which words the video looks like to the backbone — not the level, which the trained head need not agree with;
    - `substituted_frames`: sampled frames that could not be decoded and were replaced by the nearest decodable
      frame; `warnings`: what the decoder noticed, e.g. a fallback to a sequential read;

    plus with `return_temporal=True` `"temporal": [{"segment", "start_frame", "end_frame", "start_time", "end_time",
    "score", "mos"}]` (`end_frame` is exclusive; times in seconds, `None` when the frame rate is unknown, e.g. for
    decoded frames; `mos` as above).

    The text tower runs once per pipeline: in eval mode the model caches the level-prompt features.

    Example:
        ```python
        >>> import qclip_hf
        >>> from transformers import pipeline
        >>> pipe = pipeline("video-quality", model="outputs/demo/run/best", device="cpu")  # doctest: +SKIP
        >>> pipe("clip.mp4")  # doctest: +SKIP
        {'score': 0.0312, 'mos': 4.28, 'level': 'excellent', 'prompt_level_probs': {'excellent': 0.21, ...},
         'substituted_frames': 0, 'warnings': []}
        >>> pipe(["a.mp4", "b.mkv"], batch_size=8, return_temporal=True, num_segments=4)  # doctest: +SKIP
        ```
    """

    _load_processor = False
    _load_image_processor = False
    # AutoVideoProcessor would fall back to the class defaults (336 px) for a repo without a processor file, so the
    # pipeline resolves its processor itself (see `default_video_processor`).
    _load_video_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, model: Any, video_processor: QClipVideoProcessor | None = None, **kwargs: Any) -> None:
        if video_processor is None:
            video_processor = default_video_processor(model)
        super().__init__(model=model, video_processor=video_processor, **kwargs)
        if not hasattr(self.model.config, "level_names"):
            raise ValueError(
                f"the video-quality pipeline needs a Q-CLIP model (a config with `level_names`), got "
                f"{type(self.model).__name__}. If `model` is a Hub repo with an adapter_config.json naming another "
                "base model (not pushed by qclip-hf), load it with QClipModel.from_pretrained and pass the model."
            )
        # Eval mode is what lets the model cache the text features; the processor samples deterministically.
        self.model.eval()
        self.video_processor.eval()

    # ------------------------------------------------------------------ parameters
    def _sanitize_parameters(
        self,
        num_frames: int | None = None,
        sampling_strategy: str | None = None,
        return_temporal: bool | None = None,
        num_segments: int | None = None,
        batch_invariant: bool | None = None,
        **kwargs: Any,
    ) -> tuple[dict, dict, dict]:
        if kwargs:
            raise ValueError(
                f"unknown video-quality pipeline arguments {sorted(kwargs)}; allowed: num_frames, sampling_strategy, "
                "return_temporal, num_segments, batch_invariant, batch_size, num_workers."
            )
        forward: dict[str, Any] = {}
        if batch_invariant is not None:
            if not isinstance(batch_invariant, bool):
                raise ValueError(f"batch_invariant must be True or False, got {batch_invariant!r}")
            forward["batch_invariant"] = batch_invariant
        preprocess: dict[str, Any] = {}
        if num_frames is not None:
            if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
                raise ValueError(f"num_frames must be a positive int, got {num_frames!r}")
            preprocess["num_frames"] = num_frames
        if sampling_strategy is not None:
            preprocess["sampling_strategy"] = canonical_strategy_name(sampling_strategy)  # ValueError lists names
        if return_temporal is not None:
            if not isinstance(return_temporal, bool):
                raise ValueError(f"return_temporal must be True or False, got {return_temporal!r}")
            preprocess["return_temporal"] = return_temporal
        if num_segments is not None:
            if isinstance(num_segments, bool) or not isinstance(num_segments, int) or num_segments < 1:
                raise ValueError(f"num_segments must be a positive int, got {num_segments!r}")
            preprocess["num_segments"] = num_segments
        return preprocess, forward, {}

    # ------------------------------------------------------------------ steps
    def preprocess(
        self,
        video: Any,
        num_frames: int | None = None,
        sampling_strategy: str | None = None,
        return_temporal: bool = False,
        num_segments: int = DEFAULT_NUM_SEGMENTS,
    ) -> dict[str, torch.Tensor]:
        """One video -> `pixel_values_videos` (1, 1 + S, T, C, H, W): the whole-video clip, then S segment clips
        (S = `num_segments` with `return_temporal`, else 0), `segment_bounds` (1, S, 2), `fps` (1,) and
        `decode_reports` (a one-item list: the processor's report on the whole-video clip)."""
        check_video_input(video)
        options = {k: v for k, v in (("num_frames", num_frames), ("sampling_strategy", sampling_strategy))
                   if v is not None}
        if hasattr(video, "read") and not (hasattr(video, "seekable") and video.seekable()):
            video = video.read()  # a stream read once serves both the whole-video clip and the segments
        processed = self.video_processor(video, **options)
        clips = processed["pixel_values_videos"]
        reports = list(processed.get("decode_reports") or [{}])
        bounds = torch.zeros(0, 2, dtype=torch.int64)
        fps = float("nan")
        if return_temporal:
            frames_per_clip = num_frames or self.video_processor.num_frames
            segments, bounds, fps = self._segment_frames(video, num_segments, frames_per_clip)
            segment_clips = self.video_processor(
                segments, num_frames=frames_per_clip, sampling_strategy="UNISampl"
            )["pixel_values_videos"]
            clips = torch.cat([clips, segment_clips], dim=0)
            bounds = torch.as_tensor(bounds, dtype=torch.int64)
        return {
            "pixel_values_videos": clips.unsqueeze(0),
            "segment_bounds": bounds.unsqueeze(0),
            "fps": torch.tensor([fps], dtype=torch.float64),
            "decode_reports": reports[:1],
        }

    def _segment_frames(
        self, video: Any, num_segments: int, frames_per_clip: int
    ) -> tuple[list[np.ndarray], np.ndarray, float]:
        """The frames of each segment (decoded in one call), the segment bounds and the frame rate (nan if unknown)."""
        if is_decoded_video(video):
            frames = frames_to_array(video)
            bounds = segment_bounds(frames.shape[0], num_segments)
            picks = [start + UNISampl(int(end - start), frames_per_clip) for start, end in bounds]
            return [frames[p] for p in picks], bounds, float("nan")
        processor = self.video_processor
        raw_format = processor.raw_format if _is_yuv(video) else None
        openable = as_openable(video, raw_format)
        index = index_video(openable, timeout=processor.decode_timeout)
        bounds = segment_bounds(index.num_frames, num_segments)
        picks = [start + UNISampl(int(end - start), frames_per_clip) for start, end in bounds]
        frames = decode_frames(openable, np.concatenate(picks), backend=processor.decode_backend, index=index,
                               timeout=processor.decode_timeout)
        fps = float(index.fps) if index.fps else float("nan")
        return list(frames.reshape(num_segments, frames_per_clip, *frames.shape[1:])), bounds, fps

    def _forward(self, model_inputs: dict[str, Any], batch_invariant: bool = True) -> dict[str, Any]:
        clips = model_inputs["pixel_values_videos"]
        batch, per_video = clips.shape[:2]
        if batch_invariant:
            # One clip per forward, always shaped (1, T, C, H, W): matrix kernels pick their blocking (hence their
            # summation order) from the tensor shape, so a batched forward changes scores in the last bits with the
            # batch size. Per clip, a video's score is bitwise the same whatever the batch, process count or resume.
            outputs = [self.model(pixel_values_videos=clip[None]) for clip in clips.flatten(0, 1)]
        else:  # whole-video and segment clips of the whole batch in one forward: faster on wide hardware
            outputs = [self.model(pixel_values_videos=clips.flatten(0, 1))]
        scores = torch.cat([output.scores.float() for output in outputs]).reshape(batch, per_video)
        level_probs = torch.cat([output.level_probs.float() for output in outputs]).reshape(batch, per_video, -1)
        return {
            "scores": scores,
            "level_probs": level_probs[:, 0],
            "segment_bounds": model_inputs["segment_bounds"],
            "fps": model_inputs["fps"],
            "decode_reports": model_inputs.get("decode_reports") or [{}] * batch,
        }

    def postprocess(self, model_outputs: dict[str, torch.Tensor]) -> dict[str, Any]:
        scores = model_outputs["scores"][0]
        probs = model_outputs["level_probs"][0]
        calibration = getattr(self.model, "calibration", None)
        mos = calibration.mos_of(float(scores[0])) if calibration is not None else None
        result: dict[str, Any] = {
            "score": float(scores[0]),
            "mos": mos,
            "level": calibration.level_of(mos) if calibration is not None else None,
            "prompt_level_probs": {name: float(p) for name, p in
                                   zip(self.model.config.level_names, probs.tolist(), strict=True)},
        }
        report = _first_report(model_outputs.get("decode_reports"))
        result["substituted_frames"] = int(report.get("frames_substituted", 0))
        result["warnings"] = [str(warning) for warning in report.get("warnings", [])]
        bounds = model_outputs["segment_bounds"][0]
        if bounds.shape[0]:
            fps = float(model_outputs["fps"][0])
            known = math.isfinite(fps) and fps > 0
            result["temporal"] = [
                {
                    "segment": k,
                    "start_frame": int(start),
                    "end_frame": int(end),
                    "start_time": float(start) / fps if known else None,
                    "end_time": float(end) / fps if known else None,
                    "score": float(score),
                    "mos": calibration.mos_of(float(score)) if calibration is not None else None,
                }
                for k, ((start, end), score) in enumerate(zip(bounds.tolist(), scores[1:].tolist(), strict=True))
            ]
        return result

    # ------------------------------------------------------------------ batching
    def get_iterator(
        self, inputs, num_workers: int, batch_size: int, preprocess_params, forward_params, postprocess_params
    ):
        # The base class batches only with a tokenizer or feature extractor; video clips are stacked as they are.
        dataset = PipelineDataset(inputs, self.preprocess, preprocess_params)
        loader = DataLoader(dataset, num_workers=num_workers, batch_size=batch_size, collate_fn=collate_model_inputs)
        model_iterator = PipelineIterator(loader, self.forward, forward_params, loader_batch_size=batch_size)
        return PipelineIterator(model_iterator, self.postprocess, postprocess_params)

    def __call__(self, inputs: Any, **kwargs: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """Score one video (returns a dict) or a list of videos (returns a list of dicts)."""
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        check_inputs(inputs)  # a single image fails here, before any decoding
        if isinstance(inputs, list) and is_decoded_video(inputs):
            return super().__call__([inputs], **kwargs)[0]  # a list of PIL images is one video
        if isinstance(inputs, (np.ndarray, torch.Tensor)) and inputs.ndim == 5:
            return super().__call__(list(inputs), **kwargs)
        return super().__call__(inputs, **kwargs)


def _first_report(reports: Any) -> dict[str, Any]:
    """The decode report of a one-video model output: the pipeline's own unbatching gives the dict itself, a
    `[j:j + 1]` slice (the CLI's scoring loop) a one-item list."""
    if isinstance(reports, dict):
        return reports
    if isinstance(reports, (list, tuple)) and reports and isinstance(reports[0], dict):
        return reports[0]
    return {}


def _is_yuv(video: Any) -> bool:
    return isinstance(video, (str, os.PathLike)) and os.fspath(video).lower().endswith(".yuv")


def register_video_quality_pipeline() -> None:
    """Register the `"video-quality"` task so `transformers.pipeline("video-quality", model=...)` finds it.

    Example:
        ```python
        >>> from qclip_hf.pipelines import register_video_quality_pipeline
        >>> register_video_quality_pipeline()
        >>> from transformers import pipeline
        >>> pipe = pipeline("video-quality", model="outputs/demo/run/best")  # doctest: +SKIP
        ```
    """
    install_pipeline_loader()  # load errors reach the caller as ModelLoadError, not wrapped by transformers
    if PIPELINE_REGISTRY.supported_tasks.get(TASK, {}).get("impl") is VideoQualityPipeline:
        return  # already registered (importing the package twice must not warn)
    PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=VideoQualityPipeline, pt_model=AutoModel,
                                        type="multimodal")


__all__ = [
    "DEFAULT_NUM_SEGMENTS",
    "TASK",
    "VideoQualityPipeline",
    "collate_model_inputs",
    "default_video_processor",
    "register_video_quality_pipeline",
    "segment_bounds",
]

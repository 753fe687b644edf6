"""Inference pipelines: `pipeline("video-quality")`."""

from .video_quality import (
    DEFAULT_NUM_SEGMENTS,
    VideoQualityPipeline,
    collate_model_inputs,
    default_video_processor,
    register_video_quality_pipeline,
    segment_bounds,
)

__all__ = [
    "DEFAULT_NUM_SEGMENTS",
    "VideoQualityPipeline",
    "collate_model_inputs",
    "default_video_processor",
    "register_video_quality_pipeline",
    "segment_bounds",
]

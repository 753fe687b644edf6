"""Inference pipelines: `pipeline("video-quality")`.

Public names are imported lazily, on first use (see `qclip_hf._lazy`).
"""

from .._lazy import lazy_attributes

_IMPORT_STRUCTURE = {
    "video_quality": [
        "DEFAULT_NUM_SEGMENTS", "VideoQualityPipeline", "collate_model_inputs", "default_video_processor",
        "register_video_quality_pipeline", "segment_bounds",
    ],
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _IMPORT_STRUCTURE)

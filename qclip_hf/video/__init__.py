"""Video input for Q-CLIP: decoding, the motion profile (paper eq. 13) and the seven frame-sampling strategies.

Data path: file or URL -> :func:`~.decoding.index_video` (demux only) -> a strategy from :mod:`.sampling`
-> :func:`~.decoding.decode_frames` (verified seeks or one fault-tolerant pass, :mod:`.frame_pass`) ->
`QClipVideoProcessor`. MSE-driven strategies without a known profile compute it in the same single pass that
keeps their candidate frames (:mod:`.motion_pass`).

Public names are imported lazily, on first use (see `qclip_hf._lazy`).
"""

from .._lazy import lazy_attributes

_IMPORT_STRUCTURE = {
    "decoding": [
        "DEFAULT_MAX_PIXELS",
        "DEFAULT_MIN_DECODED_FRACTION",
        "DEFAULT_TIMEOUT",
        "VideoIndex",
        "decode_frames",
        "decode_frames_with_report",
        "index_video",
        "iter_pyav_frames",
        "plan_read_mode",
    ],
    "errors": ["VideoDecodeError"],
    "frame_pass": ["DecodeReport"],
    "motion": ["add_motion_profile", "compute_motion_profile", "motion_profile_from_frames"],
    "motion_pass": ["DEFAULT_MOTION_CACHE_BYTES", "MOTION_PROFILE_CACHE", "MotionProfileCache"],
    "reader": ["SampledVideo", "frames_to_array", "is_decoded_video", "sample_video"],
    "sampling": [
        "SAMPLING_STRATEGIES",
        "STRATEGY_NAMES",
        "Mixed",
        "MSESortedUNI",
        "RandSampl",
        "SegMSEMean",
        "SegMSEMedian",
        "UNIRandStart",
        "UNISampl",
        "get_sampling_strategy",
        "short_video_indices",
    ],
    "sources": ["RawVideoFormat", "VideoSource", "is_url"],
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _IMPORT_STRUCTURE)

"""Video input for Q-CLIP: decoding, the motion profile (paper eq. 13) and the seven frame-sampling strategies.

Data path, one module a step (each imports only the steps before it; see :mod:`.stream`): file or URL ->
:func:`~.stream.index_video` (open, demux only) -> :func:`~.decoding.decode_frames` (chooses the read) ->
:mod:`.frame_reads` (verified seeks, or one fault-tolerant sequential pass) -> :mod:`.motion_pass` (MSE-driven
strategies without a known profile compute it in the same single pass that keeps their candidate frames) ->
:mod:`.sampling` (the strategies) -> `QClipVideoProcessor`. :func:`~.reader.sample_video` runs them in order.

Public names are imported lazily, on first use (see `qclip_hf._lazy`).
"""

from .._lazy import lazy_attributes

_IMPORT_STRUCTURE = {
    "decoding": [
        "DEFAULT_MIN_DECODED_FRACTION",
        "decode_frames",
        "decode_frames_with_report",
        "iter_pyav_frames",
        "plan_read_mode",
    ],
    "errors": ["VideoDecodeError"],
    "frame_reads": ["DecodeReport"],
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
    "stream": ["DEFAULT_MAX_PIXELS", "DEFAULT_TIMEOUT", "VideoIndex", "index_video"],
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _IMPORT_STRUCTURE)

"""Video input for Q-CLIP: decoding, the motion profile (paper eq. 13) and the seven frame-sampling strategies.

Data path: file -> :func:`~.decoding.index_video` (demux only) -> :func:`~.motion.compute_motion_profile`
(only for MSE-driven strategies, or read from a dataset column) -> a strategy from :mod:`.sampling` ->
:func:`~.decoding.decode_frames` (seek or one pass) -> `QClipVideoProcessor`.
"""

from .decoding import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_TIMEOUT,
    VideoIndex,
    decode_frames,
    index_video,
    iter_pyav_frames,
    plan_read_mode,
)
from .errors import VideoDecodeError
from .motion import add_motion_profile, compute_motion_profile, motion_profile_from_frames
from .reader import SampledVideo, frames_to_array, is_decoded_video, sample_video
from .sampling import (
    SAMPLING_STRATEGIES,
    STRATEGY_NAMES,
    Mixed,
    MSESortedUNI,
    RandSampl,
    SegMSEMean,
    SegMSEMedian,
    UNIRandStart,
    UNISampl,
    get_sampling_strategy,
    short_video_indices,
)
from .sources import RawVideoFormat, VideoSource

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_TIMEOUT",
    "SAMPLING_STRATEGIES",
    "STRATEGY_NAMES",
    "MSESortedUNI",
    "Mixed",
    "RandSampl",
    "RawVideoFormat",
    "SampledVideo",
    "SegMSEMean",
    "SegMSEMedian",
    "UNIRandStart",
    "UNISampl",
    "VideoDecodeError",
    "VideoIndex",
    "VideoSource",
    "add_motion_profile",
    "compute_motion_profile",
    "decode_frames",
    "frames_to_array",
    "get_sampling_strategy",
    "index_video",
    "is_decoded_video",
    "iter_pyav_frames",
    "motion_profile_from_frames",
    "plan_read_mode",
    "sample_video",
    "short_video_indices",
]

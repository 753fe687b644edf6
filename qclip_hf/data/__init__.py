"""🤗 datasets loaders for VQA data: the six standard datasets, a user's videofolder, and the 10 x 80/20 splits."""

from .labels import LabelRow, read_label_file
from .splits import dover_split_indices, dover_splits
from .videofolder import load_videofolder
from .vqa import (
    LIVE_QUALCOMM_RAW_FORMAT,
    VQA_DATASETS,
    MissingVideosWarning,
    VQADatasetSpec,
    load_vqa_dataset,
    report_missing,
)

__all__ = [
    "LIVE_QUALCOMM_RAW_FORMAT",
    "VQA_DATASETS",
    "LabelRow",
    "MissingVideosWarning",
    "VQADatasetSpec",
    "dover_split_indices",
    "dover_splits",
    "load_videofolder",
    "load_vqa_dataset",
    "read_label_file",
    "report_missing",
]

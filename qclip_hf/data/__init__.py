"""🤗 datasets loaders for VQA data: the six standard datasets, a user's videofolder, and the 10 x 80/20 splits.

Public names are imported lazily, on first use (see `qclip_hf._lazy`).
"""

from .._lazy import lazy_attributes

_IMPORT_STRUCTURE = {
    "labels": ["LabelRow", "read_label_file"],
    "specs": ["SPEC_KINDS", "load_dataset_from_spec", "video_input"],
    "splits": ["dover_split_indices", "dover_splits"],
    "videofolder": ["load_videofolder"],
    "vqa": [
        "LIVE_QUALCOMM_RAW_FORMAT", "VQA_DATASETS", "MissingVideosWarning", "VQADatasetSpec", "load_vqa_dataset",
        "report_missing",
    ],
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _IMPORT_STRUCTURE)

"""Batch inference: collect video files, score them error-tolerantly on one or N processes, write resumable results.

Submodules load on first use, so that `qclip_hf.inference.files` (used by the `qclip-vqa` argument parser) does
not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "files": ("URL_SCHEMES", "VIDEO_EXTENSIONS", "DiscoveredInputs", "collect_video_files", "discover_inputs",
              "is_url", "is_video_file", "normalize_extensions"),
    "names": ("decode_path", "encode_path"),
    "resume_key": ("file_identity", "model_fingerprint", "run_key", "scoring_options"),
    "results": ("OUTPUT_FORMATS", "check_output", "completed_paths", "merge_results", "output_format", "read_rows",
                "result_row"),
    "scoring": ("ScoringSummary", "iter_scored_rows", "score_to_file"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULE_OF])


__all__ = sorted(_MODULE_OF)

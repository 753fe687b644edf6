"""A generated video quality dataset from real photographs, for demos and tests (see docs/synthetic_dataset.md).

Public names are imported lazily, on first use (see `qclip_hf._lazy`).
"""

from .._lazy import lazy_attributes

_IMPORT_STRUCTURE = {
    "degradations": ["DEGRADATIONS", "IMPACT", "Degradation", "degradation_ladder", "mos_for"],
    "generate": ["METADATA_COLUMNS", "generate_quality_dataset"],
    "sources": ["PHOTOGRAPHS"],
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _IMPORT_STRUCTURE)

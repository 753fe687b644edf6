"""A generated video quality dataset from real photographs, for demos and tests (see docs/synthetic_dataset.md)."""

from .degradations import DEGRADATIONS, IMPACT, Degradation, degradation_ladder, mos_for
from .generate import METADATA_COLUMNS, generate_quality_dataset
from .sources import PHOTOGRAPHS

__all__ = [
    "DEGRADATIONS",
    "IMPACT",
    "METADATA_COLUMNS",
    "PHOTOGRAPHS",
    "Degradation",
    "degradation_ladder",
    "generate_quality_dataset",
    "mos_for",
]

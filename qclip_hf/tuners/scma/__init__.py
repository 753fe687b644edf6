"""SCMA (Shared Cross-Modal Adapter), Q-CLIP's parameter-efficient method, as a PEFT tuner."""

from .config import SCMA_PEFT_TYPE, SCMAConfig
from .layer import SCMAFFN, SCMABlock, SCMABottleneck, SCMALayer, SCMAProjection, SCMAProjectionAdapter
from .model import SCMAModel
from .registration import register_scma_peft_method

register_scma_peft_method()

__all__ = [
    "SCMA_PEFT_TYPE",
    "SCMABlock",
    "SCMABottleneck",
    "SCMAConfig",
    "SCMAFFN",
    "SCMALayer",
    "SCMAModel",
    "SCMAProjection",
    "SCMAProjectionAdapter",
    "register_scma_peft_method",
]

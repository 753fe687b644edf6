"""qclip-hf: Q-CLIP video quality assessment on the Hugging Face stack.

Importing the package registers the "SCMA" PEFT method and the "qclip" model type with the Auto classes.
"""

from transformers import AutoConfig, AutoModel

from .models.pe_core import PECoreConfig, PECoreModel, register_pe_core_auto_classes
from .models.qclip import PRESETS, QClipConfig, QClipModel, QClipOutput, QClipPreTrainedModel
from .models.qclip.video_processing_qclip import QClipVideoProcessor, register_qclip_video_processor
from .pipelines.video_quality import VideoQualityPipeline, register_video_quality_pipeline
from .tuners.scma import SCMAConfig, SCMAModel, register_scma_peft_method

__version__ = "0.1.0"

register_scma_peft_method()
AutoConfig.register(QClipConfig.model_type, QClipConfig, exist_ok=True)
AutoModel.register(QClipConfig, QClipModel, exist_ok=True)
register_pe_core_auto_classes()
register_qclip_video_processor(QClipConfig)
register_video_quality_pipeline()

__all__ = [
    "PECoreConfig",
    "PECoreModel",
    "PRESETS",
    "QClipVideoProcessor",
    "QClipConfig",
    "QClipModel",
    "QClipOutput",
    "QClipPreTrainedModel",
    "SCMAConfig",
    "SCMAModel",
    "VideoQualityPipeline",
    "register_scma_peft_method",
]

"""Q-CLIP model: configuration, modeling, prompts and presets."""

from .configuration_qclip import PROMPT_SCHEMES, QClipConfig
from .modeling_qclip import QClipModel, QClipOutput, QClipPreTrainedModel, QClipQualityHead
from .presets import PRESETS
from .prompt_learning_qclip import QClipPromptLearner

__all__ = [
    "PRESETS",
    "PROMPT_SCHEMES",
    "QClipConfig",
    "QClipModel",
    "QClipOutput",
    "QClipPreTrainedModel",
    "QClipPromptLearner",
    "QClipQualityHead",
]

"""PE-Core (Meta's Perception Encoder): transformers-style dual encoder, checkpoint conversion and processors."""

from __future__ import annotations

from .configuration_pe_core import (
    PE_CORE_PRESETS,
    PECoreConfig,
    PECoreTextConfig,
    PECoreVisionConfig,
    resolve_pe_core_preset,
)
from .modeling_pe_core import PECoreModel, PECorePreTrainedModel
from .processing_pe_core import build_pe_core_image_processor, build_pe_core_processor
from .tokenization_pe_core import build_pe_core_tokenizer, open_clip_bpe_path, write_clip_bpe_vocab


def register_pe_core_auto_classes() -> None:
    """Make `AutoConfig` / `AutoModel` resolve `model_type="pe_core"` to [`PECoreConfig`] / [`PECoreModel`].

    Safe to call more than once.

    Example:
        ```python
        >>> from transformers import AutoConfig
        >>> register_pe_core_auto_classes()
        >>> type(AutoConfig.for_model("pe_core")).__name__
        'PECoreConfig'
        ```
    """
    from transformers import AutoConfig, AutoModel

    AutoConfig.register("pe_core", PECoreConfig, exist_ok=True)
    AutoModel.register(PECoreConfig, PECoreModel, exist_ok=True)


__all__ = [
    "PE_CORE_PRESETS",
    "PECoreConfig",
    "PECoreModel",
    "PECorePreTrainedModel",
    "PECoreTextConfig",
    "PECoreVisionConfig",
    "build_pe_core_image_processor",
    "build_pe_core_processor",
    "build_pe_core_tokenizer",
    "open_clip_bpe_path",
    "register_pe_core_auto_classes",
    "resolve_pe_core_preset",
    "write_clip_bpe_vocab",
]

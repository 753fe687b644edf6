"""PE-Core (Meta's Perception Encoder): transformers-style dual encoder, checkpoint conversion and processors.

Names are imported lazily, on first use: reading `PECoreConfig` imports the configuration only (no modeling code,
no `transformers.activations`), so a process that only inspects or validates configs starts fast.
"""

from __future__ import annotations

from ..._lazy import lazy_attributes

_IMPORT_STRUCTURE = {
    "configuration_pe_core": [
        "PE_CORE_PRESETS",
        "PECoreConfig",
        "PECoreTextConfig",
        "PECoreVisionConfig",
        "resolve_pe_core_preset",
    ],
    "modeling_pe_core": ["PECoreModel", "PECorePreTrainedModel"],
    "processing_pe_core": ["build_pe_core_image_processor", "build_pe_core_processor"],
    "tokenization_pe_core": ["build_pe_core_tokenizer", "open_clip_bpe_path", "write_clip_bpe_vocab"],
}

__getattr__, __dir__, _LAZY_NAMES = lazy_attributes(__name__, _IMPORT_STRUCTURE)


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

    from .configuration_pe_core import PECoreConfig
    from .modeling_pe_core import PECoreModel

    AutoConfig.register("pe_core", PECoreConfig, exist_ok=True)
    AutoModel.register(PECoreConfig, PECoreModel, exist_ok=True)


__all__ = sorted([*_LAZY_NAMES, "register_pe_core_auto_classes"])

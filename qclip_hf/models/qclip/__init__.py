"""Q-CLIP model: configuration, modeling, prompts and presets.

Names are imported lazily (see `qclip_hf._lazy`), so torch-free submodules such as `checks_qclip` and
`loading_qclip` can be imported without paying for torch and transformers.
"""

from ..._lazy import lazy_attributes

_IMPORT_STRUCTURE = {
    "configuration_qclip": ["PROMPT_SCHEMES", "QClipConfig"],
    "modeling_qclip": ["QClipModel", "QClipOutput", "QClipPreTrainedModel", "QClipQualityHead"],
    "presets": ["PRESETS"],
    "prompt_learning_qclip": ["QClipPromptLearner"],
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _IMPORT_STRUCTURE)

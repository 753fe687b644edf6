"""Registers SCMA with PEFT so `get_peft_model`, `PeftConfig.from_pretrained` and `PeftModel.from_pretrained` know it.

`peft.register_peft_method` only accepts names already in PEFT's closed `PeftType` enum. `PeftType` is a `str` enum,
so plain string keys in PEFT's three lookup tables work for building, saving and loading; this is what we do.
"""

from __future__ import annotations

from peft import mapping

from .config import SCMA_PEFT_TYPE, SCMAConfig
from .model import SCMAModel


def register_scma_peft_method() -> None:
    """Make `"SCMA"` a PEFT type (idempotent). Runs on `import qclip_hf`, before any adapter is loaded.

    Example:
        ```python
        >>> from qclip_hf.tuners.scma import register_scma_peft_method
        >>> register_scma_peft_method()
        >>> from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING
        >>> PEFT_TYPE_TO_CONFIG_MAPPING["SCMA"].__name__
        'SCMAConfig'
        ```
    """
    mapping.PEFT_TYPE_TO_CONFIG_MAPPING[SCMA_PEFT_TYPE] = SCMAConfig
    mapping.PEFT_TYPE_TO_TUNER_MAPPING[SCMA_PEFT_TYPE] = SCMAModel
    mapping.PEFT_TYPE_TO_PREFIX_MAPPING[SCMA_PEFT_TYPE] = SCMAModel.prefix

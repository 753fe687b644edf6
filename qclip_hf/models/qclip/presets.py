"""Named Q-CLIP presets: the paper's layout and the reference release's layout.

Both use the five-level prompts with three learnable "X X X" context vectors and mean frame pooling. They differ
where the paper and the authors' release differ (see `docs/method.md`):

| preset | r | placement | E-SCMA scales | P-SCMA |
|---|---|---|---|---|
| `"paper"` | 8 (the paper's 0.14M trainable parameters on PE-Core-L) | parallel (eq. 2-7) | per layer (`a_k`, `b_k`) | on the projected feature, single-Linear FFN, LayerNorm |
| `"reference"` | 128 (about 1.9M) | serial (block output) | per tower, init 0.1 | on the pooled feature, `Linear-Linear-GELU-Linear` |

`"reference"` is also what `QClipConfig()` builds by default: it is the code that produced the published numbers.
"""

from __future__ import annotations

import copy
from typing import Any

_COMMON: dict[str, Any] = {
    "num_frames": 8,
    "prompt_scheme": "five_level",
    "num_context_tokens": 3,
    "context_init": "X X X",
    "frame_pooling": "mean",
}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        **_COMMON,
        "scma_config": {
            "r": 8,
            "layers": 6,
            "placement": "parallel",
            "share_across_towers": True,
            "share_ffn_across_layers": True,
            "projection_adapter": True,
            "projection_adapter_style": "paper",
            "scale_granularity": "layer",
            "scale_init": 0.1,
        },
    },
    "reference": {
        **_COMMON,
        "scma_config": {
            "r": 128,
            "layers": 6,
            "placement": "serial",
            "share_across_towers": True,
            "share_ffn_across_layers": True,
            "projection_adapter": True,
            "projection_adapter_style": "reference",
            "scale_granularity": "tower",
            "scale_init": 0.1,
        },
    },
    # The CLIP-IQA-style baseline: fixed five-level prompts, no adapter, a parameter-free expected-level score.
    "zero_shot": {**_COMMON, "num_context_tokens": 0, "use_adapter": False, "quality_head": "expected_level"},
}


def preset_kwargs(name: str) -> dict[str, Any]:
    """The `QClipConfig` keyword arguments of preset `name` (a copy)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown Q-CLIP preset {name!r}; allowed: {sorted(PRESETS)}.")
    return copy.deepcopy(PRESETS[name])

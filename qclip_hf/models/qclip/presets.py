"""Named Q-CLIP presets: the paper's layout and the reference release's layout.

Both use the five-level prompts with three learnable "X X X" context vectors and mean frame pooling. They differ
where the paper and the authors' release differ (see `docs/method.md`):

| preset | r | placement | E-SCMA scales | P-SCMA | head |
|---|---|---|---|---|---|
| `"paper"` | 8 (the paper's 0.14M trainable parameters on PE-Core-L) | parallel (eq. 2-7) | per layer (`a_k`, `b_k`) | on the projected feature, single-Linear FFN, LayerNorm | `sum_k w_k cos_k`, no bias |
| `"reference"` | 128 (about 1.9M) | serial (block output) | per tower, init 0.1 | on the pooled feature, `Linear-Linear-GELU-Linear` | `similarities @ score_proj`, no bias |

`"reference"` is also what `QClipConfig()` builds by default (the code that produced the published numbers), except
the head: a bare `QClipConfig()` keeps `head_bias=True` so models saved before that field existed load unchanged.
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
        # The paper's head, Q = sum_k w_k * cos(t_k, V) (Sec. 3.4): learnable level weights, no bias term.
        "head_bias": False,
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
        # The release's `score_proj` is a bare (5, 1) parameter used as `similarities @ score_proj`: no bias.
        "head_bias": False,
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

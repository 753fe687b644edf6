"""Q-CLIP quality heads: the learnable level-weighted sum and the zero-shot expected level."""

from __future__ import annotations

import math

import torch
from torch import nn


class QClipQualityHead(nn.Module):
    """`score = sum_k w_k * cos(video, prompt_k) [+ b]`: learnable level weights.

    With `bias=False` it is the paper's `Q = sum_k w_k cos(t_k, V)` and the reference release's
    `similarities @ score_proj` (`proj.weight` is `score_proj.T`, levels in this model's order).
    """

    def __init__(self, num_levels: int, init_std: float | None = None, bias: bool = True):
        super().__init__()
        self.proj = nn.Linear(num_levels, 1, bias=bias)
        with torch.no_grad():
            self.proj.weight.normal_(0.0, init_std if init_std is not None else 1.0 / math.sqrt(num_levels))
            if bias:
                self.proj.bias.zero_()

    def forward(self, level_similarities: torch.Tensor) -> torch.Tensor:
        return self.proj(level_similarities).squeeze(-1)


class QClipExpectedLevelHead(nn.Module):
    """Zero-shot score: the expected level value under the softmax over levels (CLIP-IQA style), no parameters.

    Levels are valued evenly from 5 (the first, e.g. "excellent") down to 1 (the last, "bad").
    """

    def __init__(self, num_levels: int):
        super().__init__()
        self.register_buffer("level_values", torch.linspace(5.0, 1.0, num_levels), persistent=False)

    def forward(self, level_probs: torch.Tensor) -> torch.Tensor:
        return level_probs @ self.level_values.to(level_probs.dtype)

"""The small interface Q-CLIP needs from a dual-encoder (CLIP-like) backbone.

Q-CLIP never subclasses or copies a backbone: it reads a few facts off a `transformers` model instance
(where the encoder blocks are, where the token embedding and the projections are, how wide each tower
is) and calls its public feature methods. A backbone family is supported by one small
:class:`DualEncoderSpec` subclass registered for its `config.model_type`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import nn


def unwrap(module: nn.Module) -> nn.Module:
    """The original module under any PEFT tuner layer wrapping it (specs read shapes off the original)."""
    return module.get_base_layer() if hasattr(module, "get_base_layer") else module


@dataclass(frozen=True)
class TowerSpec:
    """Where one tower's parts live inside the backbone, as dotted module paths.

    Args:
        name (`str`): `"vision"` or `"text"`.
        blocks_path (`str`): path of the `nn.ModuleList` holding the encoder blocks, e.g.
            `"vision_model.encoder.layers"`. Block `i` is `f"{blocks_path}.{i}"`.
        num_blocks (`int`): number of encoder blocks.
        width (`int`): hidden width of the blocks (what a block takes and returns on its last dim).
        projection_path (`str`): path of the module whose output is the tower's final embedding (the
            projection; for towers without one, the pooling head). P-SCMA wraps this module.
        projection_in_features (`int`): last-dim size of that module's input when it is a pooled vector.
        embed_dim (`int`): size of the tower's final embedding.
        projection_input_is_pooled (`bool`): `True` when the module's input is the pooled feature
            (B, width); `False` when it takes the token sequence (e.g. SigLIP's attention-pooling head),
            in which case the pre-projection P-SCMA reads the module's output instead.
    """

    name: str
    blocks_path: str
    num_blocks: int
    width: int
    projection_path: str
    projection_in_features: int
    embed_dim: int
    projection_input_is_pooled: bool = True

    def block_path(self, index: int) -> str:
        return f"{self.blocks_path}.{index}"


class DualEncoderSpec(ABC):
    """Reads a dual-encoder backbone for Q-CLIP. One subclass per backbone family.

    Subclasses set `model_types` (the `config.model_type` values they handle) and implement the
    abstract methods. Feature methods return *unnormalised* embeddings of shape (N, embed_dim).
    """

    model_types: tuple[str, ...] = ()
    # Tokenizer padding the text tower needs: CLIP pools at the EOS token so any padding works;
    # SigLIP pools the last position and was trained with `padding="max_length"`.
    text_padding: str = "longest"

    @abstractmethod
    def vision_tower(self, model: nn.Module) -> TowerSpec: ...

    @abstractmethod
    def text_tower(self, model: nn.Module) -> TowerSpec: ...

    @abstractmethod
    def token_embedding(self, model: nn.Module) -> nn.Embedding:
        """The text tower's token embedding table (learnable prompt vectors replace some of its rows' outputs)."""

    @abstractmethod
    def image_features(self, model: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
        """Projected image embeddings (N, embed_dim) for `pixel_values` (N, C, H, W)."""

    @abstractmethod
    def text_features(
        self, model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Projected text embeddings (P, embed_dim) for token ids (P, L)."""

    def logit_scale(self, model: nn.Module) -> torch.Tensor:
        """Temperature (already exponentiated) the backbone was trained with; used for the level softmax."""
        scale = getattr(model, "logit_scale", None)
        if scale is None:
            return torch.tensor(100.0)
        return scale.detach().exp()

    def text_max_length(self, model: nn.Module) -> int:
        """Longest token sequence the text tower accepts."""
        return int(model.config.text_config.max_position_embeddings)

    def image_size(self, model: nn.Module) -> int:
        return int(model.config.vision_config.image_size)

    def towers(self, model: nn.Module) -> dict[str, TowerSpec]:
        return {"vision": self.vision_tower(model), "text": self.text_tower(model)}

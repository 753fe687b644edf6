"""SigLIP dual encoders (`SiglipModel`): no vision projection, an attention-pooling head instead."""

from __future__ import annotations

import torch
from torch import nn

from .base import DualEncoderSpec, TowerSpec, unwrap


class SiglipSpec(DualEncoderSpec):
    """`SiglipModel`: the vision tower ends in a multi-head attention pooling head (its output is the
    embedding), the text tower pools the last position and projects with `text_model.head`."""

    model_types = ("siglip",)
    text_padding = "max_length"

    def vision_tower(self, model: nn.Module) -> TowerSpec:
        cfg = model.config.vision_config
        return TowerSpec(
            name="vision",
            blocks_path="vision_model.encoder.layers",
            num_blocks=len(model.vision_model.encoder.layers),
            width=cfg.hidden_size,
            projection_path="vision_model.head",
            projection_in_features=cfg.hidden_size,
            embed_dim=cfg.hidden_size,
            projection_input_is_pooled=False,
        )

    def text_tower(self, model: nn.Module) -> TowerSpec:
        cfg = model.config.text_config
        head = unwrap(model.text_model.head)
        return TowerSpec(
            name="text",
            blocks_path="text_model.encoder.layers",
            num_blocks=len(model.text_model.encoder.layers),
            width=cfg.hidden_size,
            projection_path="text_model.head",
            projection_in_features=head.in_features,
            embed_dim=head.out_features,
        )

    def token_embedding(self, model: nn.Module) -> nn.Embedding:
        return model.text_model.embeddings.token_embedding

    def image_features(self, model: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
        return model.get_image_features(pixel_values=pixel_values).pooler_output

    def text_features(
        self, model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        # SigLIP was trained without a text attention mask (it pools the last, padded, position).
        return model.get_text_features(input_ids=input_ids).pooler_output

"""CLIP-style dual encoders: `CLIPModel` and `MetaClip2Model` (same module layout)."""

from __future__ import annotations

import torch
from torch import nn

from .base import DualEncoderSpec, TowerSpec, unwrap


class CLIPSpec(DualEncoderSpec):
    """`CLIPModel` / `MetaClip2Model`: pre-LN blocks in `*.encoder.layers`, linear projections after pooling."""

    model_types = ("clip", "metaclip_2")

    def vision_tower(self, model: nn.Module) -> TowerSpec:
        cfg = model.config.vision_config
        return TowerSpec(
            name="vision",
            blocks_path="vision_model.encoder.layers",
            num_blocks=len(model.vision_model.encoder.layers),
            width=cfg.hidden_size,
            projection_path="visual_projection",
            projection_in_features=unwrap(model.visual_projection).in_features,
            embed_dim=unwrap(model.visual_projection).out_features,
        )

    def text_tower(self, model: nn.Module) -> TowerSpec:
        cfg = model.config.text_config
        return TowerSpec(
            name="text",
            blocks_path="text_model.encoder.layers",
            num_blocks=len(model.text_model.encoder.layers),
            width=cfg.hidden_size,
            projection_path="text_projection",
            projection_in_features=unwrap(model.text_projection).in_features,
            embed_dim=unwrap(model.text_projection).out_features,
        )

    def token_embedding(self, model: nn.Module) -> nn.Embedding:
        return model.text_model.embeddings.token_embedding

    def image_features(self, model: nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
        return model.get_image_features(pixel_values=pixel_values).pooler_output

    def text_features(
        self, model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return model.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output

"""PE-Core (Meta's Perception Encoder) as a transformers dual encoder with the `CLIPModel` interface.

Numerically it follows timm's `vit_pe_core_*` (vision) and open_clip's `TextTransformer` (text), which reproduce
Meta's reference implementation; `tests/models/pe_core/test_parity_open_clip.py` checks the match.

Encoder blocks (`vision_model.encoder.layers[i]`, `text_model.encoder.layers[i]`, each an `nn.ModuleList`) are
[`PECoreEncoderLayer`]s: `layer(hidden_states, attention_mask=None, rotary_embeddings=None)` takes the hidden states
(B, L, width) as first positional argument and returns a tensor of the same shape (not a tuple). The encoder also
accepts blocks wrapped by a tuner that return a tuple whose first element is the hidden states.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling
from transformers.models.clip.modeling_clip import CLIPOutput

from .configuration_pe_core import PECoreConfig, PECoreTextConfig, PECoreVisionConfig
from .rotary_pe_core import (
    PECoreVisionRotaryEmbedding,
    RotaryEmbeddings,
    RotaryTable,
    apply_rotary_embeddings,
    apply_rotary_table,
    rotary_angles,
    split_rotate_qkv,
)


def _fuse_legacy_qkv(state_dict: dict, prefix: str, *args) -> None:
    # Checkpoints written before the fused projection hold `q_proj`, `k_proj`, `v_proj`: concatenate them in place.
    for kind in ("weight", "bias"):
        names = [f"{prefix}{p}_proj.{kind}" for p in ("q", "k", "v")]
        if all(name in state_dict for name in names) and f"{prefix}qkv.{kind}" not in state_dict:
            state_dict[f"{prefix}qkv.{kind}"] = torch.cat([state_dict.pop(name) for name in names])


class PECoreAttention(nn.Module):
    """Multi-head attention with one fused, biased q/k/v projection (`qkv`, rows q then k then v, as Meta's
    `in_proj_weight` and timm's `qkv`), an output projection and optional RoPE from a precomputed table.

    As cross-attention (`key_value_states` given, the pooling head) the query rows of `qkv` project the queries and
    the key/value rows the keys and values. State dicts with separate `q_proj` / `k_proj` / `v_proj` (the on-disk
    layout, see [`register_pe_core_checkpoint_conversion`]) also load with `load_state_dict`, through a pre-hook.
    """

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.hidden_size = hidden_size
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out_proj = nn.Linear(hidden_size, hidden_size)
        self._register_load_state_dict_pre_hook(_fuse_legacy_qkv)

    def forward(
        self,
        hidden_states: torch.Tensor,
        key_value_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_embeddings: RotaryEmbeddings | None = None,
    ) -> torch.Tensor:
        batch = hidden_states.shape[0]
        if key_value_states is None:
            # (B, L, 3 * width) -> 3 x (B, heads, L, head_dim), queries and keys rotated; the backward writes the
            # projection's gradient in one buffer.
            query, key, value = split_rotate_qkv(self.qkv(hidden_states), self.num_heads, rotary_embeddings)
        else:
            width = self.hidden_size
            weight, bias = self.qkv.weight, self.qkv.bias
            query = F.linear(hidden_states, weight[:width], bias[:width])
            query = query.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
            kv = F.linear(key_value_states, weight[width:], bias[width:])
            key, value = kv.unflatten(-1, (2, self.num_heads, self.head_dim)).permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask)
        return self.out_proj(out.transpose(1, 2).reshape(batch, -1, self.hidden_size))


class PECoreMLP(nn.Module):
    def __init__(self, hidden_size: int, intermediate_size: int, hidden_act: str):
        super().__init__()
        self.fc1 = nn.Linear(hidden_size, intermediate_size)
        self.activation_fn = ACT2FN[hidden_act]
        self.fc2 = nn.Linear(intermediate_size, hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class PECoreEncoderLayer(GradientCheckpointingLayer):
    """Pre-LN transformer block with optional layer scale: `x + ls1 * attn(ln1(x))`, then `x + ls2 * mlp(ln2(x))`.

    `forward(hidden_states, attention_mask=None, rotary_embeddings=None)` returns a tensor shaped like
    `hidden_states`.
    """

    def __init__(self, config: PECoreVisionConfig | PECoreTextConfig):
        super().__init__()
        width = config.hidden_size
        self.layer_norm1 = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.self_attn = PECoreAttention(width, config.num_attention_heads)
        self.layer_norm2 = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.mlp = PECoreMLP(width, config.intermediate_size, config.hidden_act)
        self.layer_scale_init_value = config.layer_scale_init_value
        has_scale = config.layer_scale_init_value is not None
        self.layer_scale1 = nn.Parameter(torch.empty(width)) if has_scale else None
        self.layer_scale2 = nn.Parameter(torch.empty(width)) if has_scale else None

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        rotary_embeddings: RotaryEmbeddings | None = None,
    ) -> torch.Tensor:
        update = self.self_attn(
            self.layer_norm1(hidden_states), attention_mask=attention_mask, rotary_embeddings=rotary_embeddings
        )
        if self.layer_scale1 is not None:
            update = update * self.layer_scale1
        hidden_states = hidden_states + update
        update = self.mlp(self.layer_norm2(hidden_states))
        if self.layer_scale2 is not None:
            update = update * self.layer_scale2
        return hidden_states + update


class PECoreEncoder(nn.Module):
    """A stack of [`PECoreEncoderLayer`] in `self.layers` (an `nn.ModuleList`)."""

    def __init__(self, config: PECoreVisionConfig | PECoreTextConfig):
        super().__init__()
        self.layers = nn.ModuleList([PECoreEncoderLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        rotary_embeddings: RotaryEmbeddings | None = None,
        output_hidden_states: bool = False,
    ) -> BaseModelOutput:
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        for layer in self.layers:
            out = layer(hidden_states, attention_mask=attention_mask, rotary_embeddings=rotary_embeddings)
            # A tuner may wrap a block and return (hidden_states, ...).
            hidden_states = out[0] if isinstance(out, tuple) else out
            if output_hidden_states:
                all_hidden_states = all_hidden_states + (hidden_states,)
        return BaseModelOutput(last_hidden_state=hidden_states, hidden_states=all_hidden_states)


class PECoreVisionEmbeddings(nn.Module):
    """Bias-free patch convolution, optional class token, learned absolute position embedding (class token included)."""

    def __init__(self, config: PECoreVisionConfig):
        super().__init__()
        self.config = config
        width = config.hidden_size
        self.patch_embedding = nn.Conv2d(
            config.num_channels, width, kernel_size=config.patch_size, stride=config.patch_size, bias=False
        )
        self.class_embedding = nn.Parameter(torch.empty(width)) if config.use_class_token else None
        self.position_embedding = nn.Parameter(torch.empty(config.num_positions, width))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        expected = (self.config.num_channels, self.config.image_size, self.config.image_size)
        if pixel_values.dim() != 4 or tuple(pixel_values.shape[1:]) != expected:
            raise ValueError(
                f"pixel_values must have shape (batch, {expected[0]}, {expected[1]}, {expected[2]}) for this PE-Core "
                f"geometry, got {tuple(pixel_values.shape)}; resize frames to vision_config.image_size."
            )
        weight = self.patch_embedding.weight
        patches = self.patch_embedding(pixel_values.to(weight.dtype)).flatten(2).transpose(1, 2)
        if self.class_embedding is not None:
            cls = self.class_embedding.view(1, 1, -1).expand(patches.shape[0], -1, -1)
            patches = torch.cat([cls, patches], dim=1)
        return patches + self.position_embedding


class PECoreAttentionPoolingHead(nn.Module):
    """One learned probe attends over the token sequence, followed by a residual MLP (Meta's `AttentionPooling`)."""

    def __init__(self, config: PECoreVisionConfig):
        super().__init__()
        width = config.hidden_size
        self.probe = nn.Parameter(torch.empty(1, 1, width))
        self.attention = PECoreAttention(width, config.pooling_num_attention_heads)
        self.layernorm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.mlp = PECoreMLP(width, config.pooling_intermediate_size, config.hidden_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        probe = self.probe.expand(hidden_states.shape[0], -1, -1).to(hidden_states.dtype)
        pooled = self.attention(probe, key_value_states=hidden_states)
        pooled = pooled + self.mlp(self.layernorm(pooled))
        return pooled[:, 0]


class PECoreVisionTransformer(nn.Module):
    """Vision tower: embeddings -> pre-LN -> blocks (with 2D RoPE) -> post-LN -> attention pooling.

    Returns `last_hidden_state` after the post-LayerNorm (what the pooling head reads) and the unprojected pooled
    feature as `pooler_output`.
    """

    def __init__(self, config: PECoreVisionConfig):
        super().__init__()
        self.config = config
        self.embeddings = PECoreVisionEmbeddings(config)
        self.rotary_emb = PECoreVisionRotaryEmbedding(config)
        self.pre_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.encoder = PECoreEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.head = PECoreAttentionPoolingHead(config)

    def forward(self, pixel_values: torch.Tensor, output_hidden_states: bool = False) -> BaseModelOutputWithPooling:
        hidden_states = self.pre_layernorm(self.embeddings(pixel_values))
        encoded = self.encoder(
            hidden_states,
            rotary_embeddings=self.rotary_emb(hidden_states.device),
            output_hidden_states=output_hidden_states,
        )
        last_hidden_state = self.post_layernorm(encoded.last_hidden_state)
        return BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state,
            pooler_output=self.head(last_hidden_state),
            hidden_states=encoded.hidden_states,
        )


class PECoreTextEmbeddings(nn.Module):
    def __init__(self, config: PECoreTextConfig):
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Parameter(torch.empty(config.max_position_embeddings, config.hidden_size))

    def forward(self, input_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.token_embedding(input_ids)
        return inputs_embeds + self.position_embedding[: inputs_embeds.shape[1]]


class PECoreTextTransformer(nn.Module):
    """Text tower: token + position embeddings -> causal blocks -> final LN -> pool at the end-of-text token.

    The pooled position is `input_ids.argmax(-1)`: the end-of-text id is the largest in the CLIP vocabulary, so this
    is the first end-of-text token whatever the padding id (open_clip pads with 0, the HF tokenizer with EOT).
    """

    def __init__(self, config: PECoreTextConfig):
        super().__init__()
        self.config = config
        self.embeddings = PECoreTextEmbeddings(config)
        self.encoder = PECoreEncoder(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def _attention_mask(self, attention_mask: torch.Tensor | None, length: int, dtype: torch.dtype, device) -> torch.Tensor:
        blocked = torch.ones(length, length, dtype=torch.bool, device=device).triu(1)[None, None]
        if attention_mask is not None:
            blocked = blocked | (attention_mask[:, None, None, :] == 0)
        # A large finite negative (not -inf) keeps fully padded rows finite when left padding is used.
        return torch.zeros(blocked.shape, dtype=dtype, device=device).masked_fill(blocked, torch.finfo(dtype).min)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> BaseModelOutputWithPooling:
        if input_ids is None:
            raise ValueError("input_ids is required: the text tower pools at the end-of-text token it marks.")
        length = input_ids.shape[1]
        if length > self.config.max_position_embeddings:
            raise ValueError(
                f"input_ids has {length} tokens but the PE-Core text tower takes at most "
                f"text_config.max_position_embeddings={self.config.max_position_embeddings}; tokenize with "
                "truncation=True, max_length=text_config.max_position_embeddings."
            )
        if inputs_embeds is not None and inputs_embeds.shape[:2] != input_ids.shape:
            raise ValueError(
                f"inputs_embeds shape {tuple(inputs_embeds.shape)} does not match input_ids shape {tuple(input_ids.shape)}."
            )
        hidden_states = self.embeddings(input_ids=input_ids, inputs_embeds=inputs_embeds)
        mask = self._attention_mask(attention_mask, length, hidden_states.dtype, hidden_states.device)
        encoded = self.encoder(hidden_states, attention_mask=mask, output_hidden_states=output_hidden_states)
        last_hidden_state = self.final_layer_norm(encoded.last_hidden_state)
        eot = input_ids.argmax(dim=-1)
        pooled = last_hidden_state[torch.arange(last_hidden_state.shape[0], device=eot.device), eot]
        return BaseModelOutputWithPooling(
            last_hidden_state=last_hidden_state, pooler_output=pooled, hidden_states=encoded.hidden_states
        )


class PECorePreTrainedModel(PreTrainedModel):
    config: PECoreConfig
    config_class = PECoreConfig
    base_model_prefix = "pe_core"
    input_modalities = ("image", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["PECoreEncoderLayer", "PECoreVisionEmbeddings", "PECoreTextEmbeddings"]

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        # Scales follow Meta's / open_clip's initialisation of the same parameters.
        super()._init_weights(module)
        if isinstance(module, PECoreVisionEmbeddings):
            scale = module.position_embedding.shape[-1] ** -0.5
            if module.class_embedding is not None:
                init.normal_(module.class_embedding, std=scale)
            init.normal_(module.position_embedding, std=scale)
        elif isinstance(module, PECoreTextEmbeddings):
            init.normal_(module.position_embedding, std=0.01)
        elif isinstance(module, PECoreAttentionPoolingHead):
            init.normal_(module.probe, std=module.probe.shape[-1] ** -0.5)
        elif isinstance(module, PECoreEncoderLayer) and module.layer_scale1 is not None:
            init.constant_(module.layer_scale1, module.layer_scale_init_value)
            init.constant_(module.layer_scale2, module.layer_scale_init_value)
        elif isinstance(module, PECoreVisionRotaryEmbedding):
            # Non-persistent buffers are not in checkpoints: after `from_pretrained` (built on the meta device) they
            # hold garbage until set here.
            cos, sin = module.compute_table(device=module.cos.device)
            init.copy_(module.cos, cos)
            init.copy_(module.sin, sin)
        elif isinstance(module, PECoreModel):
            init.constant_(module.logit_scale, self.config.logit_scale_init_value)


class PECoreModel(PECorePreTrainedModel):
    r"""PE-Core dual encoder with `CLIPModel`'s interface: `get_image_features` / `get_text_features` return a
    `BaseModelOutputWithPooling` whose `pooler_output` is the projected (unnormalised) embedding.

    Example:
        ```python
        >>> import torch
        >>> from qclip_hf.models.pe_core import PECoreConfig, PECoreModel
        >>> config = PECoreConfig(
        ...     vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        ...         image_size=32, patch_size=8, pooling_num_attention_heads=4, pooling_intermediate_size=64),
        ...     text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        ...         num_attention_heads=4),
        ...     projection_dim=16)
        >>> model = PECoreModel(config).eval()
        >>> model.get_image_features(pixel_values=torch.zeros(2, 3, 32, 32)).pooler_output.shape
        torch.Size([2, 16])
        ```
    """

    def __init__(self, config: PECoreConfig):
        super().__init__(config)
        # `post_init` sets every parameter through `_init_weights`: skip the torch layers' own `reset_parameters`,
        # which would draw every weight a first time only to be overwritten (half of a new model's build time).
        with init.no_init_weights():
            self.vision_model = PECoreVisionTransformer(config.vision_config)
            self.text_model = PECoreTextTransformer(config.text_config)
            # Meta's checkpoints have no vision projection bias (conversion writes zeros); timm's / open_clip's have
            # one.
            self.visual_projection = nn.Linear(config.vision_config.hidden_size, config.projection_dim)
            self.text_projection = nn.Linear(config.text_config.hidden_size, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.text_model.embeddings.token_embedding

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.text_model.embeddings.token_embedding = value

    def get_image_features(
        self, pixel_values: torch.Tensor, output_hidden_states: bool = False
    ) -> BaseModelOutputWithPooling:
        """Vision tower outputs with `pooler_output` replaced by the projected image embedding (N, projection_dim)."""
        outputs = self.vision_model(pixel_values=pixel_values, output_hidden_states=output_hidden_states)
        outputs.pooler_output = self.visual_projection(outputs.pooler_output)
        return outputs

    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool = False,
    ) -> BaseModelOutputWithPooling:
        """Text tower outputs with `pooler_output` replaced by the projected text embedding (N, projection_dim).

        `inputs_embeds` (N, L, width), if given, replaces the token embedding lookup; `input_ids` still marks the
        end-of-text position to pool.
        """
        outputs = self.text_model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states,
        )
        outputs.pooler_output = self.text_projection(outputs.pooler_output)
        return outputs

    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        return_loss: bool = False,
        output_hidden_states: bool = False,
    ) -> CLIPOutput:
        """Image-text similarity logits scaled by `logit_scale.exp()`, as `CLIPModel.forward`."""
        vision_outputs = self.get_image_features(pixel_values, output_hidden_states=output_hidden_states)
        text_outputs = self.get_text_features(
            input_ids, attention_mask=attention_mask, output_hidden_states=output_hidden_states
        )
        image_embeds = F.normalize(vision_outputs.pooler_output, dim=-1)
        text_embeds = F.normalize(text_outputs.pooler_output, dim=-1)
        logits_per_text = self.logit_scale.exp() * text_embeds @ image_embeds.t()
        logits_per_image = logits_per_text.t()
        loss = None
        if return_loss:
            targets = torch.arange(len(logits_per_text), device=logits_per_text.device)
            loss = (F.cross_entropy(logits_per_text, targets) + F.cross_entropy(logits_per_image, targets)) / 2
        return CLIPOutput(
            loss=loss,
            logits_per_image=logits_per_image,
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )


def register_pe_core_checkpoint_conversion() -> None:
    """Map the on-disk layout of PE-Core checkpoints (separate `q_proj` / `k_proj` / `v_proj`, as every qclip-hf
    version writes them) to the fused `qkv` projection: transformers' checkpoint conversion mapping concatenates them
    in `from_pretrained` and `save_pretrained` applies the reverse split, so checkpoints stay readable by earlier
    versions. Called when this module is imported; idempotent."""
    from transformers.conversion_mapping import register_checkpoint_conversion_mapping
    from transformers.core_model_loading import Concatenate, WeightConverter

    mapping = [
        WeightConverter(
            source_patterns=[f"q_proj.{kind}", f"k_proj.{kind}", f"v_proj.{kind}"],
            target_patterns=f"qkv.{kind}",
            operations=[Concatenate(dim=0)],
        )
        for kind in ("weight", "bias")
    ]
    register_checkpoint_conversion_mapping("pe_core", mapping, overwrite=True)


register_pe_core_checkpoint_conversion()


__all__ = [
    "PECoreModel",
    "PECorePreTrainedModel",
    "RotaryTable",
    "apply_rotary_embeddings",
    "apply_rotary_table",
    "register_pe_core_checkpoint_conversion",
    "rotary_angles",
]

"""Configuration of PE-Core (Meta's Perception Encoder, a CLIP-style dual encoder) as a transformers model.

The published geometries (T, S, B, L, G) are available as presets, named as Meta names its checkpoints
(`"PE-Core-L14-336"`) or as open_clip does (`"PE-Core-L-14-336"`). Each tower keeps its own width: PE-Core-B16 has a
768-wide vision tower and a 1024-wide text tower.
"""

from __future__ import annotations

import math
from typing import Any

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

# Activations checked without importing `transformers.activations`, which pulls hub kernels, torch.distributed.tensor,
# sympy and dynamo (seconds of start-up). Any other name is checked against `ACT2FN`, imported only then.
_COMMON_ACTIVATIONS = frozenset({"gelu", "gelu_new", "gelu_pytorch_tanh", "quick_gelu", "relu", "silu", "swish", "tanh"})


def _require_positive(config_name: str, **fields: Any) -> None:
    for name, value in fields.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{config_name}.{name} must be a positive integer, got {value!r}.")


def _require_activation(config_name: str, hidden_act: str) -> None:
    if hidden_act in _COMMON_ACTIVATIONS:
        return
    from transformers.activations import ACT2FN

    if hidden_act not in ACT2FN:
        raise ValueError(
            f"{config_name}.hidden_act={hidden_act!r} is not a known activation; allowed: {sorted(ACT2FN)}."
        )


def _require_divisible(config_name: str, width_name: str, width: int, heads_name: str, heads: int) -> None:
    if width % heads != 0:
        raise ValueError(
            f"{config_name}.{width_name}={width} must be divisible by {config_name}.{heads_name}={heads}."
        )


def _require_layer_scale(config_name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise ValueError(
            f"{config_name}.layer_scale_init_value must be None (no layer scale) or a positive float, got {value!r}."
        )


@strict
class PECoreVisionConfig(PreTrainedConfig):
    r"""Vision tower of PE-Core: a pre-LN ViT with a class token, a learned absolute position embedding, 2D rotary
    position embedding in every self-attention, optional layer scale, and an attention-pooling head.

    Args:
        hidden_size (`int`, *optional*, defaults to 1024): width of the encoder blocks.
        intermediate_size (`int`, *optional*, defaults to 4096): hidden width of the block MLPs.
        num_hidden_layers (`int`, *optional*, defaults to 24): number of encoder blocks.
        num_attention_heads (`int`, *optional*, defaults to 16): heads of the block self-attention. The head
            width must be a multiple of 4 (2D RoPE rotates two axes with pairs of channels each).
        num_channels (`int`, *optional*, defaults to 3): input channels.
        image_size (`int`, *optional*, defaults to 336): side of the square input image.
        patch_size (`int`, *optional*, defaults to 14): side of a square patch; must divide `image_size`.
        hidden_act (`str`, *optional*, defaults to `"gelu"`): MLP activation (a key of `transformers.ACT2FN`).
        layer_norm_eps (`float`, *optional*, defaults to 1e-5): LayerNorm epsilon.
        use_class_token (`bool`, *optional*, defaults to `True`): prepend a learned class token (PE-Core G has none).
        rope_theta (`float`, *optional*, defaults to 10000.0): RoPE base ("temperature").
        rope_grid_offset (`float`, *optional*, defaults to 1.0): added to the patch grid coordinates before RoPE.
            The published checkpoints use 1 with a class token (the class token takes position 0 and is not
            rotated) and 0 without one.
        layer_scale_init_value (`float`, *optional*): initial value of the per-channel layer scale on both block
            branches; `None` (the published PE-Core checkpoints) disables layer scale.
        pooling_num_attention_heads (`int`, *optional*, defaults to 8): heads of the attention-pooling head.
        pooling_intermediate_size (`int`, *optional*, defaults to 4096): hidden width of the pooling head's MLP.
        initializer_range (`float`, *optional*, defaults to 0.02): std of the truncated-normal weight init.
        legacy_class_token_rope (`bool`, *optional*, defaults to `False`): reproduce the rotary layout of Meta's
            Perception Encoder code before its commit "Fix Rope bug when using cls token" (2025-05-01), which the
            Q-CLIP authors' release vendors: the class token's zero-angle row is appended *after* the patch rows
            while the class token is first in the sequence, so the class token is rotated with the first patch's
            angles, every patch with its right-hand neighbour's and the last patch not at all. `False` (default) is
            the fixed layout of Meta's current code, timm and open_clip, with which the published checkpoints were
            trained. Needs `use_class_token=True` (without a class token both layouts coincide).

    Example:
        ```python
        >>> from qclip_hf.models.pe_core import PECoreVisionConfig
        >>> config = PECoreVisionConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        ...     num_attention_heads=4, image_size=32, patch_size=8, pooling_num_attention_heads=4,
        ...     pooling_intermediate_size=128)
        >>> config.num_patches
        16
        ```
    """

    model_type = "pe_core_vision_model"
    base_config_key = "vision_config"

    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    num_channels: int = 3
    image_size: int = 336
    patch_size: int = 14
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    use_class_token: bool = True
    rope_theta: float = 10000.0
    rope_grid_offset: float = 1.0
    layer_scale_init_value: float | None = None
    pooling_num_attention_heads: int = 8
    pooling_intermediate_size: int = 4096
    initializer_range: float = 0.02
    legacy_class_token_rope: bool = False

    def __post_init__(self, **kwargs):
        name = type(self).__name__
        if not isinstance(self.legacy_class_token_rope, bool):
            raise ValueError(
                f"{name}.legacy_class_token_rope must be True or False, got {self.legacy_class_token_rope!r}."
            )
        if self.legacy_class_token_rope and not self.use_class_token:
            raise ValueError(
                f"{name}.legacy_class_token_rope=True needs use_class_token=True: the pre-fix rotary layout only "
                "differs from the fixed one when there is a class token. Set legacy_class_token_rope=False."
            )
        _require_positive(
            name,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            num_channels=self.num_channels,
            image_size=self.image_size,
            patch_size=self.patch_size,
            pooling_num_attention_heads=self.pooling_num_attention_heads,
            pooling_intermediate_size=self.pooling_intermediate_size,
        )
        _require_divisible(name, "hidden_size", self.hidden_size, "num_attention_heads", self.num_attention_heads)
        _require_divisible(
            name, "hidden_size", self.hidden_size, "pooling_num_attention_heads", self.pooling_num_attention_heads
        )
        head_dim = self.hidden_size // self.num_attention_heads
        if head_dim % 4 != 0:
            raise ValueError(
                f"{name}: the attention head width hidden_size / num_attention_heads = {head_dim} must be a multiple "
                "of 4 for the 2D rotary position embedding."
            )
        if self.image_size % self.patch_size != 0:
            raise ValueError(
                f"{name}.image_size={self.image_size} must be a multiple of {name}.patch_size={self.patch_size}."
            )
        _require_activation(name, self.hidden_act)
        _require_layer_scale(name, self.layer_scale_init_value)
        if self.rope_theta <= 0:
            raise ValueError(f"{name}.rope_theta must be positive, got {self.rope_theta!r}.")
        if self.layer_norm_eps <= 0:
            raise ValueError(f"{name}.layer_norm_eps must be positive, got {self.layer_norm_eps!r}.")
        super().__post_init__(**kwargs)

    @property
    def grid_size(self) -> int:
        """Patches per image side."""
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid_size**2

    @property
    def num_positions(self) -> int:
        """Rows of the absolute position embedding (patches plus the class token, if any)."""
        return self.num_patches + int(self.use_class_token)


@strict
class PECoreTextConfig(PreTrainedConfig):
    r"""Text tower of PE-Core: a causal pre-LN transformer over CLIP BPE tokens, pooled at the end-of-text token
    (the position of the largest token id, as open_clip and Meta pool).

    Args:
        vocab_size (`int`, *optional*, defaults to 49408): size of the CLIP BPE vocabulary.
        hidden_size (`int`, *optional*, defaults to 1024): width of the encoder blocks.
        intermediate_size (`int`, *optional*, defaults to 4096): hidden width of the block MLPs.
        num_hidden_layers (`int`, *optional*, defaults to 24): number of encoder blocks.
        num_attention_heads (`int`, *optional*, defaults to 16): attention heads.
        max_position_embeddings (`int`, *optional*, defaults to 32): text context length (32 for T/S/B/L, 72 for G).
        hidden_act (`str`, *optional*, defaults to `"gelu"`): MLP activation (a key of `transformers.ACT2FN`).
        layer_norm_eps (`float`, *optional*, defaults to 1e-5): LayerNorm epsilon.
        layer_scale_init_value (`float`, *optional*): layer scale init; `None` (published checkpoints) disables it.
        initializer_range (`float`, *optional*, defaults to 0.02): std of the token embedding init.
        pad_token_id, bos_token_id, eos_token_id (`int`, *optional*): special token ids of the CLIP BPE tokenizer.

    Example:
        ```python
        >>> from qclip_hf.models.pe_core import PECoreTextConfig
        >>> PECoreTextConfig(hidden_size=64, num_attention_heads=4).max_position_embeddings
        32
        ```
    """

    model_type = "pe_core_text_model"
    base_config_key = "text_config"

    vocab_size: int = 49408
    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    max_position_embeddings: int = 32
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-5
    layer_scale_init_value: float | None = None
    initializer_range: float = 0.02
    pad_token_id: int | None = 49407
    bos_token_id: int | None = 49406
    eos_token_id: int | None = 49407

    def __post_init__(self, **kwargs):
        name = type(self).__name__
        _require_positive(
            name,
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            max_position_embeddings=self.max_position_embeddings,
        )
        _require_divisible(name, "hidden_size", self.hidden_size, "num_attention_heads", self.num_attention_heads)
        _require_activation(name, self.hidden_act)
        _require_layer_scale(name, self.layer_scale_init_value)
        if self.layer_norm_eps <= 0:
            raise ValueError(f"{name}.layer_norm_eps must be positive, got {self.layer_norm_eps!r}.")
        super().__post_init__(**kwargs)


# Geometries as Meta's `core/vision_encoder/config.py`, timm's `vit_pe_core_*` and open_clip's `PE-Core-*.json`
# define them (image size / patch, tower widths, depths, heads, text context, embedding size).
_PRESETS: dict[str, dict[str, Any]] = {
    "PE-Core-T16-384": {
        "vision": dict(hidden_size=192, intermediate_size=768, num_hidden_layers=12, num_attention_heads=3,
                       image_size=384, patch_size=16, pooling_intermediate_size=768),
        "text": dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                     max_position_embeddings=32),
        "projection_dim": 512,
    },
    "PE-Core-S16-384": {
        "vision": dict(hidden_size=384, intermediate_size=1536, num_hidden_layers=12, num_attention_heads=6,
                       image_size=384, patch_size=16, pooling_intermediate_size=1536),
        "text": dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                     max_position_embeddings=32),
        "projection_dim": 512,
    },
    "PE-Core-B16-224": {
        "vision": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                       image_size=224, patch_size=16, pooling_intermediate_size=3072),
        "text": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                     max_position_embeddings=32),
        "projection_dim": 1024,
    },
    "PE-Core-L14-336": {
        "vision": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                       image_size=336, patch_size=14, pooling_intermediate_size=4096),
        "text": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                     max_position_embeddings=32),
        "projection_dim": 1024,
    },
    "PE-Core-G14-448": {
        "vision": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=50, num_attention_heads=16,
                       image_size=448, patch_size=14, use_class_token=False, rope_grid_offset=0.0,
                       pooling_intermediate_size=6144),
        "text": dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=24, num_attention_heads=20,
                     max_position_embeddings=72),
        "projection_dim": 1280,
    },
}

# open_clip's model names for the same checkpoints (`timm/PE-Core-L-14-336` on the Hub).
_OPEN_CLIP_NAMES = {
    "PE-Core-T-16-384": "PE-Core-T16-384",
    "PE-Core-S-16-384": "PE-Core-S16-384",
    "PE-Core-B-16": "PE-Core-B16-224",
    "PE-Core-L-14-336": "PE-Core-L14-336",
    "PE-Core-bigG-14-448": "PE-Core-G14-448",
}

PE_CORE_PRESETS: tuple[str, ...] = tuple(_PRESETS)


def resolve_pe_core_preset(name: str) -> str:
    """The canonical (Meta) preset name for `name`, which may also be open_clip's name or a Hub id ending in it."""
    short = name.rsplit("/", 1)[-1]
    if short in _PRESETS:
        return short
    if short in _OPEN_CLIP_NAMES:
        return _OPEN_CLIP_NAMES[short]
    raise ValueError(
        f"preset={name!r} is not a PE-Core geometry; allowed: {list(_PRESETS) + list(_OPEN_CLIP_NAMES)}."
    )


@strict
class PECoreConfig(PreTrainedConfig):
    r"""Configuration of [`PECoreModel`]: a vision tower, a text tower and the shared embedding size.

    Args:
        text_config (`dict` or [`PECoreTextConfig`], *optional*): text tower configuration.
        vision_config (`dict` or [`PECoreVisionConfig`], *optional*): vision tower configuration.
        projection_dim (`int`, *optional*, defaults to 1024): size of the joint image-text embedding.
        logit_scale_init_value (`float`, *optional*, defaults to 2.6592): initial `logit_scale` (ln(1/0.07)).

    Example:
        ```python
        >>> from qclip_hf.models.pe_core import PECoreConfig
        >>> config = PECoreConfig.from_preset("PE-Core-L14-336")
        >>> config.vision_config.image_size, config.text_config.max_position_embeddings
        (336, 32)
        ```
    """

    model_type = "pe_core"
    sub_configs_defaults = {"text_config": PECoreTextConfig, "vision_config": PECoreVisionConfig}

    text_config: dict | PECoreTextConfig | None = None
    vision_config: dict | PECoreVisionConfig | None = None
    projection_dim: int = 1024
    logit_scale_init_value: float = 2.6592

    def __post_init__(self, **kwargs):
        _require_positive(type(self).__name__, projection_dim=self.projection_dim)
        super().__post_init__(**kwargs)

    @classmethod
    def from_preset(cls, name: str, **kwargs: Any) -> PECoreConfig:
        """Config of a published PE-Core geometry (random weights when a model is built from it).

        Args:
            name (`str`): one of `PE_CORE_PRESETS` (`"PE-Core-L14-336"`, ...) or open_clip's name for it
                (`"PE-Core-L-14-336"`, optionally as `"timm/PE-Core-L-14-336"`).
            kwargs: overrides of top-level fields (`projection_dim`, `logit_scale_init_value`, ...).

        Example:
            ```python
            >>> PECoreConfig.from_preset("PE-Core-B-16").vision_config.hidden_size
            768
            ```
        """
        preset = _PRESETS[resolve_pe_core_preset(name)]
        fields = {"projection_dim": preset["projection_dim"], **kwargs}
        return cls(
            vision_config=PECoreVisionConfig(**preset["vision"]),
            text_config=PECoreTextConfig(**preset["text"]),
            **fields,
        )


__all__ = [
    "PE_CORE_PRESETS",
    "PECoreConfig",
    "PECoreTextConfig",
    "PECoreVisionConfig",
    "resolve_pe_core_preset",
]

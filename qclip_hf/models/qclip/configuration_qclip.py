"""Q-CLIP model configuration."""

from __future__ import annotations

import copy
import os
from dataclasses import fields
from typing import Any

from transformers import AutoConfig, PretrainedConfig

from ...tuners.scma.config import SCMAConfig

PROMPT_SCHEMES: dict[str, tuple[str, ...]] = {
    "five_level": ("excellent", "good", "fair", "poor", "bad"),
    # Table 4 of the paper: one antonym pair instead of five levels.
    "antonym": ("good", "bad"),
}
FRAME_POOLINGS = ("mean", "max")
QUALITY_HEADS = ("linear", "expected_level")
# The paper's backbone: Meta's release, converted to a transformers checkpoint on first use (see models/pe_core).
DEFAULT_BACKBONE = "facebook/PE-Core-L14-336"
# The SCMA fields that describe the method (the rest of a PeftConfig is PEFT bookkeeping).
SCMA_FIELDS = tuple(
    f.name for f in fields(SCMAConfig) if f.name in {
        "r", "layers", "towers", "placement", "share_across_towers", "share_ffn_across_layers", "projection_adapter",
        "projection_adapter_style", "scale_granularity", "scale_init",
    }
)


class QClipConfig(PretrainedConfig):
    r"""
    Configuration of a [`QClipModel`]: a frozen dual-encoder backbone, the SCMA adapter, learnable quality prompts
    and the quality head.

    Args:
        backbone (`str`, *optional*): defaults to `"facebook/PE-Core-L14-336"` (the paper's backbone; Meta's `.pt`
            release is converted once on first use) unless `backbone_config` is given.
            Hub id or local path of the dual encoder (CLIP, SigLIP, MetaCLIP 2, PE-Core). Its weights are loaded from
            there every time and never saved with Q-CLIP. Mutually exclusive with `backbone_config`.
        backbone_revision (`str`, *optional*): revision of `backbone` on the Hub.
        backbone_config_overrides (`dict`, *optional*): attributes to set on the backbone's config before its
            weights load, sub-configs as nested dicts, e.g. `{"vision_config": {"legacy_class_token_rope": True}}`
            (what a converted release checkpoint needs on the stock PE-Core backbone). Applied to `backbone_config`
            too.
        backbone_config (`dict` or `PretrainedConfig`, *optional*):
            Architecture of a backbone built with random weights (tiny test models, meta-device parameter counts).
        tokenizer (`str`, *optional*): Hub id or path of the tokenizer; defaults to `backbone`.
        local_path_fallbacks (`dict`, *optional*): written by `QClipModel.save_pretrained`, not set by hand: the
            absolute paths (`{"backbone": ..., "tokenizer": ...}`) of local folders that lie outside the saved model
            folder. `backbone` / `tokenizer` then name them relative to the model folder (`../../tiny_backbone`), so
            moving or copying the folder that holds both keeps the model loading; these paths are tried when the
            relative one no longer resolves (the model folder moved alone).
        num_frames (`int`, defaults to 8): frames sampled per video.
        prompt_scheme (`str`, defaults to `"five_level"`): `"five_level"` (excellent ... bad) or `"antonym"`
            (good / bad, the paper's Table 4).
        prompt_template (`str`, defaults to `"a video of {} quality"`): the text after the context tokens; `{}` is
            replaced by each level name.
        num_context_tokens (`int`, defaults to 3): learnable context vectors (CoOp) shared by all prompts; 0 gives
            fixed prompts (`prompt_template` alone, the zero-shot CLIP-IQA-style baseline).
        context_init (`str`, *optional*, defaults to `"X X X"`): text whose token embeddings initialise the context;
            it must tokenise into `num_context_tokens` tokens. `None` initialises from N(0, 0.02) with "X" placeholders.
        frame_pooling (`str`, defaults to `"mean"`): how per-frame features become the video feature (`"mean"`,
            the paper's best, or `"max"`).
        use_adapter (`bool`, defaults to `True`): inject SCMA; `False` keeps the bare backbone (zero-shot mode).
        scma_config (`dict`, *optional*): SCMA settings (the fields of [`SCMAConfig`] that describe the method);
            missing fields take [`SCMAConfig`]'s defaults, the reference release's layout.
        head_init_std (`float`, *optional*): std of the level weights' normal init; defaults to `1/sqrt(num_levels)`.
        quality_head (`str`, defaults to `"linear"`): `"linear"`, the learnable weighted sum of the similarities (the
            paper and reference release); or `"expected_level"`, the parameter-free zero-shot score of CLIP-IQA style:
            the expected level value (excellent = 5 ... bad = 1) under the softmax over levels.
        head_bias (`bool`, defaults to `True`): give the `"linear"` head a learnable bias, `score = sum_k w_k cos_k +
            b`. The reference release's head (`score_proj`, `similarities @ score_proj`) and the paper's equation
            `Q = sum_k w_k cos(t_k, V)` have none, so the `"reference"` and `"paper"` presets set `False`; the default
            stays `True` so models saved before this field existed load unchanged. A bias only shifts every score by
            the same amount: it changes no rank or linear correlation, only the training trajectory of losses that
            are not shift-invariant (MSE).

    Example:
        ```python
        >>> from qclip_hf import QClipConfig
        >>> config = QClipConfig.from_preset("paper", backbone="openai/clip-vit-base-patch16")
        >>> config.scma_config["r"], config.level_names
        (8, ('excellent', 'good', 'fair', 'poor', 'bad'))
        ```
    """

    model_type = "qclip"
    sub_configs = {"backbone_config": AutoConfig}

    def __init__(
        self,
        backbone: str | None = None,
        backbone_revision: str | None = None,
        backbone_config: dict | PretrainedConfig | None = None,
        tokenizer: str | None = None,
        num_frames: int = 8,
        prompt_scheme: str = "five_level",
        prompt_template: str = "a video of {} quality",
        num_context_tokens: int = 3,
        context_init: str | None = "X X X",
        frame_pooling: str = "mean",
        use_adapter: bool = True,
        scma_config: dict | SCMAConfig | None = None,
        head_init_std: float | None = None,
        quality_head: str = "linear",
        head_bias: bool = True,
        backbone_config_overrides: dict | None = None,
        local_path_fallbacks: dict | None = None,
        **kwargs: Any,
    ):
        if backbone_config is not None and backbone is not None:
            raise ValueError(
                f"QClipConfig got both backbone={backbone!r} and backbone_config; give a Hub id/path to load weights "
                "from, or a config to build a randomly initialised backbone, not both."
            )
        if isinstance(backbone_config, dict):
            backbone_config = copy.deepcopy(backbone_config)
            if "model_type" not in backbone_config:
                raise ValueError("QClipConfig.backbone_config needs a 'model_type' key (e.g. 'clip', 'siglip').")
            backbone_config = AutoConfig.for_model(**backbone_config)
        elif backbone_config is not None and not isinstance(backbone_config, PretrainedConfig):
            raise ValueError(
                f"QClipConfig.backbone_config must be a dict or a PretrainedConfig, got {type(backbone_config).__name__}."
            )
        if backbone_config is None and backbone is None:
            backbone = DEFAULT_BACKBONE
        if backbone_config is None and (not isinstance(backbone, str) or not backbone):
            raise ValueError(f"QClipConfig.backbone={backbone!r} must be a Hub id or a local path (or give backbone_config).")

        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f"QClipConfig.num_frames={num_frames!r} must be a positive int.")
        if prompt_scheme not in PROMPT_SCHEMES:
            raise ValueError(f"QClipConfig.prompt_scheme={prompt_scheme!r} is not valid; allowed: {list(PROMPT_SCHEMES)}.")
        if not isinstance(prompt_template, str) or prompt_template.count("{}") != 1:
            raise ValueError(
                f"QClipConfig.prompt_template={prompt_template!r} must be a string with exactly one '{{}}' for the level."
            )
        if isinstance(num_context_tokens, bool) or not isinstance(num_context_tokens, int) or num_context_tokens < 0:
            raise ValueError(f"QClipConfig.num_context_tokens={num_context_tokens!r} must be an int >= 0.")
        if context_init is not None and (not isinstance(context_init, str) or not context_init.strip()):
            raise ValueError(f"QClipConfig.context_init={context_init!r} must be a non-empty string or None.")
        if frame_pooling not in FRAME_POOLINGS:
            raise ValueError(f"QClipConfig.frame_pooling={frame_pooling!r} is not valid; allowed: {list(FRAME_POOLINGS)}.")
        if head_init_std is not None and (isinstance(head_init_std, bool) or not isinstance(head_init_std, (int, float))
                                          or head_init_std <= 0):
            raise ValueError(f"QClipConfig.head_init_std={head_init_std!r} must be a positive number or None.")

        if quality_head not in QUALITY_HEADS:
            raise ValueError(f"QClipConfig.quality_head={quality_head!r} is not valid; allowed: {list(QUALITY_HEADS)}.")
        if backbone_config_overrides is not None and (not isinstance(backbone_config_overrides, dict) or not all(
                isinstance(k, str) for k in backbone_config_overrides)):
            raise ValueError(f"QClipConfig.backbone_config_overrides={backbone_config_overrides!r} must be a dict of "
                             "config attribute names (nested dicts for sub-configs) or None.")
        if local_path_fallbacks is not None and (not isinstance(local_path_fallbacks, dict) or not all(
                key in ("backbone", "tokenizer") and isinstance(value, str)
                for key, value in local_path_fallbacks.items())):
            raise ValueError(f"QClipConfig.local_path_fallbacks={local_path_fallbacks!r} must be None or a dict with "
                             "keys among ['backbone', 'tokenizer'] and absolute paths as values.")
        if not isinstance(head_bias, bool):
            raise ValueError(f"QClipConfig.head_bias={head_bias!r} must be a bool.")
        if not isinstance(use_adapter, bool):
            raise ValueError(f"QClipConfig.use_adapter={use_adapter!r} must be a bool.")
        if scma_config is None:
            scma_config = {}
        if isinstance(scma_config, SCMAConfig):
            scma_config = {name: getattr(scma_config, name) for name in SCMA_FIELDS}
        if not isinstance(scma_config, dict):
            raise ValueError(
                f"QClipConfig.scma_config must be a dict of SCMAConfig fields, an SCMAConfig or None; got "
                f"{type(scma_config).__name__}."
            )
        unknown = sorted(set(scma_config) - set(SCMA_FIELDS))
        if unknown:
            raise ValueError(f"QClipConfig.scma_config has unknown keys {unknown}; allowed keys: {list(SCMA_FIELDS)}.")
        validated = SCMAConfig(**scma_config)  # raises ValueError naming the bad field
        scma_config = {name: getattr(validated, name) for name in SCMA_FIELDS}

        self.backbone = backbone
        self.backbone_revision = backbone_revision
        self.backbone_config = backbone_config
        self.tokenizer = tokenizer
        self.num_frames = num_frames
        self.prompt_scheme = prompt_scheme
        self.prompt_template = prompt_template
        self.num_context_tokens = num_context_tokens
        self.context_init = context_init
        self.frame_pooling = frame_pooling
        self.use_adapter = use_adapter
        self.scma_config = scma_config
        self.head_init_std = None if head_init_std is None else float(head_init_std)
        self.quality_head = quality_head
        self.head_bias = head_bias
        self.backbone_config_overrides = copy.deepcopy(backbone_config_overrides)
        self.local_path_fallbacks = dict(local_path_fallbacks) if local_path_fallbacks else None
        super().__init__(**kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any) -> QClipConfig:
        """Load `config.json` from a saved Q-CLIP folder or Hub repo; a local backbone path it names relative to the
        folder (`./backbone`, see `QClipModel.save_pretrained`) is resolved against the folder.

        Raises:
            ModelLoadError: for a missing folder, an offline id not in the cache, a gated or missing Hub repo, a
                broken `config.json` (not JSON, not a Q-CLIP config, invalid values), or a backbone folder that no
                longer exists.

        Example:
            ```python
            >>> QClipConfig.from_pretrained("my-qclip").backbone  # doctest: +SKIP
            '/abs/path/my-qclip/backbone'
            ```
        """
        from ...errors import ModelLoadError
        from .loading_qclip import (
            TRANSFORMERS_BOOKKEEPING_KWARGS,
            read_qclip_config_dict,
            resolve_model_dir,
        )

        hub = {k: kwargs.pop(k) for k in ("revision", "cache_dir", "token", "local_files_only", "force_download",
                                          "subfolder", "proxies") if k in kwargs}
        for ignored in TRANSFORMERS_BOOKKEEPING_KWARGS:
            kwargs.pop(ignored, None)
        return_unused = kwargs.pop("return_unused_kwargs", False)
        folder = resolve_model_dir(pretrained_model_name_or_path, allow_patterns=["config.json"], **hub)
        config_dict = read_qclip_config_dict(folder)
        try:
            config, unused = cls.from_dict(config_dict, return_unused_kwargs=True, **kwargs)
        except (ValueError, TypeError) as err:
            raise ModelLoadError(f"{folder / 'config.json'} is not a valid Q-CLIP configuration: {err}",
                                 "fix the named field, or save the model again") from err
        config.resolve_local_paths(folder)
        return (config, unused) if return_unused else config

    def resolve_local_paths(self, folder: str | os.PathLike) -> None:
        """Make `backbone` and `tokenizer` usable from any working directory: a path saved relative to the model
        `folder` is resolved against it, falling back to the absolute path saved in `local_path_fallbacks`.

        Raises:
            ModelLoadError: a local folder found nowhere (the message names every place looked at and the fix).
        """
        from .loading_qclip import resolve_backbone_reference

        fallbacks = self.local_path_fallbacks or {}
        self.backbone = resolve_backbone_reference(self.backbone, folder, fallbacks.get("backbone"))
        if self.tokenizer is not None and (self.tokenizer.startswith(("./", "../")) or "tokenizer" in fallbacks):
            self.tokenizer = resolve_backbone_reference(self.tokenizer, folder, fallbacks.get("tokenizer"))

    def apply_backbone_overrides(self, backbone_config: PretrainedConfig) -> PretrainedConfig:
        """Set `backbone_config_overrides` on `backbone_config` (in place) and return it.

        Raises:
            ValueError: naming an attribute the backbone's config does not have.
        """

        def apply(target: Any, overrides: dict, path: str) -> None:
            for name, value in overrides.items():
                current = getattr(target, name, None)
                if isinstance(value, dict) and isinstance(current, PretrainedConfig):
                    apply(current, value, f"{path}{name}.")
                elif not hasattr(target, name):
                    raise ValueError(
                        f"QClipConfig.backbone_config_overrides sets {path}{name}, which the backbone's "
                        f"{type(target).__name__} does not have; check the name against the backbone's config.json."
                    )
                else:
                    setattr(target, name, copy.deepcopy(value))

        apply(backbone_config, self.backbone_config_overrides or {}, "")
        return backbone_config

    @property
    def level_names(self) -> tuple[str, ...]:
        return PROMPT_SCHEMES[self.prompt_scheme]

    def prompts(self) -> list[str]:
        """The prompt texts, context placeholder words first (e.g. "X X X a video of good quality")."""
        context = self.context_words()
        return [" ".join(filter(None, [context, self.prompt_template.format(level)])) for level in self.level_names]

    def context_words(self) -> str:
        if self.num_context_tokens == 0:
            return ""
        return self.context_init if self.context_init is not None else " ".join(["X"] * self.num_context_tokens)

    def get_scma_config(self) -> SCMAConfig | None:
        """The PEFT [`SCMAConfig`] for this model, or `None` when it has no adapter."""
        if not self.use_adapter:
            return None
        return SCMAConfig(**self.scma_config)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> QClipConfig:
        """A configuration from a named preset (see `qclip_hf.models.qclip.presets.PRESETS`), with overrides.

        Example:
            ```python
            >>> QClipConfig.from_preset("reference").scma_config["r"]
            128
            ```
        """
        from .presets import preset_kwargs

        kwargs = preset_kwargs(name)
        scma_overrides = overrides.pop("scma_config", None)
        if isinstance(scma_overrides, dict):
            kwargs["scma_config"] = {**kwargs["scma_config"], **scma_overrides}
        elif scma_overrides is not None:
            kwargs["scma_config"] = scma_overrides
        kwargs.update(overrides)
        return cls(**kwargs)

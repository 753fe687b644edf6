"""Backbone families Q-CLIP can adapt, keyed by `config.model_type`."""

from __future__ import annotations

from torch import nn

from .base import DualEncoderSpec, TowerSpec
from .clip import CLIPSpec
from .pe_core import PECoreSpec
from .siglip import SiglipSpec

_SPECS: dict[str, DualEncoderSpec] = {}


def register_backbone_spec(spec: DualEncoderSpec) -> None:
    """Make a backbone family usable by Q-CLIP and SCMA: `spec` handles every `spec.model_types`.

    Example:
        ```python
        >>> from qclip_hf.backbones import register_backbone_spec, CLIPSpec
        >>> class MyCLIPSpec(CLIPSpec):
        ...     model_types = ("my_clip",)
        >>> register_backbone_spec(MyCLIPSpec())
        ```
    """
    if not spec.model_types:
        raise ValueError(f"{type(spec).__name__}.model_types is empty; name the config.model_type values it handles.")
    for model_type in spec.model_types:
        _SPECS[model_type] = spec


def supported_model_types() -> list[str]:
    return sorted(_SPECS)


def get_backbone_spec(model: nn.Module) -> DualEncoderSpec:
    """The spec for a backbone instance, found by its `config.model_type`."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type not in _SPECS:
        raise ValueError(
            f"Backbone {type(model).__name__} (model_type={model_type!r}) is not a supported dual encoder; "
            f"supported model_type values: {supported_model_types()}. Register one with `register_backbone_spec`."
        )
    return _SPECS[model_type]


register_backbone_spec(CLIPSpec())
register_backbone_spec(SiglipSpec())
register_backbone_spec(PECoreSpec())

__all__ = [
    "CLIPSpec",
    "DualEncoderSpec",
    "PECoreSpec",
    "SiglipSpec",
    "TowerSpec",
    "get_backbone_spec",
    "register_backbone_spec",
    "supported_model_types",
]

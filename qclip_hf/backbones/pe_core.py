"""PE-Core dual encoders ([`PECoreModel`], `model_type="pe_core"`): the paper's Perception Encoder backbone."""

from __future__ import annotations

from .clip import CLIPSpec


class PECoreSpec(CLIPSpec):
    """`PECoreModel`: the same module layout as `CLIPModel` (blocks in `*.encoder.layers`, `visual_projection` and
    `text_projection` applied to the pooled (B, width) feature, token embedding in `text_model.embeddings`); only
    the inside of the towers differs (2D RoPE, attention pooling), which SCMA does not touch.

    The text tower is causal and pools at the end-of-text token, so any right padding works (`text_padding` stays
    `"longest"`). Tower widths may differ (PE-Core-B16: vision 768, text 1024).

    Example:
        ```python
        >>> import torch
        >>> from qclip_hf.backbones import get_backbone_spec
        >>> from qclip_hf.models.pe_core import PECoreConfig, PECoreModel
        >>> with torch.device("meta"):
        ...     model = PECoreModel(PECoreConfig.from_preset("PE-Core-L14-336"))
        >>> spec = get_backbone_spec(model)
        >>> spec.vision_tower(model).num_blocks, spec.text_max_length(model), spec.image_size(model)
        (24, 32, 336)
        ```
    """

    model_types = ("pe_core",)

"""Configuration of the Shared Cross-Modal Adapter (SCMA), Q-CLIP's PEFT method."""

from __future__ import annotations

from dataclasses import dataclass, field

from peft.config import PeftConfig

SCMA_PEFT_TYPE = "SCMA"

PLACEMENTS = ("serial", "parallel")
TOWERS = ("both", "vision", "text")
SCALE_GRANULARITIES = ("tower", "layer")
PROJECTION_ADAPTER_STYLES = ("reference", "paper")


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"SCMAConfig.{name}={value!r} is not valid; allowed values: {list(allowed)}.")


@dataclass
class SCMAConfig(PeftConfig):
    """
    Configuration of a [`SCMAModel`]: the Shared Cross-Modal Adapter of Q-CLIP, injected into both towers of a frozen
    dual encoder (CLIP, SigLIP, PE-Core, ...).

    At each adapted layer `k` the encoder block of each tower is wrapped by an E-SCMA adapter
    `delta = LN_k(Up_k(FFN(Down_k(x))))`, added with a learnable scale. `Down_k`, `Up_k` and `LN_k` are shared by the
    vision and the text block of that layer (cross-modal sharing), and one small `FFN` in the bottleneck is shared by
    every adapted layer of both towers (inter-layer sharing). A projection-level adapter (P-SCMA) adds a bottleneck
    branch to each tower's projection. Every switch of the paper's Table 3 ablation is one field here.

    Towers of different widths (e.g. CLIP ViT-L/14: vision 1024, text 768) cannot share `Down_k`/`Up_k`/`LN_k`; each
    tower then gets its own, and the FFN — which lives in the `r`-dimensional bottleneck — is still shared by both
    towers, so the cross-modal link is kept where the shapes allow it.

    Args:
        r (`int`, defaults to 128):
            Bottleneck width. The reference release uses 128 (about 1.9M trainable parameters on PE-Core-L); the
            paper's 0.14M figure implies 8.
        layers (`int` or `list[int]`, defaults to 6):
            Encoder blocks to adapt in each tower: an int `N` adapts the last `N` blocks of each tower; a list gives
            block indices (negative indices count from the end) used in both towers. Position `j` of the resulting
            list pairs the `j`-th adapted vision block with the `j`-th adapted text block for cross-modal sharing.
        towers (`str`, defaults to `"both"`): `"both"`, `"vision"` or `"text"`.
        placement (`str`, defaults to `"serial"`):
            `"serial"` (reference release): `x = block(x); x = x + s * LN(Up(FFN(Down(x))))`. `"parallel"` (paper eq.
            2-7): the adapter reads the block *input*, its output is added to the block output.
        share_across_towers (`bool`, defaults to `True`): cross-modal sharing of `Down_k`/`Up_k`/`LN_k` (and of the
            P-SCMA weights) where the two towers' widths match.
        share_ffn_across_layers (`bool`, defaults to `True`): inter-layer sharing of the bottleneck FFN.
        projection_adapter (`bool`, defaults to `True`): add the projection-level adapter (P-SCMA).
        projection_adapter_style (`str`, defaults to `"reference"`):
            `"reference"`: reads the pooled feature entering the projection, `Linear(d,r)-Linear(r,r)-GELU-Linear(r,e)`,
            added to the projected feature. `"paper"`: reads the projected feature, `LN(Up(Linear(Down(t))))`.
        scale_granularity (`str`, defaults to `"tower"`): one learnable scale per tower for all its E-SCMA adapters
            (reference) or one per adapted block (paper's `a_k`, `b_k`). P-SCMA always has one scale per tower.
        scale_init (`float`, defaults to 0.1): initial value of every scale. 0 makes the adapted model start exactly
            equal to the frozen backbone.
        target_modules (`list[str]`, *optional*): resolved automatically from the backbone (the adapted blocks and
            projections); set it only to adapt an unregistered backbone whose module names you know.

    Example:
        ```python
        >>> from peft import get_peft_model
        >>> from qclip_hf.testing.tiny_backbones import build_tiny_backbone
        >>> from qclip_hf.tuners.scma import SCMAConfig
        >>> model = get_peft_model(build_tiny_backbone("clip"), SCMAConfig(r=8, layers=2))
        >>> model.print_trainable_parameters()  # doctest: +ELLIPSIS
        trainable params: ...
        ```
    """

    r: int = field(default=128, metadata={"help": "Bottleneck width of every SCMA adapter."})
    layers: int | list[int] = field(
        default=6,
        metadata={
            "help": "Blocks to adapt per tower: an int N for the last N blocks, or a list of block indices "
            "(negative counts from the end) applied to both towers."
        },
    )
    towers: str = field(default="both", metadata={"help": f"Towers to adapt, one of {list(TOWERS)}."})
    placement: str = field(
        default="serial",
        metadata={"help": "'serial' adapts the block output (reference release); 'parallel' reads the block input and "
                  "adds to the block output (paper eq. 2-7)."},
    )
    share_across_towers: bool = field(
        default=True,
        metadata={"help": "Share Down/Up/LayerNorm of layer k (and P-SCMA) between the vision and text towers where "
                  "their widths match (cross-modal sharing)."},
    )
    share_ffn_across_layers: bool = field(
        default=True, metadata={"help": "One bottleneck FFN shared by all adapted layers (inter-layer sharing)."}
    )
    projection_adapter: bool = field(default=True, metadata={"help": "Add the projection-level adapter (P-SCMA)."})
    projection_adapter_style: str = field(
        default="reference",
        metadata={"help": f"P-SCMA form, one of {list(PROJECTION_ADAPTER_STYLES)}: 'reference' reads the pooled "
                  "feature before the projection, 'paper' reads the projected feature and ends in a LayerNorm."},
    )
    scale_granularity: str = field(
        default="tower",
        metadata={"help": f"One of {list(SCALE_GRANULARITIES)}: a learnable scale per tower (reference) or per adapted "
                  "block (paper)."},
    )
    scale_init: float = field(default=0.1, metadata={"help": "Initial value of every learnable scale."})
    target_modules: list[str] | str | None = field(
        default=None,
        metadata={"help": "Module names to wrap (encoder blocks and projections). Resolved from the backbone when None."},
    )

    def __post_init__(self):
        super().__post_init__()
        self.peft_type = SCMA_PEFT_TYPE
        if isinstance(self.r, bool) or not isinstance(self.r, int) or self.r < 1:
            raise ValueError(f"SCMAConfig.r={self.r!r} must be a positive int.")
        if isinstance(self.layers, bool):
            raise ValueError(f"SCMAConfig.layers={self.layers!r} must be a positive int or a list of ints.")
        if isinstance(self.layers, int):
            if self.layers < 1:
                raise ValueError(f"SCMAConfig.layers={self.layers!r} must be >= 1 (the number of last blocks to adapt).")
        elif isinstance(self.layers, (list, tuple)):
            if not self.layers or not all(isinstance(i, int) and not isinstance(i, bool) for i in self.layers):
                raise ValueError(f"SCMAConfig.layers={self.layers!r} must be a non-empty list of ints.")
            if len(set(self.layers)) != len(self.layers):
                raise ValueError(f"SCMAConfig.layers={self.layers!r} lists a block twice.")
            self.layers = list(self.layers)
        else:
            raise ValueError(f"SCMAConfig.layers={self.layers!r} must be a positive int or a list of ints.")
        _check_choice("towers", self.towers, TOWERS)
        _check_choice("placement", self.placement, PLACEMENTS)
        _check_choice("projection_adapter_style", self.projection_adapter_style, PROJECTION_ADAPTER_STYLES)
        _check_choice("scale_granularity", self.scale_granularity, SCALE_GRANULARITIES)
        for name in ("share_across_towers", "share_ffn_across_layers", "projection_adapter"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"SCMAConfig.{name}={getattr(self, name)!r} must be a bool.")
        if isinstance(self.scale_init, bool) or not isinstance(self.scale_init, (int, float)):
            raise ValueError(f"SCMAConfig.scale_init={self.scale_init!r} must be a number.")
        self.scale_init = float(self.scale_init)
        if isinstance(self.target_modules, (set, tuple)):
            self.target_modules = sorted(self.target_modules)

    def adapted_towers(self) -> tuple[str, ...]:
        return ("vision", "text") if self.towers == "both" else (self.towers,)

    def block_indices(self, num_blocks: int, tower: str) -> list[int]:
        """Indices of the blocks to adapt in a tower of `num_blocks` blocks, in adapter-position order."""
        if isinstance(self.layers, int):
            if self.layers > num_blocks:
                raise ValueError(
                    f"SCMAConfig.layers={self.layers} asks for the last {self.layers} blocks but the {tower} tower has "
                    f"only {num_blocks}."
                )
            return list(range(num_blocks - self.layers, num_blocks))
        indices = []
        for index in self.layers:
            resolved = index + num_blocks if index < 0 else index
            if not 0 <= resolved < num_blocks:
                raise ValueError(
                    f"SCMAConfig.layers contains {index}, outside the {tower} tower's {num_blocks} blocks "
                    f"(valid: {-num_blocks}..{num_blocks - 1})."
                )
            indices.append(resolved)
        if len(set(indices)) != len(indices):
            raise ValueError(f"SCMAConfig.layers={self.layers} names the same {tower} block twice.")
        return indices

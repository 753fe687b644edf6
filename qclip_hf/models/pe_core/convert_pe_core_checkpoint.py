"""Convert published PE-Core checkpoints into [`PECoreModel`] weights (safetensors + config).

Two formats are read:
- Meta's release (`facebook/PE-Core-L14-336`, file `PE-Core-L14-336.pt`): vision keys under `visual.` (`conv1`,
  `class_embedding`, `transformer.resblocks.*` with fused `attn.in_proj_*`, `attn_pool.*`, `proj`), text keys at the
  root (`token_embedding`, `transformer.resblocks.*`, `ln_final`, `text_projection`), `logit_scale`;
- open_clip's (`timm/PE-Core-L-14-336`, `open_clip_model.safetensors`): vision is timm's Eva under `visual.trunk.`
  (fused `attn.qkv`, `attn_pool.q` / `attn_pool.kv`, `head` as the projection), text under `text.`.

Every source tensor must be consumed by exactly one mapping rule and every model tensor produced exactly once with
the model's shape; otherwise a [`PECoreCheckpointError`] names the missing, unexpected, duplicated or mis-shaped keys.

Example (command line):
    ```bash
    python -m qclip_hf.models.pe_core.convert_pe_core_checkpoint \\
        --checkpoint PE-Core-L14-336.pt --preset PE-Core-L14-336 --output-dir pe-core-l14-336-hf
    ```
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from .configuration_pe_core import PECoreConfig
from .modeling_pe_core import PECoreModel

SOURCES = ("meta", "open_clip")
Transform = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]


class PECoreCheckpointError(ValueError):
    """A checkpoint does not map onto the configured PE-Core geometry; the message names the offending keys."""

    def __init__(self, message: str, missing_keys=(), unexpected_keys=(), mismatched_keys=()):
        super().__init__(message)
        self.missing_keys = list(missing_keys)
        self.unexpected_keys = list(unexpected_keys)
        self.mismatched_keys = list(mismatched_keys)


@dataclass(frozen=True)
class _Rule:
    """One source tensor -> one or more model tensors."""

    source: str
    targets: tuple[str, ...]
    transform: Transform


def _same(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (t,)


def _transpose(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (t.t().contiguous(),)


def _flat_vector(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (t.reshape(-1),)


def _scalar(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (t.reshape(()) if t.numel() == 1 else t,)


def _drop_batch(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (t.squeeze(0) if t.dim() == 3 else t,)


def _chunks(n: int) -> Transform:
    def split(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if t.shape[0] % n:
            # Leave the shape check to report it against the expected shapes.
            return (t,) * n
        return tuple(c.contiguous() for c in t.chunk(n, dim=0))

    return split


def _meta_projection(t: torch.Tensor) -> tuple[torch.Tensor, ...]:
    # Meta stores `x @ proj` (width, dim) with no bias; the model's Linear has a bias (timm's head has one).
    return t.t().contiguous(), torch.zeros(t.shape[1], dtype=t.dtype, device=t.device)


def _linear(src: str, dst: str) -> list[_Rule]:
    return [_Rule(f"{src}.weight", (f"{dst}.weight",), _same), _Rule(f"{src}.bias", (f"{dst}.bias",), _same)]


def _qkv(src_weight: str, src_bias: str, dst: str) -> list[_Rule]:
    # Meta's `in_proj_*` and timm's `qkv` hold q, k, v stacked row-wise, as the model's fused `qkv` does.
    return [
        _Rule(src_weight, (f"{dst}.qkv.weight",), _same),
        _Rule(src_bias, (f"{dst}.qkv.bias",), _same),
    ]


def _fuse_split_qkv(converted: dict[str, torch.Tensor], origin: dict[str, str]) -> None:
    """Concatenate `<prefix>.{q,k,v}_proj.*` produced by rules (open_clip's pooling head stores q and kv apart) into
    the model's fused `<prefix>.qkv.*`, in place."""
    for key in [k for k in converted if k.endswith(("q_proj.weight", "q_proj.bias"))]:
        module, kind = key.rsplit(".", 1)
        prefix = module[: -len("q_proj")]
        parts = [f"{prefix}{p}_proj.{kind}" for p in ("q", "k", "v")]
        if not all(part in converted for part in parts):
            continue  # reported by the shape check as keys not produced / not in the model
        tensors = [converted.pop(part) for part in parts]
        origin[f"{prefix}qkv.{kind}"] = " + ".join(origin.pop(part) for part in parts)
        converted[f"{prefix}qkv.{kind}"] = torch.cat(tensors)


def _clip_block_rules(src: str, dst: str, layer_scale: bool) -> list[_Rule]:
    """Meta's / open_clip's `ResidualAttentionBlock` (ln_1, attn.in_proj_*, attn.out_proj, ln_2, mlp.c_fc/c_proj)."""
    rules = _linear(f"{src}.ln_1", f"{dst}.layer_norm1") + _linear(f"{src}.ln_2", f"{dst}.layer_norm2")
    rules += _qkv(f"{src}.attn.in_proj_weight", f"{src}.attn.in_proj_bias", f"{dst}.self_attn")
    rules += _linear(f"{src}.attn.out_proj", f"{dst}.self_attn.out_proj")
    rules += _linear(f"{src}.mlp.c_fc", f"{dst}.mlp.fc1") + _linear(f"{src}.mlp.c_proj", f"{dst}.mlp.fc2")
    if layer_scale:
        rules += [
            _Rule(f"{src}.ls_1.gamma", (f"{dst}.layer_scale1",), _same),
            _Rule(f"{src}.ls_2.gamma", (f"{dst}.layer_scale2",), _same),
        ]
    return rules


def _timm_block_rules(src: str, dst: str, layer_scale: bool) -> list[_Rule]:
    """timm's `EvaBlock` with `AttentionRope` (norm1, attn.qkv, attn.proj, norm2, mlp.fc1/fc2, gamma_1/2)."""
    rules = _linear(f"{src}.norm1", f"{dst}.layer_norm1") + _linear(f"{src}.norm2", f"{dst}.layer_norm2")
    rules += _qkv(f"{src}.attn.qkv.weight", f"{src}.attn.qkv.bias", f"{dst}.self_attn")
    rules += _linear(f"{src}.attn.proj", f"{dst}.self_attn.out_proj")
    rules += _linear(f"{src}.mlp.fc1", f"{dst}.mlp.fc1") + _linear(f"{src}.mlp.fc2", f"{dst}.mlp.fc2")
    if layer_scale:
        rules += [
            _Rule(f"{src}.gamma_1", (f"{dst}.layer_scale1",), _same),
            _Rule(f"{src}.gamma_2", (f"{dst}.layer_scale2",), _same),
        ]
    return rules


def _text_rules(prefix: str, config: PECoreConfig) -> list[_Rule]:
    text = config.text_config
    layer_scale = text.layer_scale_init_value is not None
    rules = [
        _Rule(f"{prefix}token_embedding.weight", ("text_model.embeddings.token_embedding.weight",), _same),
        _Rule(f"{prefix}positional_embedding", ("text_model.embeddings.position_embedding",), _same),
        _Rule(f"{prefix}text_projection", ("text_projection.weight",), _transpose),
    ]
    rules += _linear(f"{prefix}ln_final", "text_model.final_layer_norm")
    for i in range(text.num_hidden_layers):
        rules += _clip_block_rules(f"{prefix}transformer.resblocks.{i}", f"text_model.encoder.layers.{i}", layer_scale)
    return rules


def _meta_rules(config: PECoreConfig) -> list[_Rule]:
    vision = config.vision_config
    layer_scale = vision.layer_scale_init_value is not None
    rules = [
        _Rule("logit_scale", ("logit_scale",), _scalar),
        _Rule("visual.conv1.weight", ("vision_model.embeddings.patch_embedding.weight",), _same),
        _Rule("visual.positional_embedding", ("vision_model.embeddings.position_embedding",), _drop_batch),
        _Rule("visual.attn_pool.probe", ("vision_model.head.probe",), _same),
        _Rule("visual.proj", ("visual_projection.weight", "visual_projection.bias"), _meta_projection),
    ]
    if vision.use_class_token:
        rules.append(_Rule("visual.class_embedding", ("vision_model.embeddings.class_embedding",), _flat_vector))
    rules += _linear("visual.ln_pre", "vision_model.pre_layernorm") + _linear("visual.ln_post", "vision_model.post_layernorm")
    for i in range(vision.num_hidden_layers):
        rules += _clip_block_rules(f"visual.transformer.resblocks.{i}", f"vision_model.encoder.layers.{i}", layer_scale)
    pool = "visual.attn_pool"
    rules += _qkv(f"{pool}.attn.in_proj_weight", f"{pool}.attn.in_proj_bias", "vision_model.head.attention")
    rules += _linear(f"{pool}.attn.out_proj", "vision_model.head.attention.out_proj")
    rules += _linear(f"{pool}.layernorm", "vision_model.head.layernorm")
    rules += _linear(f"{pool}.mlp.c_fc", "vision_model.head.mlp.fc1") + _linear(f"{pool}.mlp.c_proj", "vision_model.head.mlp.fc2")
    return rules + _text_rules("", config)


def _open_clip_rules(config: PECoreConfig) -> list[_Rule]:
    vision = config.vision_config
    layer_scale = vision.layer_scale_init_value is not None
    trunk = "visual.trunk"
    rules = [
        _Rule("logit_scale", ("logit_scale",), _scalar),
        _Rule(f"{trunk}.patch_embed.proj.weight", ("vision_model.embeddings.patch_embedding.weight",), _same),
        _Rule(f"{trunk}.pos_embed", ("vision_model.embeddings.position_embedding",), _drop_batch),
        _Rule(f"{trunk}.attn_pool.latent", ("vision_model.head.probe",), _same),
    ]
    if vision.use_class_token:
        rules.append(_Rule(f"{trunk}.cls_token", ("vision_model.embeddings.class_embedding",), _flat_vector))
    rules += _linear(f"{trunk}.norm_pre", "vision_model.pre_layernorm") + _linear(f"{trunk}.norm", "vision_model.post_layernorm")
    for i in range(vision.num_hidden_layers):
        rules += _timm_block_rules(f"{trunk}.blocks.{i}", f"vision_model.encoder.layers.{i}", layer_scale)
    pool = f"{trunk}.attn_pool"
    rules += _linear(f"{pool}.q", "vision_model.head.attention.q_proj")
    kv_targets = ("vision_model.head.attention.k_proj", "vision_model.head.attention.v_proj")
    rules += [
        _Rule(f"{pool}.kv.{kind}", tuple(f"{t}.{kind}" for t in kv_targets), _chunks(2)) for kind in ("weight", "bias")
    ]
    rules += _linear(f"{pool}.proj", "vision_model.head.attention.out_proj")
    rules += _linear(f"{pool}.norm", "vision_model.head.layernorm")
    rules += _linear(f"{pool}.mlp.fc1", "vision_model.head.mlp.fc1") + _linear(f"{pool}.mlp.fc2", "vision_model.head.mlp.fc2")
    rules += _linear(f"{trunk}.head", "visual_projection")
    return rules + _text_rules("text.", config)


def unwrap_state_dict(checkpoint: Mapping[str, object]) -> dict[str, torch.Tensor]:
    """The tensor mapping inside a loaded checkpoint: unwraps `state_dict` / `weights` / `model` containers and strips
    a DistributedDataParallel `module.` prefix."""
    state = checkpoint
    for container in ("state_dict", "weights", "model"):
        if isinstance(state.get(container), Mapping):
            state = state[container]
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in state.items()}


def detect_checkpoint_source(state_dict: Mapping[str, torch.Tensor]) -> str:
    """`"meta"` or `"open_clip"`, from the patch-embedding key the checkpoint holds."""
    if "visual.conv1.weight" in state_dict:
        return "meta"
    if "visual.trunk.patch_embed.proj.weight" in state_dict:
        return "open_clip"
    sample = sorted(state_dict)[:8]
    raise PECoreCheckpointError(
        "Unrecognised PE-Core checkpoint: expected `visual.conv1.weight` (Meta's release) or "
        f"`visual.trunk.patch_embed.proj.weight` (open_clip); allowed sources: {list(SOURCES)}. First keys: {sample}."
    )


def _listing(keys: list[str], limit: int = 25) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def _expected_shapes(config: PECoreConfig) -> dict[str, torch.Size]:
    with torch.device("meta"):
        model = PECoreModel(config)
    return {name: tensor.shape for name, tensor in model.state_dict().items()}


def convert_pe_core_state_dict(
    state_dict: Mapping[str, torch.Tensor], config: PECoreConfig, source: str = "auto"
) -> dict[str, torch.Tensor]:
    """Map a Meta or open_clip PE-Core state dict onto [`PECoreModel`]'s parameter names and layouts.

    Args:
        state_dict: the source tensors (containers and a `module.` prefix are unwrapped).
        config: the geometry to convert into (e.g. `PECoreConfig.from_preset("PE-Core-L14-336")`).
        source (`str`, *optional*, defaults to `"auto"`): `"meta"`, `"open_clip"` or `"auto"` (detected).

    Returns:
        A state dict loadable with `PECoreModel(config).load_state_dict(..., strict=True)`.

    Raises:
        PECoreCheckpointError: naming missing / unexpected / duplicated source keys, or model keys whose converted
            shape differs from the model's.

    Example:
        ```python
        >>> import open_clip
        >>> reference = open_clip.create_model("PE-Core-T-16-384", pretrained=None)
        >>> config = PECoreConfig.from_preset("PE-Core-T-16-384")
        >>> weights = convert_pe_core_state_dict(reference.state_dict(), config)
        >>> PECoreModel(config).load_state_dict(weights)
        <All keys matched successfully>
        ```
    """
    state_dict = unwrap_state_dict(state_dict)
    if source == "auto":
        source = detect_checkpoint_source(state_dict)
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is not a PE-Core checkpoint format; allowed: {['auto', *SOURCES]}.")
    rules = _meta_rules(config) if source == "meta" else _open_clip_rules(config)

    uses = Counter(rule.source for rule in rules)
    duplicated = sorted(k for k, n in uses.items() if n > 1)
    missing = sorted(k for k in uses if k not in state_dict)
    unexpected = sorted(k for k in state_dict if k not in uses)
    if duplicated or missing or unexpected:
        hint = ""
        if any("gamma" in k for k in unexpected):
            hint = " The checkpoint has layer-scale tensors: set layer_scale_init_value in the tower config."
        raise PECoreCheckpointError(
            f"{source} checkpoint does not match the configured PE-Core geometry: "
            f"{len(missing)} missing key(s) [{_listing(missing)}]; {len(unexpected)} unexpected key(s) "
            f"[{_listing(unexpected)}]; {len(duplicated)} key(s) used more than once [{_listing(duplicated)}].{hint}",
            missing_keys=missing,
            unexpected_keys=unexpected,
        )

    converted: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    produced_twice: list[str] = []
    for rule in rules:
        for target, tensor in zip(rule.targets, rule.transform(state_dict[rule.source]), strict=True):
            if target in converted:
                produced_twice.append(target)
            converted[target], origin[target] = tensor, rule.source
    _fuse_split_qkv(converted, origin)

    expected = _expected_shapes(config)
    not_produced = sorted(set(expected) - set(converted))
    not_in_model = sorted(set(converted) - set(expected))
    mismatched = [
        f"{name} (from {origin[name]}): got {tuple(converted[name].shape)}, expected {tuple(shape)}"
        for name, shape in expected.items()
        if name in converted and converted[name].shape != shape
    ]
    if produced_twice or not_produced or not_in_model or mismatched:
        raise PECoreCheckpointError(
            f"{source} checkpoint does not fit the configured PE-Core geometry: {len(mismatched)} shape mismatch(es) "
            f"[{_listing(mismatched)}]; model keys not produced [{_listing(not_produced)}]; produced keys the model "
            f"lacks [{_listing(not_in_model)}]; produced more than once [{_listing(produced_twice)}].",
            missing_keys=not_produced,
            unexpected_keys=not_in_model,
            mismatched_keys=mismatched,
        )
    return converted


def load_checkpoint_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a `.safetensors` file or a torch pickle (`.pt` / `.bin`, loaded with `weights_only=True`) on CPU."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist.")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True))


def convert_pe_core_checkpoint(
    checkpoint: str | os.PathLike | Mapping[str, torch.Tensor],
    output_dir: str | os.PathLike,
    config: PECoreConfig | str,
    source: str = "auto",
    dtype: torch.dtype | None = None,
    save_processor: bool = True,
    bpe_path: str | os.PathLike | None = None,
) -> Path:
    """Convert a checkpoint (file path or state dict) and save it with `save_pretrained` (safetensors + config).

    Args:
        checkpoint: path of Meta's `.pt` / open_clip's `.safetensors` or `.bin`, or an in-memory state dict.
        output_dir: where to write `config.json`, `model.safetensors` and (optionally) the processor files.
        config: a [`PECoreConfig`] or a preset name (`"PE-Core-L14-336"`, `"PE-Core-L-14-336"`, ...).
        source (`str`, *optional*, defaults to `"auto"`): `"meta"`, `"open_clip"` or `"auto"`.
        dtype (`torch.dtype`, *optional*): cast floating tensors before saving (default: keep the source dtype).
        save_processor (`bool`, *optional*, defaults to `True`): also save the PE-Core tokenizer and image processor.
        bpe_path: CLIP BPE merges file for the tokenizer (default: the one bundled with open_clip).

    Example:
        ```python
        >>> import open_clip
        >>> reference = open_clip.create_model("PE-Core-T-16-384", pretrained=None)
        >>> out = convert_pe_core_checkpoint(reference.state_dict(), "/tmp/pe-core-t", "PE-Core-T-16-384")
        >>> PECoreModel.from_pretrained(out).config.vision_config.image_size
        384
        ```
    """
    if isinstance(config, str):
        config = PECoreConfig.from_preset(config)
    state_dict = checkpoint if isinstance(checkpoint, Mapping) else load_checkpoint_file(checkpoint)
    converted = convert_pe_core_state_dict(state_dict, config, source=source)
    if dtype is not None:
        converted = {k: v.to(dtype) if v.is_floating_point() else v for k, v in converted.items()}
    with torch.device("meta"):
        model = PECoreModel(config)
    # assign=True adopts the converted tensors instead of copying into meta storage.
    model.load_state_dict(converted, strict=True, assign=True)
    output_dir = Path(output_dir)
    model.save_pretrained(output_dir)
    if save_processor:
        from .processing_pe_core import build_pe_core_processor

        build_pe_core_processor(config, bpe_path=bpe_path).save_pretrained(output_dir)
    return output_dir


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="Meta .pt, or open_clip .safetensors / .bin")
    parser.add_argument("--output-dir", required=True)
    geometry = parser.add_mutually_exclusive_group(required=True)
    geometry.add_argument("--preset", help="PE-Core geometry, e.g. PE-Core-L14-336 or PE-Core-L-14-336")
    geometry.add_argument("--config", help="path of a PECoreConfig config.json")
    parser.add_argument("--source", default="auto", choices=["auto", *SOURCES])
    parser.add_argument("--dtype", choices=sorted(_DTYPES), help="cast weights (default: keep the checkpoint's)")
    parser.add_argument("--no-processor", action="store_true", help="do not save tokenizer / image processor")
    parser.add_argument("--bpe-path", help="CLIP BPE merges file (default: open_clip's bundled copy)")
    args = parser.parse_args(argv)
    if args.preset:
        config = PECoreConfig.from_preset(args.preset)
    else:
        config = PECoreConfig.from_json_file(args.config)
    out = convert_pe_core_checkpoint(
        args.checkpoint,
        args.output_dir,
        config,
        source=args.source,
        dtype=_DTYPES.get(args.dtype),
        save_processor=not args.no_processor,
        bpe_path=args.bpe_path,
    )
    print(f"Saved PECoreModel to {out}")


if __name__ == "__main__":
    main()


__all__ = [
    "PECoreCheckpointError",
    "convert_pe_core_checkpoint",
    "convert_pe_core_state_dict",
    "detect_checkpoint_source",
    "load_checkpoint_file",
    "unwrap_state_dict",
]

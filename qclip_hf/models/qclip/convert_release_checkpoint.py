"""Convert a checkpoint written by the Q-CLIP authors' release (`train.py` of GitHub `xiao-mi-d/Q-CLIP`) into a
qclip-hf model directory.

The release's `train.py` saves `torch.save({"state_dict": model.state_dict(), "validation_results": {...}})` as
`<name>_<valset>_best.pth`. Its `QCLIP` module (`model/qclip.py`) holds:

- `clip_model.*`: the whole Meta Perception Encoder CLIP (frozen); `vit.*` and `text_encoder.*` are aliases of its
  vision tower and text transformer (the same tensors, saved twice);
- `encoder_adapters.{i}.{down_proj,up_proj,ln}`: one `Down_k`/`Up_k`/`LN_k` per vision block, of which only blocks
  `i >= adapter_start_layer` (18 of 24) are used, by both towers; the others keep their initial values;
- `shared_core.{0,2}`: the bottleneck FFN `Linear(r,r)-GELU-Linear(r,r)` shared by all layers and both towers;
- `proj_adapter.{0,1,3}`: P-SCMA `Linear(d,r)-Linear(r,r)-GELU-Linear(r,d)` on the pooled feature;
- 0-d scales `image_adapter_weight`, `text_adapter_weight`, `image_proj_adapter_weight`, `text_proj_adapter_weight`;
- `context_tokens` (1, 3, d), `score_proj` (5, 1) with levels ordered bad -> excellent, and the buffers
  `prompt_prefix` / `prompt_suffix` (token embeddings of the fixed prompt parts, re-derived here from the tokenizer).

The output is a normal qclip-hf directory: the `reference` layout with `head_bias=False`, the levels mapped to
qclip-hf's excellent -> bad order, and the pre-fix rotary layout the release's vendored PE code uses
(`legacy_class_token_rope=True` on the PE-Core vision config). The release's `validation_results` are kept in
`release_validation_results.json` and shown in the model card.

Example (command line):
    ```bash
    python -m qclip_hf.models.qclip.convert_release_checkpoint \\
        --checkpoint qclip_lsvq_val_best.pth --output_dir qclip-lsvq --save_backbone
    ```
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ...errors import QClipError
from .configuration_qclip import DEFAULT_BACKBONE, QClipConfig

logger = logging.getLogger(__name__)

# The release's prompt order (model/qclip.py DEFAULT_QUALITY_PROMPTS); qclip-hf orders excellent -> bad.
RELEASE_LEVELS = ("bad", "poor", "fair", "good", "excellent")
RELEASE_ADAPTER_START_LAYER = 18
RESULTS_FILE = "release_validation_results.json"
LEGACY_ROPE_OVERRIDES = {"vision_config": {"legacy_class_token_rope": True}}
_SCALES = ("image_adapter_weight", "text_adapter_weight", "image_proj_adapter_weight", "text_proj_adapter_weight")
_REQUIRED = (
    *(f"shared_core.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")),
    *(f"proj_adapter.{i}.{p}" for i in (0, 1, 3) for p in ("weight", "bias")),
    *_SCALES,
    "context_tokens",
    "score_proj",
)
# Buffers and aliases the release saves that the conversion does not need.
_KNOWN_UNUSED_PREFIXES = ("vit.", "text_encoder.", "prompt_prefix", "prompt_suffix")
_ADAPTER_KEY = re.compile(r"^encoder_adapters\.(\d+)\.(down_proj|up_proj|ln)\.(weight|bias)$")
_VISION_BLOCK_KEY = re.compile(r"^clip_model\.visual\.transformer\.resblocks\.(\d+)\.")
_TEXT_BLOCK_KEY = re.compile(r"^clip_model\.transformer\.resblocks\.(\d+)\.")


class ReleaseCheckpointError(QClipError, ValueError):
    """A file is not a checkpoint of the Q-CLIP release, or does not fit the backbone it is converted onto."""


# ---------------------------------------------------------------------------------------------- reading
def load_release_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """The release checkpoint's `state_dict` and `validation_results`, read without unpickling any code.

    `torch.load(weights_only=True, mmap=True)`: tensors stay memory-mapped (the file is ~2.7 GB at PE-Core-L), and a
    file that needs arbitrary code to unpickle is refused.
    """
    path = Path(path)
    if not path.is_file():
        raise ReleaseCheckpointError(f"checkpoint {str(path)!r} does not exist",
                                     "pass the .pth file the release's train.py wrote with --checkpoint")
    try:
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            # Files in torch's legacy (non-zip) format cannot be memory-mapped; read them normally.
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ReleaseCheckpointError(
            f"checkpoint {str(path)!r} needs unpickling of Python objects other than tensors and plain containers, "
            f"which could run arbitrary code; it is refused ({str(err).splitlines()[0]})",
            "convert only checkpoints written by the release's train.py (a dict of tensors), or re-save the state "
            "dict alone with torch.save({'state_dict': sd}) from a trusted environment",
        ) from err
    except (RuntimeError, EOFError, OSError) as err:
        raise ReleaseCheckpointError(f"checkpoint {str(path)!r} cannot be read as a torch file: {err}",
                                     "check that the file is complete (not truncated by a failed copy)") from err
    if not isinstance(raw, Mapping):
        raise ReleaseCheckpointError(f"checkpoint {str(path)!r} holds a {type(raw).__name__}, not a dict",
                                     "pass the .pth file the release's train.py wrote")
    state = raw.get("state_dict", raw)
    if not isinstance(state, Mapping):
        raise ReleaseCheckpointError(f"checkpoint {str(path)!r}: 'state_dict' is a {type(state).__name__}",
                                     "pass the .pth file the release's train.py wrote")
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    results = raw.get("validation_results")
    return state, dict(results) if isinstance(results, Mapping) else None


def check_release_layout(state: Mapping[str, torch.Tensor], adapter_start_layer: int) -> dict[str, int]:
    """Check the keys and shapes of a release state dict; return its geometry (`width`, `r`, `num_blocks`,
    `num_text_blocks`, `num_adapters`).

    Raises:
        ReleaseCheckpointError: listing the missing keys, or naming the adapters' layer count / rank mismatch.
    """
    vision_blocks = {int(m.group(1)) for k in state if (m := _VISION_BLOCK_KEY.match(k))}
    text_blocks = {int(m.group(1)) for k in state if (m := _TEXT_BLOCK_KEY.match(k))}
    adapters = {int(m.group(1)) for k in state if (m := _ADAPTER_KEY.match(k))}
    missing = [k for k in _REQUIRED if k not in state]
    if not vision_blocks:
        missing.append("clip_model.visual.transformer.resblocks.* (the PE backbone)")
    if not text_blocks:
        missing.append("clip_model.transformer.resblocks.* (the PE text tower)")
    if not adapters:
        missing.append("encoder_adapters.*")
    if missing:
        sample = sorted(state)[:6]
        raise ReleaseCheckpointError(
            f"not a checkpoint of the Q-CLIP release: {len(missing)} missing key(s) [{', '.join(missing)}] "
            f"(first keys found: {sample})",
            "pass a <name>_<valset>_best.pth written by the release's train.py; for a plain PE-Core checkpoint use "
            "python -m qclip_hf.models.pe_core.convert_pe_core_checkpoint",
        )
    num_blocks = max(vision_blocks) + 1
    if len(text_blocks) != num_blocks:
        raise ReleaseCheckpointError(
            f"the checkpoint's vision tower has {num_blocks} blocks and its text tower {len(text_blocks)}",
            "the release adapts the same block indices in both towers, so both must have the same depth",
        )
    if sorted(adapters) != list(range(num_blocks)):
        raise ReleaseCheckpointError(
            f"the checkpoint has encoder adapters for {len(adapters)} layers but its backbone has {num_blocks} blocks "
            f"(the release builds one adapter per vision block)",
            "the file was not written by the release's QCLIP, or its backbone and adapters come from different runs",
        )
    if not 0 <= adapter_start_layer < num_blocks:
        raise ReleaseCheckpointError(f"--adapter_start_layer={adapter_start_layer} is outside the backbone's "
                                     f"{num_blocks} blocks", f"give a value in 0..{num_blocks - 1} (the release uses 18)")
    core = state["shared_core.0.weight"]
    r, width = core.shape[0], state["encoder_adapters.0.down_proj.weight"].shape[1]
    expected = {
        "shared_core.0.weight": (r, r), "shared_core.2.weight": (r, r),
        "proj_adapter.0.weight": (r, width), "proj_adapter.1.weight": (r, r), "proj_adapter.3.weight": (width, r),
        "context_tokens": (1, None, width), "score_proj": (len(RELEASE_LEVELS), 1),
    }
    for i in range(adapter_start_layer, num_blocks):
        expected[f"encoder_adapters.{i}.down_proj.weight"] = (r, width)
        expected[f"encoder_adapters.{i}.up_proj.weight"] = (width, r)
        expected[f"encoder_adapters.{i}.ln.weight"] = (width,)
    wrong = []
    for key, shape in expected.items():
        got = tuple(state[key].shape)
        if len(got) != len(shape) or any(s is not None and g != s for g, s in zip(got, shape, strict=False)):
            wrong.append(f"{key} {got} (expected {tuple('*' if s is None else s for s in shape)})")
    if wrong:
        raise ReleaseCheckpointError(
            f"the adapters do not share one rank r={r} (from shared_core.0) and width {width}: {'; '.join(wrong)}",
            "the file mixes adapters of different ranks or widths and cannot be converted",
        )
    for name in _SCALES:
        if state[name].numel() != 1:
            raise ReleaseCheckpointError(f"{name} has shape {tuple(state[name].shape)}, the release's is a 0-d scale",
                                         "the file was not written by the release's QCLIP")
    return {"width": width, "r": r, "num_blocks": num_blocks, "num_adapters": num_blocks - adapter_start_layer,
            "num_context": state["context_tokens"].shape[1]}


def pe_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The Meta-format PE state dict inside a release state dict (`clip_model.` stripped)."""
    pe = {k[len("clip_model."):]: v for k, v in state.items() if k.startswith("clip_model.")}
    # Non-persistent in Meta's code, but drop them if a variant saved them: they follow from the geometry.
    return {k: v for k, v in pe.items() if k != "attn_mask" and ".rope." not in k and not k.endswith("freqs")}


# ---------------------------------------------------------------------------------------------- geometry
def backbone_pe_config(backbone: str | None, pe_state: Mapping[str, torch.Tensor]):
    """The PE-Core geometry to convert onto: `backbone`'s config when it can be read without downloading, else the
    published preset whose shapes match the checkpoint."""
    from ..pe_core import PE_CORE_PRESETS, PECoreConfig
    from ..pe_core.hub_pe_core import is_pe_core_release

    if backbone and is_pe_core_release(backbone):
        return PECoreConfig.from_preset(backbone)
    if backbone and os.path.isdir(backbone):
        config = PECoreConfig.from_pretrained(backbone)
        return config
    if backbone:
        try:
            return PECoreConfig.from_pretrained(backbone, local_files_only=True)
        except (OSError, ValueError):
            logger.info("backbone %s has no readable config locally; matching the checkpoint to a preset", backbone)
    width = pe_state["visual.conv1.weight"].shape[0]
    layers = 1 + max(int(k.split(".")[3]) for k in pe_state if k.startswith("visual.transformer.resblocks."))
    for name in PE_CORE_PRESETS:
        config = PECoreConfig.from_preset(name)
        vision = config.vision_config
        if (vision.hidden_size, vision.num_hidden_layers, vision.patch_size) == (
                width, layers, pe_state["visual.conv1.weight"].shape[-1]) and vision.num_positions == len(
                pe_state["visual.positional_embedding"]):
            return config
    raise ReleaseCheckpointError(
        f"the checkpoint's PE backbone (width {width}, {layers} blocks) matches no published PE-Core geometry",
        "pass --backbone with a local PE-Core folder whose config.json describes it",
    )


# ---------------------------------------------------------------------------------------------- mapping
def release_to_qclip_state(model, state: Mapping[str, torch.Tensor], adapter_start_layer: int) -> dict[str, torch.Tensor]:
    """Map the release's trainable tensors onto `model`'s (a [`QClipModel`] in the reference layout) parameter names."""
    tuner = model.backbone.base_model
    adapter = "default"
    base = "backbone.base_model"
    out: dict[str, torch.Tensor] = {}
    for position, index in enumerate(range(adapter_start_layer, adapter_start_layer + 10**6)):
        slot = f"layer{position}"
        if slot not in tuner.scma_slots[adapter]:
            break
        for ours, theirs in (("down", "down_proj"), ("up", "up_proj"), ("norm", "ln")):
            for kind in ("weight", "bias"):
                out[f"{base}.scma_slots.{adapter}.{slot}.{ours}.{kind}"] = state[f"encoder_adapters.{index}.{theirs}.{kind}"]
    for ours, theirs in (("fc1", "shared_core.0"), ("fc2", "shared_core.2")):
        for kind in ("weight", "bias"):
            out[f"{base}.scma_ffn.{adapter}.ffn.{ours}.{kind}"] = state[f"{theirs}.{kind}"]
    for ours, theirs in (("down", "proj_adapter.0"), ("mid", "proj_adapter.1"), ("up", "proj_adapter.3")):
        for kind in ("weight", "bias"):
            out[f"{base}.scma_slots.{adapter}.projection.{ours}.{kind}"] = state[f"{theirs}.{kind}"]
    # Scale indices come from the tuner's own plan: (block|projection, vision|text) -> index into the scale vector.
    release_scale = {("block", "vision"): "image_adapter_weight", ("block", "text"): "text_adapter_weight",
                     ("projection", "vision"): "image_proj_adapter_weight",
                     ("projection", "text"): "text_proj_adapter_weight"}
    values = torch.empty(tuner.scma_scales[adapter].values.shape, dtype=torch.float32)
    for target in tuner._scma_targets[adapter].values():
        values[target.route.scale_index] = state[release_scale[(target.kind, target.tower)]].reshape(())
    out[f"{base}.scma_scales.{adapter}.values"] = values
    out["prompt_learner.context"] = state["context_tokens"][0]
    score_proj = state["score_proj"].reshape(-1)
    order = [RELEASE_LEVELS.index(level) for level in model.config.level_names]
    out["quality_head.proj.weight"] = score_proj[order].reshape(1, -1)
    return {k: v.detach().to(torch.float32).clone() for k, v in out.items()}


def _check_backbone_weights(backbone: str, converted: Mapping[str, torch.Tensor]) -> str:
    """Compare the checkpoint's frozen PE weights with `backbone`'s when its weights are on this machine.

    The backbone is loaded as a model (its files may store tensors in another layout that loading maps). Returns a
    note for the report; raises when the weights differ.
    """
    from transformers import AutoModel

    from ..pe_core.hub_pe_core import converted_pe_core_path, is_pe_core_release
    from .loading_qclip import quiet_progress_bars

    folder = None
    if os.path.isdir(backbone):
        folder = backbone
    else:
        try:
            if is_pe_core_release(backbone):
                folder = str(converted_pe_core_path(backbone, local_files_only=True))
            else:
                from huggingface_hub import snapshot_download

                folder = snapshot_download(backbone, local_files_only=True)
        except Exception as err:  # not cached, offline: the check is best effort by design
            logger.debug("backbone weights not available locally: %s", err)
    if folder is None:
        message = (f"could not check the checkpoint's frozen PE weights against {backbone!r}: its weights are not on "
                   "this machine; the converted model will load them from there")
        logger.warning(message)
        return message
    with quiet_progress_bars():
        reference = AutoModel.from_pretrained(folder).state_dict()
    differing = [k for k, v in converted.items() if k not in reference
                 or reference[k].shape != v.shape or not torch.equal(reference[k].to(v.dtype), v)]
    if differing:
        raise ReleaseCheckpointError(
            f"the checkpoint's frozen PE weights differ from backbone {backbone!r} in {len(differing)} of "
            f"{len(converted)} tensors (e.g. {differing[:3]})",
            "pass the backbone the checkpoint was trained from with --backbone, or keep the checkpoint's own "
            "weights with --save_backbone",
        )
    return f"the checkpoint's frozen PE weights equal {backbone!r} ({len(converted)} tensors)"


def _validation_set_name(checkpoint: Path) -> str | None:
    # train.py names files f"{opt['name']}_{key}_best.pth" where key is the validation loader's key ("val", "val_1").
    match = re.search(r"_(val[^_]*)_best$", checkpoint.stem)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------- conversion
def convert_release_checkpoint(
    checkpoint: str | os.PathLike,
    output_dir: str | os.PathLike,
    backbone: str = DEFAULT_BACKBONE,
    save_backbone: bool = False,
    adapter_start_layer: int = RELEASE_ADAPTER_START_LAYER,
) -> Path:
    """Convert a release checkpoint into a qclip-hf model directory loadable with `QClipModel.from_pretrained`.

    Args:
        checkpoint: the `.pth` the release's `train.py` wrote.
        output_dir: the model directory to write.
        backbone (`str`, defaults to `"facebook/PE-Core-L14-336"`): Hub id or local folder the converted model loads
            its frozen backbone from, checked against the checkpoint's own PE weights when they are on this machine.
            With `save_backbone` it only gives the geometry (attention heads are not visible in a state dict; a
            published PE-Core geometry is also recognised from the tensor shapes).
        save_backbone (`bool`): write the checkpoint's PE weights as a PE-Core model under `output_dir/backbone` and
            name it relative to `output_dir` (the directory then stands alone and can be moved or pushed).
        adapter_start_layer (`int`, defaults to 18): the release's `QCLIP(adapter_start_layer=...)`; blocks from there
            on carry adapters. It is not stored in the checkpoint.

    Example:
        ```python
        >>> from qclip_hf import QClipModel
        >>> out = convert_release_checkpoint("qclip_lsvq_val_best.pth", "qclip-lsvq", save_backbone=True)  # doctest: +SKIP
        >>> QClipModel.from_pretrained(out)  # doctest: +SKIP
        ```
    """
    from ..pe_core import PECoreModel, build_pe_core_tokenizer
    from ..pe_core.convert_pe_core_checkpoint import (
        PECoreCheckpointError,
        convert_pe_core_checkpoint,
        convert_pe_core_state_dict,
    )
    from .modeling_qclip import QClipModel

    checkpoint, output_dir = Path(checkpoint), Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise ReleaseCheckpointError(f"--output_dir {str(output_dir)!r} is a file", "give a directory path")
    state, results = load_release_checkpoint(checkpoint)
    geometry = check_release_layout(state, adapter_start_layer)
    unused = [i for i in range(adapter_start_layer)]
    notes = []
    if unused:
        notes.append(f"encoder_adapters.{unused[0]}..{unused[-1]} ignored: the release builds one per block but "
                     f"only uses blocks >= {adapter_start_layer}")
    pe_state = pe_state_dict(state)
    pe_config = backbone_pe_config(backbone, pe_state)
    pe_config.vision_config.legacy_class_token_rope = True
    if pe_config.vision_config.hidden_size != geometry["width"]:
        raise ReleaseCheckpointError(
            f"the adapters are {geometry['width']} wide but backbone {backbone!r} is "
            f"{pe_config.vision_config.hidden_size} wide", "pass the backbone the checkpoint was trained on")
    try:
        converted = convert_pe_core_state_dict(pe_state, pe_config, source="meta")
    except PECoreCheckpointError as err:
        raise ReleaseCheckpointError(f"the checkpoint's PE backbone (clip_model.*) does not fit {backbone!r}: {err}",
                                     "pass the backbone the checkpoint was trained on with --backbone") from err

    output_dir.mkdir(parents=True, exist_ok=True)
    if save_backbone:
        backbone_dir = output_dir / "backbone"
        # The PE-Core converter writes the weights, config (with the legacy rotary layout) and processor files.
        convert_pe_core_checkpoint(pe_state, backbone_dir, pe_config, source="meta")
        backbone_ref = str(backbone_dir.resolve())
    else:
        notes.append(_check_backbone_weights(backbone, converted))
        backbone_ref = backbone
    with torch.device("meta"):
        pe_model = PECoreModel(pe_config)
    pe_model.load_state_dict(converted, strict=True, assign=True)
    tokenizer_source = backbone_ref if os.path.isdir(backbone_ref) and any(
        (Path(backbone_ref) / name).is_file() for name in ("tokenizer.json", "vocab.json")) else None
    tokenizer = tokenizer_source or build_pe_core_tokenizer(pe_config.text_config.max_position_embeddings)

    config = QClipConfig.from_preset(
        "reference",
        backbone=backbone_ref,
        scma_config={"r": geometry["r"], "layers": geometry["num_adapters"]},
        num_context_tokens=geometry["num_context"],
        context_init=" ".join(["X"] * geometry["num_context"]),
        head_bias=False,
        backbone_config_overrides=LEGACY_ROPE_OVERRIDES,
    )
    model = QClipModel(config, backbone=pe_model.eval(), tokenizer=tokenizer)
    trainable = release_to_qclip_state(model, state, adapter_start_layer)
    result = model.load_state_dict(trainable, strict=False)
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    not_set = sorted(expected - set(trainable))
    if not_set or result.unexpected_keys:
        raise ReleaseCheckpointError(f"conversion left trainable weights unset {not_set[:5]} or produced unknown "
                                     f"ones {list(result.unexpected_keys)[:5]}", "report this as a qclip-hf bug")
    model.save_pretrained(output_dir)

    record = {
        "source_checkpoint": checkpoint.name,
        "validation_set": _validation_set_name(checkpoint),
        "validation_results": results,
        "metrics_note": "computed by the release's train.py: scipy SROCC/PLCC/KROCC, and RMSE after rescaling the "
                        "predictions to the labels' mean and standard deviation",
        "adapter_start_layer": adapter_start_layer,
        "notes": notes,
    }
    (output_dir / RESULTS_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    _write_model_card(model, output_dir, record)
    for note in notes:
        logger.info(note)
    return output_dir


def _write_model_card(model, output_dir: Path, record: Mapping[str, Any]) -> None:
    from ...model_card import render_model_card

    results = record.get("validation_results")
    name = record.get("validation_set") or "release validation"
    body = (f"Converted from the Q-CLIP authors' release checkpoint `{record['source_checkpoint']}` "
            "(GitHub `xiao-mi-d/Q-CLIP`, `train.py`) with `python -m qclip_hf.models.qclip.convert_release_checkpoint`."
            " It reproduces the release exactly: the reference layout, no head bias, and the pre-fix rotary layout "
            "of the release's vendored Perception Encoder code (`legacy_class_token_rope=True`). The results below "
            f"are the release's own `validation_results` ({record['metrics_note']}); they are kept in "
            f"`{RESULTS_FILE}`.")
    card = render_model_card(
        model.config,
        results={name: dict(results)} if results else None,
        extra={"recipe": "the authors' release (train.py)", "fit": "rescale",
               "num_trainable_parameters": model.num_trainable_parameters(),
               "sections": {"Conversion": body}},
    )
    (output_dir / "README.md").write_text(card, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qclip_hf.models.qclip.convert_release_checkpoint",
        description="Convert a checkpoint of the Q-CLIP authors' release (train.py) into a qclip-hf model directory.",
    )
    parser.add_argument("--checkpoint", required=True, help="the <name>_<valset>_best.pth the release's train.py wrote")
    parser.add_argument("--output_dir", required=True, help="the qclip-hf model directory to write")
    parser.add_argument("--backbone", default=DEFAULT_BACKBONE,
                        help=f"Hub id or local folder of the frozen backbone (default {DEFAULT_BACKBONE}); checked "
                             "against the checkpoint's PE weights when available locally. With --save_backbone it "
                             "only gives the geometry")
    parser.add_argument("--save_backbone", action="store_true",
                        help="write the checkpoint's own PE weights to OUTPUT_DIR/backbone and use them")
    parser.add_argument("--adapter_start_layer", type=int, default=RELEASE_ADAPTER_START_LAYER,
                        help="the release's QCLIP(adapter_start_layer=...) (default 18; not stored in the checkpoint)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from .loading_qclip import quiet_progress_bars

    try:
        with quiet_progress_bars():
            out = convert_release_checkpoint(args.checkpoint, args.output_dir, backbone=args.backbone,
                                             save_backbone=args.save_backbone,
                                             adapter_start_layer=args.adapter_start_layer)
    except QClipError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Saved the converted Q-CLIP model to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

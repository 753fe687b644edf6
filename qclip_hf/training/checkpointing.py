"""Accelerate checkpoints that hold only what trains, written atomically and refused when they belong to another model.

A checkpoint `OUTPUT/step_N/` is written as `OUTPUT/step_N.tmp/` and renamed once complete; its last file,
`qclip_checkpoint.json` (the completion marker), holds the step, the model's fingerprint and the run's history so far,
and is itself written through a temporary file and a rename. `latest` picks the highest complete `step_N`; a crash
mid-write leaves only a `.tmp` directory that is never resumed from and is removed by the next save. A checkpoint is
deleted (replaced by a re-run of its step, or beyond `total_limit`) by first renaming it `step_N.old`, then removing
its marker, then its files: however a process is killed, a directory named `step_N` or holding the marker is complete
(tests/training/test_checkpoint_interruption.py kills saves at those points).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

import torch
from safetensors.torch import load_file

from ..errors import QClipError

_STEP_DIR = re.compile(r"^step_(\d+)$")
MARKER = "qclip_checkpoint.json"
# Config keys that name where a model came from or which library wrote it, not what it computes.
_VOLATILE_KEYS = {"transformers_version", "_name_or_path", "architectures", "auto_map", "torch_dtype", "dtype"}


def complete_checkpoints(output_dir: str) -> list[tuple[int, str]]:
    """`(step, path)` of every complete `step_N` checkpoint under `output_dir`, oldest first."""
    if not os.path.isdir(output_dir):
        return []
    found = []
    for name in os.listdir(output_dir):
        match = _STEP_DIR.match(name)
        if match and os.path.isfile(os.path.join(output_dir, name, MARKER)):
            found.append((int(match.group(1)), os.path.join(output_dir, name)))
    return sorted(found)


def find_checkpoint(output_dir: str, resume_from: str) -> str:
    """The checkpoint directory to resume from: `resume_from` itself, or the latest complete `step_N` in `output_dir`."""
    if resume_from != "latest":
        if not os.path.isdir(resume_from):
            raise QClipError(f"--resume_from_checkpoint {resume_from!r} is not a directory",
                             'give a step_N directory or "latest"')
        if not os.path.isfile(os.path.join(resume_from, MARKER)):
            raise QClipError(f"--resume_from_checkpoint {resume_from!r} is incomplete (no {MARKER}): it was "
                             "interrupted while being written or predates this version", "resume from another one")
        return resume_from
    found = complete_checkpoints(output_dir)
    if not found:
        raise QClipError(f"--resume_from_checkpoint latest: no complete step_N checkpoint in {output_dir!r}",
                         "start without --resume_from_checkpoint or point --output_dir at the interrupted run")
    return found[-1][1]


def model_fingerprint(model: Any) -> dict:
    """What a checkpoint must match to be resumed into `model`: its config and its trainable parameters' shapes."""
    config = {k: v for k, v in model.config.to_dict().items() if k not in _VOLATILE_KEYS}
    shapes = {n: list(p.shape) for n, p in model.named_parameters() if p.requires_grad}
    # Through JSON, so a fingerprint compares equal to itself read back from the marker (tuples become lists).
    return json.loads(json.dumps({"config": config, "trainable": shapes}, default=str))


def fingerprint_differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """Human-readable differences between two fingerprints (nested keys joined by dots)."""
    out = []
    for key in sorted(set(saved) | set(current), key=str):
        name = f"{prefix}{key}"
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += fingerprint_differences(a, b, prefix=f"{name}.")
        elif a != b:
            out.append(f"{name}: checkpoint {a!r}, this run {b!r}")
    return out


def read_checkpoint_state(checkpoint: str, model: Any) -> dict:
    """The checkpoint's `qclip_checkpoint.json`, after checking it was written for a model like `model`.

    Raises:
        QClipError: the checkpoint comes from a different model or config (the differences are named).
    """
    with open(os.path.join(checkpoint, MARKER)) as handle:
        state = json.load(handle)
    differences = fingerprint_differences(state.get("fingerprint", {}), model_fingerprint(model))
    if differences:
        shown = "; ".join(differences[:5]) + (f"; and {len(differences) - 5} more" if len(differences) > 5 else "")
        raise QClipError(f"checkpoint {checkpoint!r} was written for a different model: {shown}",
                         "resume with the model arguments of the run that wrote it, or start a new --output_dir")
    return state


def save_checkpoint(accelerator: Any, output_dir: str, step: int, model: Any, state: dict,
                    total_limit: int | None = None, extra_dirs: dict[str, str] | None = None) -> str:
    """`accelerator.save_state` into `step_N.tmp`, then the marker, then an atomic rename to `step_N`.

    Call on every process (each writes its RNG state). `extra_dirs` (`{name: path}`) are copied into the checkpoint
    (e.g. the current `best/` model, so a resume restores it). With `total_limit`, the oldest complete checkpoints
    beyond that number are deleted after the new one is in place.
    """
    final = os.path.join(output_dir, f"step_{step}")
    tmp = final + ".tmp"
    if accelerator.is_main_process:
        for name in os.listdir(output_dir) if os.path.isdir(output_dir) else []:
            if name.endswith((".tmp", ".old")) and _STEP_DIR.match(name[:-4]):
                _discard(os.path.join(output_dir, name))  # left by a crashed earlier write or deletion
    accelerator.wait_for_everyone()
    accelerator.save_state(tmp)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for name, path in (extra_dirs or {}).items():
            if os.path.isdir(path):
                shutil.copytree(path, os.path.join(tmp, name))
        # The marker last, and whole: a process killed while writing it must not leave an empty or cut marker.
        with open(os.path.join(tmp, MARKER + ".tmp"), "w") as handle:
            json.dump({**state, "step": step, "fingerprint": model_fingerprint(model)}, handle, indent=1)
        os.replace(os.path.join(tmp, MARKER + ".tmp"), os.path.join(tmp, MARKER))
        if os.path.isdir(final):  # a re-run of the same step (e.g. after resuming from an earlier one)
            _discard(final)
        os.replace(tmp, final)
        if total_limit:
            for _, old in complete_checkpoints(output_dir)[:-total_limit]:
                _discard(old)
    accelerator.wait_for_everyone()
    return final


def _discard(path: str) -> None:
    """Delete a checkpoint directory so that no interruption leaves it looking usable: a `step_N` directory is first
    renamed `step_N.old` (atomically: the name goes at once), then its marker goes, then the rest."""
    if _STEP_DIR.match(os.path.basename(path)):
        old = path + ".old"
        if os.path.isdir(old):
            _discard(old)
        os.replace(path, old)
        path = old
    try:
        os.remove(os.path.join(path, MARKER))
    except FileNotFoundError:
        pass
    shutil.rmtree(path, ignore_errors=True)


def parse_checkpoint_step(checkpoint: str) -> int:
    match = _STEP_DIR.match(os.path.basename(os.path.normpath(checkpoint)))
    if match is None:
        raise ValueError(f"checkpoint {checkpoint!r} is not named step_N; cannot tell how far training got.")
    return int(match.group(1))


def register_trainable_only_checkpointing(accelerator: Any) -> None:
    """Make `accelerator.save_state` / `load_state` write and read only trainable parameters of the models.

    A Q-CLIP checkpoint then weighs the adapter's megabytes instead of the backbone's gigabytes; the backbone is
    reloaded from its id when the run restarts, like any frozen input.
    """

    def save_hook(models: list, weights: list, output_dir: str) -> None:
        for i, model in enumerate(models):
            model = getattr(model, "module", model)  # DDP wraps; the saved weights use the inner names
            trainable = {n for n, p in model.named_parameters() if p.requires_grad}
            weights[i] = {k: v for k, v in weights[i].items() if k in trainable}

    def load_hook(models: list, input_dir: str) -> None:
        for i in reversed(range(len(models))):
            suffix = "" if i == 0 else f"_{i}"
            path = os.path.join(input_dir, f"model{suffix}.safetensors")
            if not os.path.isfile(path):
                raise FileNotFoundError(f"checkpoint {input_dir!r} has no {os.path.basename(path)}.")
            state = load_file(path)
            model = models.pop(i)
            model = getattr(model, "module", model)
            trainable = {n for n, p in model.named_parameters() if p.requires_grad}
            if set(state) != trainable:
                raise ValueError(f"checkpoint {input_dir!r} does not hold this model's trainable parameters: "
                                 f"missing {sorted(trainable - set(state))[:5]}, unexpected {sorted(set(state) - trainable)[:5]}.")
            with torch.no_grad():
                model.load_state_dict(state, strict=False)

    accelerator.register_save_state_pre_hook(save_hook)
    accelerator.register_load_state_pre_hook(load_hook)

"""Accelerate checkpoints that hold only what trains: the frozen backbone is never written to `save_state`."""

from __future__ import annotations

import os
import re
from typing import Any

import torch
from safetensors.torch import load_file

_STEP_DIR = re.compile(r"^step_(\d+)$")


def find_checkpoint(output_dir: str, resume_from: str) -> str:
    """The checkpoint directory to resume from: `resume_from` itself, or the latest `step_N` under `output_dir`."""
    if resume_from != "latest":
        if not os.path.isdir(resume_from):
            raise FileNotFoundError(f"--resume_from_checkpoint {resume_from!r} is not a directory.")
        return resume_from
    steps = [(int(m.group(1)), name) for name in (os.listdir(output_dir) if os.path.isdir(output_dir) else [])
             if (m := _STEP_DIR.match(name))]
    if not steps:
        raise FileNotFoundError(f"--resume_from_checkpoint latest: no step_N checkpoint in {output_dir!r}.")
    return os.path.join(output_dir, max(steps)[1])


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

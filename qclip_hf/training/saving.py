"""The model directories a run ships (`OUTPUT/best/`, `OUTPUT/last/`), written atomically, and what trains at all.

Each directory is a normal Q-CLIP model folder (config, adapter, prompt context + head, video processor and, when the
run had an evaluation set, `calibration.json`) that loads with `QClipModel.from_pretrained` and
`pipeline("video-quality", model=...)`, plus `selection.json` saying which epoch it holds and why.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from typing import Any

from ..losses import SHIFT_INVARIANT_LOSSES


def save_model_dir(model: Any, processor: Any, path: str, info: dict[str, Any], calibration: Any = None) -> None:
    """Save `model` and `processor` to `path` through `path.tmp` and renames: a crash leaves the old or the new one.

    `calibration` (a [`~qclip_hf.calibration.Calibration`] fitted on this epoch's predictions) is saved as
    `calibration.json`; without one the folder is uncalibrated, whatever map `model` carried (e.g. from
    `--init_from`: it described other weights).
    """
    from ..calibration.mapping import CALIBRATION_NAME

    tmp, old = f"{path}.tmp", f"{path}.old"
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    if calibration is not None:
        calibration.save(os.path.join(tmp, CALIBRATION_NAME))
    elif os.path.isfile(os.path.join(tmp, CALIBRATION_NAME)):
        os.remove(os.path.join(tmp, CALIBRATION_NAME))
    with open(os.path.join(tmp, "selection.json"), "w") as handle:
        json.dump(info, handle, indent=2)
    if os.path.isdir(path):
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def saved_selection(path: str) -> dict[str, Any] | None:
    """The `selection.json` of a saved `best/` or `last/` (which epoch and step it holds), or None."""
    try:
        with open(os.path.join(path, "selection.json")) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def restore_best_dir(checkpoint: str, output_dir: str, best: dict[str, Any] | None) -> None:
    """After a resume, make `OUTPUT/best/` hold the epoch the checkpoint had selected (`best`: its `epoch`, `step`).

    A killed run may have selected a later epoch, which the resumed run recomputes; the checkpoint carries a copy of
    `best/` as it was when it was written. If neither matches, `best/` is removed (with a warning) and written again
    when the resumed run next selects an epoch.
    """
    key = (best["epoch"], best["step"]) if best else None
    target = os.path.join(output_dir, "best")
    found = saved_selection(target)
    if found is not None and (found.get("epoch"), found.get("step")) == key:
        return
    shutil.rmtree(target, ignore_errors=True)
    copy = os.path.join(checkpoint, "best")
    copied = saved_selection(copy)
    if key is not None and copied is not None and (copied.get("epoch"), copied.get("step")) == key:
        shutil.copytree(copy, target)
    elif key is not None:
        warnings.warn(f"best/ of epoch {best['epoch']} could not be restored from {checkpoint!r}; it is written "
                      "again at the next selected epoch.", stacklevel=2)


def resume_from_checkpoint(accelerator: Any, output_dir: str, resume_from: str, model: Any, selector: Any,
                           steps_per_epoch: int) -> tuple[int, list[dict], list]:
    """Load a checkpoint (`resume_from` or `"latest"`), refusing one of another model; restore history and `best/`.

    The selector is replayed over the restored history. A run stopped inside an epoch by `--max_train_steps`
    evaluated that partial epoch; its entry is dropped, since the resumed run completes and evaluates the epoch.

    Returns:
        `(completed_steps, history, epoch_loss)` where `epoch_loss` is `[sum, count]` of the unfinished epoch.
    """
    from .checkpointing import find_checkpoint, read_checkpoint_state
    from .run_results import describe_best

    checkpoint = find_checkpoint(output_dir, resume_from)
    state = read_checkpoint_state(checkpoint, model)
    accelerator.print(f"Resuming from {checkpoint}")
    accelerator.load_state(checkpoint)
    start_epoch = state["step"] // steps_per_epoch
    history = [record for record in state["history"] if record["epoch"] < start_epoch]
    for record in history:
        selector.update(record["epoch"], record["metrics"])
    if accelerator.is_main_process:
        restore_best_dir(checkpoint, output_dir, selector.best and describe_best(selector, history, True))
    return state["step"], history, state["epoch_loss"]


def freeze_undetermined_parameters(model: Any, loss_weights: dict[str, float]) -> list[str]:
    """Freeze parameters the loss cannot determine; returns their names.

    A bias added to every score (the quality head's) gets no gradient from a loss made only of shift-invariant terms
    (PLCC, rank): left trainable, AdamW would move it by about the learning rate per step on rounding noise.
    """
    if not set(loss_weights) <= set(SHIFT_INVARIANT_LOSSES):
        return []
    frozen = []
    for name, parameter in model.named_parameters():
        if name.startswith("quality_head.") and name.endswith("bias") and parameter.requires_grad:
            parameter.requires_grad_(False)
            frozen.append(name)
    return frozen

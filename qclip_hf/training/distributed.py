"""What makes N processes train the model one process trains: a refused broken launch and losses on the global batch.

Correlation losses (PLCC, rank) are not averages over samples, so DDP's averaging of per-process losses is not the
loss of the global batch. [`gather_for_loss`] gathers predictions with a differentiable all-gather: every process
then computes the same global-batch loss `L`. The all-gather's backward sums the gradients all processes computed
for each process's predictions (N copies of `dL/dp_r`), and DDP's averaging of parameter gradients divides by N
again, so each parameter receives exactly `dL/dtheta` of the 1-process run.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from ..errors import QClipError


def check_launch(accelerator: Any, cpu: bool = False) -> None:
    """Refuse a launch whose processes do not form one group, before any work is done.

    `accelerate launch --multi_gpu --num_processes 2` on a machine without GPUs (and without `--cpu` for the script)
    starts two processes that each see a group of one: two independent runs writing the same output directory.

    Raises:
        QClipError: the launch asked for `WORLD_SIZE` processes but this process is in a group of another size.
    """
    requested = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if requested == accelerator.num_processes:
        return
    if not cpu and not torch.cuda.is_available():
        fix = ("this machine has no GPU: add --cpu to the training script's arguments to run the processes on CPU "
               "(gloo), or launch with --num_processes 1")
    else:
        fix = "check the launcher's --num_processes / --num_machines and the accelerate config"
    raise QClipError(f"the launch requested {requested} processes (WORLD_SIZE={requested}) but this process is in a "
                     f"group of {accelerator.num_processes}; the processes would train independently", fix)


def gather_for_loss(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Concatenate each tensor over all processes (rank order), keeping the autograd graph.

    Every process must pass tensors of the same shape ([`GlobalBatchSampler`] pads short shares). Outside a
    process group of more than one, the tensors are returned unchanged.

    Example:
        ```python
        >>> predictions, labels, valid = gather_for_loss(scores, batch["labels"], batch["valid"])  # doctest: +SKIP
        >>> loss = loss_fn(predictions[valid], labels[valid])  # doctest: +SKIP
        ```
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensors
    from torch.distributed.nn.functional import all_gather

    out = []
    for tensor in tensors:
        if tensor.requires_grad:
            out.append(torch.cat(all_gather(tensor), dim=0))
        else:
            parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
            dist.all_gather(parts, tensor.contiguous())
            out.append(torch.cat(parts, dim=0))
    return tuple(out)

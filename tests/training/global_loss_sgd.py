"""The global-batch PLCC + rank loss trained with plain SGD, as `training/train.py` computes it, on 1 or N processes.

    accelerate launch --multi_gpu --num_processes 2 ... tests/training/global_loss_sgd.py BACKBONE OUT_DIR

SGD moves each weight by `lr * gradient`, so a gradient of the wrong size (the all-gather of
`qclip_hf.training.distributed.gather_for_loss` passing back only the local slice's share: 1/N of it) trains another
model; AdamW, nearly invariant to the gradient's scale, would hide it. Every step uses `GlobalBatchSampler`'s shares and
valid flags and `gather_for_loss`, like train.py; random frames stand in for decoded videos (the property is the
loss's, not the decoder's). Writes `gradients.safetensors` (the gradient of every trainable weight at each step,
before the update) and `weights.safetensors` (the trained weights) from the main process.

Not a test module: `test_global_loss_sgd.py` launches it and imports it for the 1-process reference.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch

from qclip_hf import QClipConfig, QClipModel
from qclip_hf.losses import build_loss
from qclip_hf.training.batching import GlobalBatchSampler
from qclip_hf.training.distributed import gather_for_loss
from qclip_hf.training.saving import freeze_undetermined_parameters

NUM_VIDEOS = 23  # global batches of 12: one full, then 11 (shared 6 + 5 and a masked duplicate over 2 processes)
GLOBAL_BATCH = 12
EPOCHS = 2
LEARNING_RATE = 0.1  # the updates move the trained weights by ~10 % of their size over the 4 steps


def build_model(backbone: str) -> QClipModel:
    torch.manual_seed(0)
    config = QClipConfig(backbone=backbone, scma_config={"r": 4, "layers": 2}, num_frames=2)
    model = QClipModel(config).train()
    freeze_undetermined_parameters(model, build_loss("plcc+rank").weights)  # as train.py does for this loss
    return model


def videos() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    return (torch.randn(NUM_VIDEOS, 2, 3, 32, 32, generator=generator),
            torch.rand(NUM_VIDEOS, generator=generator) * 4 + 1)


def train(model: torch.nn.Module, inner: QClipModel, num_processes: int = 1, process_index: int = 0,
          backward: Callable[[torch.Tensor], None] | None = None, chunks: int = 1) -> tuple[dict, dict]:
    """SGD on the global-batch loss; returns `(gradients, weights)` keyed `step{k}.{name}` and `{name}`.

    `model` is what is called (DDP-wrapped under N processes), `inner` the QClipModel. `chunks` > 1 scores each
    share in that many pieces (one process computing its batch as N processes would: the rounding of a split batch).
    """
    pixels, labels = videos()
    loss_fn = build_loss("plcc+rank")
    trainable = {name: p for name, p in inner.named_parameters() if p.requires_grad}
    optimizer = torch.optim.SGD(list(trainable.values()), lr=LEARNING_RATE)
    sampler = GlobalBatchSampler(NUM_VIDEOS, GLOBAL_BATCH // num_processes, num_processes, process_index, seed=3)
    gradients, step = {}, 0
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        for share in sampler:
            index = torch.tensor([i for i, _ in share])
            valid = torch.tensor([v for _, v in share])
            parts = pixels[index].split(-(-len(index) // chunks))
            scores = torch.cat([model(pixel_values_videos=part).scores for part in parts])
            scores, batch_labels, valid = gather_for_loss(scores.float(), labels[index], valid)
            loss = loss_fn(scores[valid], batch_labels[valid])
            (backward or torch.Tensor.backward)(loss)
            step += 1
            gradients.update({f"step{step}.{name}": p.grad.detach().clone() for name, p in trainable.items()})
            optimizer.step()
            optimizer.zero_grad()
    return gradients, {name: p.detach().clone() for name, p in trainable.items()}


def main(backbone: str, output_dir: str) -> None:
    from accelerate import Accelerator
    from safetensors.torch import save_file

    accelerator = Accelerator(cpu=True)
    inner = build_model(backbone)
    model = accelerator.prepare(inner)
    gradients, weights = train(model, inner, accelerator.num_processes, accelerator.process_index,
                               backward=accelerator.backward)
    checksums = accelerator.gather(torch.stack([w.double().sum() for w in weights.values()]).sum().reshape(1))
    if accelerator.is_main_process:
        assert accelerator.num_processes > 1 and checksums.unique().numel() == 1, checksums  # one model, not N
        save_file(gradients, f"{output_dir}/gradients.safetensors")
        save_file(weights, f"{output_dir}/weights.safetensors")
    accelerator.wait_for_everyone()
    accelerator.end_training()


if __name__ == "__main__":
    main(*sys.argv[1:3])

"""Training batches that are the same global batches whatever the number of processes.

Accelerate's sharded loaders pad an uneven last batch with samples from the start of the epoch, so a 2-process run
would not see the batches a 1-process run sees. [`GlobalBatchSampler`] cuts one seeded permutation of the data set
into global batches of `batch_size * num_processes` samples and gives each process its contiguous share. A short
last global batch is shared as evenly as possible; a process whose share is short gets duplicates of the batch's
first sample marked `valid = False`, which the loss leaves out (see `qclip_hf.training.distributed.gather_for_loss`).
The gathered valid samples of every step are exactly the 1-process batch, in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler


class GlobalBatchSampler(Sampler[list[tuple[int, bool]]]):
    """Yields, for this process, lists of `(dataset_index, valid)` for every global batch of an epoch.

    The permutation is `torch.randperm(num_samples)` seeded with `seed + epoch` (identical on every process), so a
    resumed run replays an uninterrupted one: [`GlobalBatchSampler.set_epoch`] and `start_batch` are all it needs.

    Args:
        num_samples (`int`): size of the training set.
        batch_size (`int`): samples per process per batch (the global batch is `batch_size * num_processes`).
        num_processes (`int`), process_index (`int`): this process's place in the group.
        seed (`int`): base seed of the shuffle.
        shuffle (`bool`): shuffle every epoch (else the data set's order).
        drop_last (`bool`): drop a last global batch shorter than `batch_size * num_processes`.

    Example:
        ```python
        >>> from qclip_hf.training.batching import GlobalBatchSampler
        >>> sampler = GlobalBatchSampler(5, batch_size=2, num_processes=2, process_index=1, shuffle=False)
        >>> list(sampler)  # global batches [0, 1, 2, 3] and [4]: this process gets [2, 3] then a masked duplicate
        [[(2, True), (3, True)], [(4, False)]]
        ```
    """

    def __init__(self, num_samples: int, batch_size: int, num_processes: int = 1, process_index: int = 0,
                 seed: int = 0, shuffle: bool = True, drop_last: bool = False):
        if num_samples < 1 or batch_size < 1 or num_processes < 1 or not 0 <= process_index < num_processes:
            raise ValueError(f"GlobalBatchSampler: bad sizes num_samples={num_samples}, batch_size={batch_size}, "
                             f"num_processes={num_processes}, process_index={process_index}.")
        self.num_samples, self.batch_size = num_samples, batch_size
        self.num_processes, self.process_index = num_processes, process_index
        self.seed, self.shuffle, self.drop_last = seed, shuffle, drop_last
        self.epoch, self.start_batch = 0, 0

    @property
    def global_batch_size(self) -> int:
        return self.batch_size * self.num_processes

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's permutation and skip its first `start_batch` batches (resume mid-epoch)."""
        self.epoch, self.start_batch = epoch, start_batch

    def num_batches(self) -> int:
        """Global batches per epoch (the same on every process)."""
        full, rest = divmod(self.num_samples, self.global_batch_size)
        return full if (self.drop_last or rest == 0) else full + 1

    def __len__(self) -> int:
        return self.num_batches() - self.start_batch

    def __iter__(self) -> Iterator[list[tuple[int, bool]]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_samples, generator=generator).tolist()
        else:
            order = list(range(self.num_samples))
        size = self.global_batch_size
        for b in range(self.start_batch, self.num_batches()):
            batch = order[b * size:(b + 1) * size]
            share = math.ceil(len(batch) / self.num_processes)  # == batch_size for a full batch
            mine = batch[self.process_index * share:(self.process_index + 1) * share]
            yield [(i, True) for i in mine] + [(batch[0], False)] * (share - len(mine))


class MaskedItems(Dataset):
    """A view of a training set indexed by `(index, valid)` pairs: each item gains a `valid` flag."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, bool]) -> dict[str, torch.Tensor]:
        index, valid = key
        return {**self.dataset[index], "valid": torch.tensor(bool(valid))}

"""The field's 10 x 80/20 fine-tuning protocol (DOVER): split k shuffles with `random.seed(42 * (k + 1))`."""

from __future__ import annotations

import random
from typing import Any


def dover_split_indices(num_rows: int, split: int, train_ratio: float = 0.8) -> tuple[list[int], list[int]]:
    """Train and test row indices of split `split`, exactly as DOVER draws them.

    `idx = list(range(N)); random.seed(42 * (split + 1)); random.shuffle(idx)`; the first `int(train_ratio * N)`
    are train, the rest test. A private `random.Random` gives the same permutation without touching the global
    random state. Split 0 is also the reference release's single split (seed 42).

    Example:

    ```python
    >>> from qclip_hf.data.splits import dover_split_indices
    >>> train, test = dover_split_indices(10, 0)
    >>> len(train), len(test)
    (8, 2)
    ```
    """
    if not isinstance(num_rows, int) or num_rows < 2:
        raise ValueError(f"num_rows must be an int >= 2, got {num_rows!r}")
    if not isinstance(split, int) or split < 0:
        raise ValueError(f"split must be a non-negative int, got {split!r}")
    if not 0.0 < train_ratio < 1.0:
        raise ValueError(f"train_ratio must be in (0, 1), got {train_ratio!r}")
    indices = list(range(num_rows))
    random.Random(42 * (split + 1)).shuffle(indices)
    cut = int(train_ratio * num_rows)
    return indices[:cut], indices[cut:]


def dover_splits(dataset: Any, num_splits: int = 10, train_ratio: float = 0.8) -> list[Any]:
    """`num_splits` `DatasetDict`s with `"train"` and `"test"` for a `datasets.Dataset`, per :func:`dover_split_indices`.

    Example:

    ```python
    >>> from qclip_hf.data.splits import dover_splits
    >>> splits = dover_splits(konvid)   # 10 DatasetDicts
    >>> splits[0]["train"].num_rows, splits[0]["test"].num_rows
    (960, 240)
    ```
    """
    import datasets

    if not isinstance(num_splits, int) or num_splits < 1:
        raise ValueError(f"num_splits must be a positive int, got {num_splits!r}")
    out = []
    for split in range(num_splits):
        train, test = dover_split_indices(dataset.num_rows, split, train_ratio)
        out.append(datasets.DatasetDict({"train": dataset.select(train), "test": dataset.select(test)}))
    return out

import random

import datasets
import pytest

from qclip_hf.data.splits import dover_split_indices, dover_splits


@pytest.mark.parametrize("n", [10, 234, 1200])
def test_same_permutation_as_dover(n):
    state = random.getstate()
    for k in range(10):
        idx = list(range(n))
        random.seed(42 * (k + 1))  # DOVER's own code
        random.shuffle(idx)
        cut = int(0.8 * n)
        assert dover_split_indices(n, k) == (idx[:cut], idx[cut:])
    random.setstate(state)


def test_global_random_state_untouched():
    random.seed(5)
    expected = random.random()
    random.seed(5)
    dover_split_indices(100, 3)
    assert random.random() == expected


def test_ten_splits_of_a_dataset():
    ds = datasets.Dataset.from_dict({"i": list(range(1200))})
    splits = dover_splits(ds)
    assert len(splits) == 10
    for k, split in enumerate(splits):
        train, test = split["train"]["i"], split["test"]["i"]
        assert len(train) == 960 and len(test) == 240 and not set(train) & set(test)
        assert (train, test) == dover_split_indices(1200, k)
    assert splits[0]["test"]["i"] != splits[1]["test"]["i"]


def test_validation():
    with pytest.raises(ValueError, match="train_ratio"):
        dover_split_indices(10, 0, train_ratio=1.0)
    with pytest.raises(ValueError, match="split must be"):
        dover_split_indices(10, -1)

"""Which epoch is shipped: selection rules over the per-epoch metrics of a run, replayable from its history.

Two rules exist:

- `"release"`: the reference release's rule, per validation set. An epoch is selected when its SROCC + PLCC beats
  the sum of the best SROCC and the best PLCC seen so far on that set (per-metric bests, possibly from different
  epochs; both start at -1). The per-metric bests (max SROCC / PLCC / KROCC, min RMSE) are what the release prints.
  One difference: the first epoch with finite metrics is always selected (the release would never save an epoch
  whose SROCC and PLCC are both exactly -1), so `best/` always exists.
- `"mean_srocc_plcc"`: the epoch with the highest mean of SROCC and PLCC (the first one on ties; NaN never wins).

The selector is a pure function of the history, so a resumed run rebuilds it by replaying `results.json`.
"""

from __future__ import annotations

import math
import random
from typing import Any

SELECTION_RULES = ("release", "mean_srocc_plcc")
RULE_DESCRIPTIONS = {
    "release": "SROCC + PLCC above the best SROCC + best PLCC so far (the reference release's rule)",
    "mean_srocc_plcc": "best mean of SROCC and PLCC",
}


class EpochSelector:
    """Tracks, for every evaluation set, the selected epoch and the per-metric bests.

    Args:
        rule (`str`): one of `SELECTION_RULES`.
        selection_set (`str`, *optional*): the set whose selected epoch is shipped as `best/`.

    Example:
        ```python
        >>> from qclip_hf.training.selection import EpochSelector
        >>> selector = EpochSelector("mean_srocc_plcc", "val")
        >>> selector.update(0, {"val": {"srocc": 0.5, "plcc": 0.6, "krocc": 0.4, "rmse": 1.0}})
        True
        >>> selector.update(1, {"val": {"srocc": 0.4, "plcc": 0.5, "krocc": 0.3, "rmse": 0.9}})
        False
        >>> selector.best_per_set["val"]["epoch"], selector.per_metric_bests["val"]["rmse"]
        (0, {'value': 0.9, 'epoch': 1})
        ```
    """

    def __init__(self, rule: str, selection_set: str | None):
        if rule not in SELECTION_RULES:
            raise ValueError(f"selection rule {rule!r} is not one of {list(SELECTION_RULES)}.")
        self.rule = rule
        self.selection_set = selection_set
        self.best_per_set: dict[str, dict[str, Any]] = {}
        self.per_metric_bests: dict[str, dict[str, dict[str, Any]]] = {}

    def _improves(self, name: str, metrics: dict[str, float]) -> bool:
        srocc, plcc = metrics.get("srocc", math.nan), metrics.get("plcc", math.nan)
        if math.isnan(srocc) or math.isnan(plcc):
            return False
        if self.rule == "release" and name in self.best_per_set:
            bests = self.per_metric_bests.get(name, {})
            return srocc + plcc > bests.get("srocc", {"value": -1.0})["value"] + bests.get("plcc", {"value": -1.0})["value"]
        current = self.best_per_set.get(name)
        return current is None or (srocc + plcc) / 2 > current["score"]  # first finite epoch, then strictly better

    def update(self, epoch: int, metrics_by_set: dict[str, dict[str, float]]) -> bool:
        """Record an epoch's metrics; True when the selection set's selected epoch is now this one."""
        selected = False
        for name, metrics in metrics_by_set.items():
            if self._improves(name, metrics):
                self.best_per_set[name] = {"epoch": epoch, "score": (metrics["srocc"] + metrics["plcc"]) / 2,
                                           "metrics": dict(metrics)}
                selected |= name == self.selection_set
            bests = self.per_metric_bests.setdefault(name, {})
            for metric, value in metrics.items():
                if not isinstance(value, (int, float)) or math.isnan(value):
                    continue
                lower_is_better = metric == "rmse"
                old = bests.get(metric)
                if old is None or (value < old["value"] if lower_is_better else value > old["value"]):
                    bests[metric] = {"value": value, "epoch": epoch}
        return selected

    def progress_postfix(self, metrics_by_set: dict[str, dict[str, float]]) -> dict[str, str]:
        """The last evaluation of the selection set, for the progress bar: its SROCC and the selected epoch so far.

        Shown on the bar rather than printed: the table at the end of the run lists every epoch's metrics once.

        Example:
            ```python
            >>> selector = EpochSelector("mean_srocc_plcc", "val")
            >>> _ = selector.update(0, {"val": {"srocc": 0.5, "plcc": 0.6}})
            >>> selector.progress_postfix({"val": {"srocc": 0.5, "plcc": 0.6}})
            {'val_srocc': '0.5000', 'selected': 'epoch 0'}
            ```
        """
        name = self.selection_set if self.selection_set in metrics_by_set else next(iter(metrics_by_set), None)
        if name is None or "srocc" not in metrics_by_set[name]:
            return {}
        selected = self.best_per_set.get(name, {}).get("epoch")
        return {f"{name}_srocc": f"{metrics_by_set[name]['srocc']:.4f}",
                **({"selected": f"epoch {selected}"} if selected is not None else {})}

    @property
    def best(self) -> dict[str, Any] | None:
        """The selection set's selected epoch (`epoch`, `score`, `metrics`), or None before any is selected."""
        return self.best_per_set.get(self.selection_set) if self.selection_set else None


def carve_validation(num_rows: int, fraction: float, seed: int = 42) -> tuple[list[int], list[int]]:
    """Train and validation rows: `random.Random(seed).shuffle` of the rows, the last `fraction` held out.

    Example:
        ```python
        >>> from qclip_hf.training.selection import carve_validation
        >>> train, val = carve_validation(10, 0.2)
        >>> len(train), len(val), sorted(train + val) == list(range(10))
        (8, 2, True)
        ```
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"--val_fraction must be in (0, 1), got {fraction}.")
    rows = list(range(num_rows))
    random.Random(seed).shuffle(rows)
    cut = num_rows - max(1, round(fraction * num_rows))
    if cut < 2:
        raise ValueError(f"--val_fraction {fraction} of {num_rows} videos leaves {cut} for training; need at least 2.")
    return rows[:cut], rows[cut:]


def carve_selection_sets(train_data: Any, eval_data: dict[str, Any], args: Any) -> tuple[Any, dict, str | None, bool]:
    """Apply `--protocol_split` and `--val_fraction` to the training data; name the set that selects `best/`.

    The selection set is `--val_data`, else the `--val_fraction` part of the training data (`val`), else the
    `--protocol_split` test part (`split-K`), else the first `--eval_data` set. Carved sets are put first in
    `eval_data` and `args.eval_sets`.

    Returns:
        `(train_data, eval_data, selection_set, selection_on_test)`; the last is True when the selection set is a
        test set (no held-out validation data was given).
    """
    from ..data.splits import dover_split_indices

    if args.val_data:
        selection_set, on_test = args.val_data.partition("=")[0], False
    else:
        selection_set, on_test = (args.eval_sets[0][0] if args.eval_sets else None), True
    if args.protocol_split is not None:
        name = f"split-{args.protocol_split}"
        train_rows, test_rows = dover_split_indices(len(train_data), args.protocol_split)
        eval_data = {name: train_data.select(test_rows), **eval_data}
        args.eval_sets.insert(0, (name, f"{args.train_data} (20% of split)"))
        selection_set = selection_set if args.val_data else name
        train_data = train_data.select(train_rows)
    if args.val_fraction is not None:
        train_rows, val_rows = carve_validation(len(train_data), args.val_fraction)
        eval_data = {"val": train_data.select(val_rows), **eval_data}
        args.eval_sets.insert(0, ("val", f"{args.train_data} ({args.val_fraction:g} held out, seed 42)"))
        selection_set, on_test = "val", False
        train_data = train_data.select(train_rows)
    return train_data, eval_data, selection_set, on_test

"""`OUTPUT/results.json`: one entry per epoch across any number of resumes, the selected epoch and the run's arguments.

The history is carried inside every checkpoint too; a resumed run starts from the checkpoint's history (the epochs
that checkpoint had seen) and appends, so neither a kill nor a resume loses an epoch or reports a wrong one.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

TEST_SET_NOTE = "selected on the test set, as the paper and release do"


def _json_safe(value: Any) -> Any:
    """NaN/inf become None (valid JSON); containers are converted recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json_atomic(path: str, payload: dict) -> None:
    """Write JSON to `path` through a temporary file and a rename, so a reader never sees half a file."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        json.dump(_json_safe(payload), handle, indent=2)
    os.replace(tmp, path)


def run_arguments(args: Any) -> dict[str, Any]:
    """The run's arguments as JSON values (what `vars(args)` holds that JSON can carry)."""
    out = {}
    for key, value in vars(args).items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
            out[key] = list(value)
        elif isinstance(value, (list, tuple)):
            out[key] = [list(v) if isinstance(v, tuple) else v for v in value]
    return out


def describe_best(selector: Any, history: list[dict], selection_on_test: bool) -> dict[str, Any] | None:
    """The `best` block of results.json: epoch, step, selection set, rule and every set's metrics at that epoch."""
    from .selection import RULE_DESCRIPTIONS

    best = selector.best
    if best is None:
        return None
    record = next((h for h in history if h["epoch"] == best["epoch"]), {})
    return {"epoch": best["epoch"], "step": record.get("step"), "selected_on": selector.selection_set,
            "is_test_set": selection_on_test,
            "note": TEST_SET_NOTE if selection_on_test else "selected on a held-out validation set",
            "rule": RULE_DESCRIPTIONS[selector.rule],
            "metrics": record.get("metrics") or {selector.selection_set: best["metrics"]}}


def truncate_steps_log(path: str, completed_steps: int) -> None:
    """Drop the lines of `train_steps.jsonl` past `completed_steps` (written by a killed run that is now resumed)."""
    if not os.path.isfile(path):
        return
    with open(path) as handle:
        kept = [line for line in handle if line.strip() and json.loads(line)["step"] <= completed_steps]
    with open(f"{path}.tmp", "w") as handle:
        handle.writelines(kept)
    os.replace(f"{path}.tmp", path)


def run_summary(args: Any, history: list[dict], selector: Any, selection_on_test: bool, **extra: Any) -> dict:
    """The content of results.json: recipe, history, the selected epoch (`best`), per-set and per-metric bests,
    the run's arguments, and `extra` (step count, processes, evaluation sizes, data check, ...)."""
    return {"recipe": args.recipe, "recipe_sources": args.recipe_sources, "fit": args.fit, "history": history,
            "best": describe_best(selector, history, selection_on_test),
            "best_per_set": {name: {"epoch": best["epoch"], "metrics": best["metrics"]}
                             for name, best in selector.best_per_set.items()},
            "per_metric_bests": selector.per_metric_bests, **extra, "args": run_arguments(args)}

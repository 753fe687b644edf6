"""Distributed-safe evaluation: every test video is scored exactly once, whatever the number of processes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..metrics.compute import compute_vqa_metrics


@torch.no_grad()
def predict(accelerator: Any, model: torch.nn.Module, loader: Any, description: str = "eval") -> dict[str, np.ndarray]:
    """Scores of every sample of a prepared `loader`, gathered from all processes.

    `accelerator.gather_for_metrics` drops the samples Accelerate repeats to even out the last batch across
    processes, and the returned arrays are ordered by dataset index, so each sample appears exactly once.

    Returns:
        `dict` with `index`, `predictions` and `labels` arrays of the dataset's length, and `level_probs`
        (`(n, num_levels)`) when the model gives level probabilities.
    """
    model.eval()
    indices, predictions, labels, level_probs = [], [], [], []
    for batch in tqdm(loader, desc=description, disable=not accelerator.is_local_main_process, leave=False):
        output = model(pixel_values_videos=batch["pixel_values_videos"])
        probs = output.level_probs if output.level_probs is not None else output.scores.new_zeros(len(output.scores), 0)
        gathered = accelerator.gather_for_metrics(
            (batch["index"], output.scores.float(), batch["labels"].float(), probs.float()))
        indices.append(gathered[0].cpu())
        predictions.append(gathered[1].cpu())
        labels.append(gathered[2].cpu())
        level_probs.append(gathered[3].cpu())
    index = torch.cat(indices).numpy()
    order = np.argsort(index, kind="stable")
    result = {
        "index": index[order],
        "predictions": torch.cat(predictions).numpy()[order],
        "labels": torch.cat(labels).numpy()[order],
    }
    probs = torch.cat(level_probs).numpy()[order]
    if probs.shape[1]:  # the level probabilities, for OUTPUT/predictions/<set>.csv
        result["level_probs"] = probs
    return result


def evaluate(accelerator: Any, model: torch.nn.Module, loader: Any, description: str = "eval",
             fit: str = "none") -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """SROCC / PLCC / KROCC / RMSE of a model on a prepared loader, plus the gathered predictions."""
    result = predict(accelerator, model, loader, description)
    metrics = compute_vqa_metrics(result["predictions"], result["labels"], fit=fit)
    return metrics, result

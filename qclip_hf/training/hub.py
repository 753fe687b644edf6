"""Model card rendering and pushing a trained Q-CLIP (adapter, prompts, head, configs, card) to the Hub."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData

from ..models.qclip.modeling_qclip import point_adapter_config_at

DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "model_card" / "template.md"


def render_model_card(repo_id: str, config: Any, summary: dict, train_data: str, recipe: str,
                      num_trainable: int, template_path: str | os.PathLike | None = None) -> ModelCard:
    """The model card of a trained Q-CLIP: YAML metadata with a `model-index` of the reported epoch's metrics.

    Example:
        ```python
        >>> card = render_model_card("user/qclip", model.config, summary, "LSVQ-train", "AdamW", 1_900_000)  # doctest: +SKIP
        ```
    """
    template_path = Path(template_path or DEFAULT_TEMPLATE)
    if not template_path.is_file():
        raise FileNotFoundError(f"model card template {template_path} not found.")
    reported = summary.get("reported") or {}
    results = []
    for name, metrics in reported.items():
        if isinstance(metrics, dict) and {"srocc", "plcc", "krocc", "rmse"} <= set(metrics):
            results.append({"name": name, **metrics})
    eval_results = [
        EvalResult(task_type="video-quality-assessment", task_name="Video Quality Assessment", dataset_type=row["name"],
                   dataset_name=row["name"], metric_type=metric, metric_name=metric.upper(), metric_value=row[metric])
        for row in results for metric in ("srocc", "plcc", "krocc", "rmse") if not math.isnan(row[metric])
    ]
    backbone = config.backbone or "randomly initialised backbone"
    card_data = ModelCardData(
        library_name="qclip-hf",
        base_model=config.backbone,
        tags=["video-quality-assessment", "q-clip", "scma", "peft"],
        datasets=[train_data.partition(":")[0]],
        pipeline_tag="video-classification",
        license="apache-2.0",
        model_name=repo_id.split("/")[-1],
        eval_results=eval_results or None,
    )
    scma = config.scma_config if config.use_adapter else None
    scma_summary = (f"r={scma['r']}, {scma['layers']} layers, {scma['placement']}" if scma else "disabled")
    return ModelCard.from_template(
        card_data,
        template_path=str(template_path),
        model_name=repo_id.split("/")[-1],
        repo_id=repo_id,
        backbone=backbone,
        scma_summary=scma_summary,
        num_context=config.num_context_tokens,
        prompt_example=config.prompts()[0],
        num_trainable=f"{num_trainable:,}",
        train_data=train_data,
        recipe=recipe,
        reported_rule=summary.get("reported_epoch_rule") or "last epoch",
        results=results,
    )


def push_trained_model(folder: str, repo_id: str, config: Any, summary: dict, args: Any, num_trainable: int,
                       private: bool = False, token: str | None = None) -> str:
    """Write the model card into `folder` and upload the folder (never the backbone) to `repo_id`. Returns the URL."""
    recipe = (f"AdamW lr {args.learning_rate}, weight decay {args.weight_decay}, {args.num_epochs} epochs "
              f"({args.warmup_epochs} warm-up), batch {args.batch_size}, loss {args.loss}, "
              f"{args.num_frames} frames ({args.train_sampling} / {args.eval_sampling})")
    card = render_model_card(repo_id, config, summary, args.train_data, recipe, num_trainable)
    card.save(os.path.join(folder, "README.md"))
    if os.path.isfile(os.path.join(folder, "adapter_config.json")):
        point_adapter_config_at(folder, repo_id)
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="Upload Q-CLIP adapter")
    return str(info)

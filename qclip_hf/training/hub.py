"""Pushing a trained Q-CLIP (adapter, prompts, head, configs, model card) to the Hub.

The backbone is never part of a Q-CLIP repo: `config.json` names it, and whoever loads the model fetches it from
there. A backbone given as a *local path* would make the pushed model load nowhere else, so such a push is refused
unless the backbone is pushed too (`push_backbone=True`, `--hub_push_backbone`) or `hub_backbone_id`
(`--hub_backbone_id`) names the Hub repo that holds the same weights. The model card comes from
[`qclip_hf.model_card.render_model_card`].
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import QClipError
from ..model_card import is_hub_id, render_model_card


def resolve_local_backbone(backbone: str | None, folder: str | os.PathLike | None = None) -> Path | None:
    """The local directory `backbone` names (absolute, relative to the cwd or to the model `folder`), else `None`.

    Example:
        ```python
        >>> resolve_local_backbone("facebook/PE-Core-L14-336") is None
        True
        ```
    """
    if not backbone or is_hub_id(backbone):
        return None
    candidates = [Path(backbone).expanduser()]
    if folder is not None and not Path(backbone).is_absolute():
        candidates.append(Path(folder) / backbone)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    return Path(backbone).expanduser()  # a local path that does not exist: the check reports it


def check_hub_backbone(backbone: str | None, *, hub_backbone_id: str | None = None, push_backbone: bool = False,
                       repo_id: str | None = None) -> str | None:
    """The backbone Hub id the pushed model's `config.json` will name; raises if the push would not be loadable.

    Call it before training (cheap, no network) so a run that cannot be pushed fails at once.

    Args:
        backbone (`str`, *optional*): `config.backbone` (a Hub id, a local path, or `None` for a built-in random
            architecture, which needs no backbone repo).
        hub_backbone_id (`str`, *optional*): the Hub id holding the backbone (`--hub_backbone_id`).
        push_backbone (`bool`): upload the local backbone too, to `hub_backbone_id` or `<repo_id>-backbone`.
        repo_id (`str`, *optional*): the Q-CLIP repo id (names the default backbone repo).

    Raises:
        [`QClipError`]: a local backbone with neither option, or an option that is not a Hub id.

    Example:
        ```python
        >>> check_hub_backbone("/data/my-clip", hub_backbone_id="org/my-clip")
        'org/my-clip'
        >>> check_hub_backbone("/data/my-clip", push_backbone=True, repo_id="me/qclip")
        'me/qclip-backbone'
        ```
    """
    if hub_backbone_id is not None and not is_hub_id(hub_backbone_id):
        raise QClipError(f"--hub_backbone_id {hub_backbone_id!r} is not a Hub repo id",
                         "give the id (namespace/name) of the Hub repo that holds the backbone")
    if backbone is None:
        return None
    if is_hub_id(backbone):
        if hub_backbone_id is not None and hub_backbone_id != backbone:
            raise QClipError(f"--hub_backbone_id {hub_backbone_id!r} differs from the model's Hub backbone "
                             f"{backbone!r}", "drop --hub_backbone_id: the backbone is already on the Hub")
        return backbone
    if push_backbone:
        if hub_backbone_id is None and not repo_id:
            raise QClipError("pushing the local backbone needs a target repo", "pass --hub_backbone_id namespace/name")
        return hub_backbone_id or f"{repo_id}-backbone"
    if hub_backbone_id is not None:
        return hub_backbone_id
    raise QClipError(
        f"the model's backbone is the local path {backbone!r}: pushed as is, the model would load nowhere else",
        "pass --hub_backbone_id NAMESPACE/NAME (the Hub repo holding these backbone weights) or --hub_push_backbone "
        "(uploads the backbone too)")


def training_recipe(args: Any) -> str:
    """One line describing a `train.py` run's optimisation settings (read from its parsed arguments)."""
    get = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    return (f"AdamW lr {get('learning_rate')}, weight decay {get('weight_decay')}, {get('num_epochs')} epochs "
            f"({get('warmup_epochs')} warm-up), batch {get('batch_size')}, loss {get('loss')}, "
            f"{get('num_frames')} frames ({get('train_sampling')} / {get('eval_sampling')})")


def card_inputs_from_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """`results`, `eval_sizes` and `selection` for the model card from a `results.json` summary.

    Understands `best` (`{"epoch", "selected_on", "rule", "metrics"}`, optionally `"is_test_set"`), the older
    `reported` record (`{epoch, step, <set>: metrics}`) with `reported_epoch_rule`, and the eval sizes in
    `eval_sizes` or `eval_coverage[<set>]["dataset"]`.
    """
    best = summary.get("best")
    if isinstance(best, Mapping) and "metrics" in best:
        results = dict(best["metrics"])
        selection = {k: best.get(k) for k in ("epoch", "selected_on", "rule", "is_test_set")}
        if selection.get("is_test_set") is None and summary.get("val_data") is None:
            selection["is_test_set"] = bool(best.get("selected_on"))
    else:
        reported = summary.get("reported") or {}
        results = {k: v for k, v in reported.items() if isinstance(v, Mapping)}
        rule = summary.get("reported_epoch_rule")
        selected_on = next(iter(results), None)
        selection = ({"rule": "best mean of SROCC and PLCC", "selected_on": selected_on,
                      "epoch": reported.get("epoch"), "is_test_set": True} if rule else None)
    sizes = dict(summary.get("eval_sizes") or {})
    for name, coverage in (summary.get("eval_coverage") or {}).items():
        if isinstance(coverage, Mapping) and "dataset" in coverage:
            sizes.setdefault(name, coverage["dataset"])
    return {"results": results or None, "eval_sizes": sizes or None, "selection": selection}


def trained_model_card(config: Any, summary: Mapping[str, Any], args: Any, num_trainable: int | None = None, *,
                       repo_id: str | None = None, base_model: str | None = None, license: str | None = None,
                       datasets: list[str] | None = None, epoch: str = "best") -> str:
    """The model card of a `train.py` run's `best/` (`epoch="best"`) or `last/` (`epoch="last"`) folder.

    Reads the metrics, eval-set sizes, selection and fit from the results.json `summary`, the training data and
    recipe from the run's `args`; `license` / `datasets` default to `args.hub_license` / `args.hub_dataset_ids`.

    Example:
        ```python
        >>> card = trained_model_card(model.config, summary, args, model.num_trainable_parameters())  # doctest: +SKIP
        ```
    """
    if epoch not in ("best", "last"):
        raise ValueError(f"epoch must be 'best' or 'last', got {epoch!r}.")
    inputs = card_inputs_from_summary(summary)
    history = summary.get("history") or []
    if epoch == "last" and history:
        last = history[-1]
        metrics = last.get("metrics") or {k: v for k, v in last.items() if isinstance(v, Mapping)}
        inputs["results"] = dict(metrics) or None
        inputs["selection"] = (f"the last epoch trained (epoch {last.get('epoch')}); the selected epoch is in "
                               "best/")
    train_data = getattr(args, "train_data", None)
    mos_scale = summary.get("mos_scale")
    if mos_scale is None and train_data:
        from ..data.vqa import VQA_DATASETS

        kind = str(train_data).partition(":")[0]
        if kind in VQA_DATASETS:
            low, high = VQA_DATASETS[kind].mos_range
            mos_scale = f"{kind} MOS, {low:g} to {high:g}"
    return render_model_card(
        config, repo_id=repo_id, train_data=train_data,
        license=license or getattr(args, "hub_license", None), base_model=base_model,
        datasets=datasets if datasets is not None else getattr(args, "hub_dataset_ids", None),
        extra={"recipe": training_recipe(args), "num_trainable_parameters": num_trainable,
               "fit": summary.get("fit") or getattr(args, "fit", None), "mos_scale": mos_scale},
        **inputs,
    )


def _stage(folder: Path, backbone_id: str | None, repo_id: str) -> Path:
    """A temporary copy of `folder` whose config.json names `backbone_id` and whose adapter points at `repo_id`."""
    from ..models.qclip.modeling_qclip import point_adapter_config_at

    stage = Path(tempfile.mkdtemp(prefix="qclip-push-"))
    for item in folder.iterdir():
        if item.is_file():
            shutil.copy2(item, stage / item.name)
    config_path = stage / "config.json"
    if backbone_id is not None and config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        old = config.get("backbone")
        config["backbone"] = backbone_id
        if config.get("tokenizer") == old:
            config["tokenizer"] = backbone_id
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if (stage / "adapter_config.json").is_file():
        point_adapter_config_at(stage, repo_id)
    return stage


def push_trained_model(folder: str, repo_id: str, config: Any, summary: Mapping[str, Any], args: Any,
                       num_trainable: int | None = None, private: bool = False, token: str | None = None, *,
                       hub_backbone_id: str | None = None, push_backbone: bool | None = None,
                       license: str | None = None, datasets: list[str] | None = None,
                       endpoint: str | None = None) -> str:
    """Write the model card into `folder` and upload the trained parts (never a Hub backbone) to `repo_id`.

    The upload is a staged copy of `folder` whose `config.json` names the backbone's Hub id; `folder` itself keeps
    its local backbone path and loads as before. A local backbone is refused unless `push_backbone` or
    `hub_backbone_id` (see [`check_hub_backbone`]); the options default to `args.hub_push_backbone`,
    `args.hub_backbone_id`, `args.hub_license` and `args.hub_dataset_ids` when present.

    `endpoint` is the Hub URL (default: `HF_ENDPOINT` / huggingface.co).

    Returns:
        `str`: the commit URL of the upload.

    Example:
        ```python
        >>> push_trained_model("runs/x/best", "me/qclip", model.config, summary, args)  # doctest: +SKIP
        ```
    """
    from huggingface_hub import HfApi

    folder_path = Path(folder)
    hub_backbone_id = hub_backbone_id if hub_backbone_id is not None else getattr(args, "hub_backbone_id", None)
    push_backbone = push_backbone if push_backbone is not None else bool(getattr(args, "hub_push_backbone", False))
    license = license or getattr(args, "hub_license", None)
    datasets = datasets if datasets is not None else getattr(args, "hub_dataset_ids", None)
    backbone = getattr(config, "backbone", None)
    backbone_id = check_hub_backbone(backbone, hub_backbone_id=hub_backbone_id, push_backbone=push_backbone,
                                     repo_id=repo_id)
    api = HfApi(endpoint=endpoint, token=token)
    local_backbone = resolve_local_backbone(backbone, folder_path)
    if local_backbone is not None:
        if push_backbone:
            if not local_backbone.is_dir():
                raise QClipError(f"the local backbone {str(local_backbone)!r} does not exist",
                                 "point --backbone at an existing folder or pass --hub_backbone_id")
            api.create_repo(backbone_id, private=private, exist_ok=True)
            api.upload_folder(folder_path=str(local_backbone), repo_id=backbone_id,
                              commit_message="Upload the backbone of a Q-CLIP model")
        elif not api.repo_exists(backbone_id):
            raise QClipError(f"--hub_backbone_id {backbone_id!r} does not exist on the Hub (or is not visible with "
                             "this token)", "upload the backbone there first, or pass --hub_push_backbone")

    card = trained_model_card(config, summary, args, num_trainable, repo_id=repo_id, base_model=backbone_id,
                              license=license, datasets=datasets)
    (folder_path / "README.md").write_text(card, encoding="utf-8")
    stage = _stage(folder_path, backbone_id if backbone_id != backbone else None, repo_id)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(stage), repo_id=repo_id, commit_message="Upload Q-CLIP adapter")
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return str(info)


__all__ = ["check_hub_backbone", "card_inputs_from_summary", "push_trained_model", "resolve_local_backbone",
           "trained_model_card", "training_recipe"]

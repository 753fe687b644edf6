"""Training recipes of `training/train.py --recipe`: the authors' released loop, or what the paper's text says.

| setting | `reference` (release's `train.py` + `options/*.yml`) | `paper` (paper's text; qclip-hf's choice where silent) |
|---|---|---|
| training frame sampling | `UNISampl` (uniform) | `Mixed` (the paper's best sampling row) |
| last partial batch | kept (`drop_last=False`); a batch of 1 gives loss 0 | dropped (silent; losses need 2 samples) |
| RMSE | after rescaling predictions to the labels' mean / std | on raw predictions (silent) |
| shipped epoch | per set: SROCC+PLCC above best SROCC + best PLCC so far | best mean of SROCC and PLCC (silent) |
| optimisation | AdamW 1e-3, wd 1e-4, 1 warm-up epoch + cosine, 8 epochs, batch 12 | AdamW 1e-3, cosine, 8 epochs, batch 12 (stated); wd 1e-4 and 1 warm-up epoch (silent: release values) |
| fine-tuning (by dataset) | `options/finetune/*.yml`: CVD2014 lr 2e-3; LIVE-Qualcomm 10 epochs, 2 warm-up; YouTube-UGC wd 1e-4; KoNViD-1k / LIVE-VQC wd 5e-2 | the general settings |

Explicit command-line flags always win over the recipe.
"""

from __future__ import annotations

from typing import Any

RECIPE_NAMES = ("reference", "paper")

_COMMON = {"learning_rate": 1e-3, "weight_decay": 1e-4, "num_epochs": 8, "warmup_epochs": 1.0, "batch_size": 12,
           "loss": "plcc+rank", "eval_sampling": "UNISampl"}

RECIPES: dict[str, dict[str, Any]] = {
    "reference": {**_COMMON, "train_sampling": "UNISampl", "drop_last": False, "fit": "rescale",
                  "selection_rule": "release", "single_sample": "zero"},
    "paper": {**_COMMON, "train_sampling": "Mixed", "drop_last": True, "fit": "none",
              "selection_rule": "mean_srocc_plcc", "single_sample": "error"},
}

# The release's options/finetune/*.yml, by the dataset kind of --train_data (they fine-tune from the LSVQ model).
RELEASE_FINETUNE: dict[str, dict[str, Any]] = {
    "CVD2014": {"learning_rate": 2e-3, "weight_decay": 5e-2},
    "LIVE-Qualcomm": {"num_epochs": 10, "warmup_epochs": 2.0, "weight_decay": 5e-2},
    "YouTube-UGC": {"weight_decay": 1e-4},
    "KoNViD-1k": {"weight_decay": 5e-2},
    "LIVE-VQC": {"weight_decay": 5e-2},
}


def recipe_settings(recipe: str, train_kind: str | None = None) -> tuple[dict[str, Any], str]:
    """The settings of `recipe` for training data of kind `train_kind`, and a one-line description of their source.

    Example:
        ```python
        >>> from qclip_hf.training.recipes import recipe_settings
        >>> settings, source = recipe_settings("reference", "CVD2014")
        >>> settings["learning_rate"], settings["drop_last"], source
        (0.002, False, 'reference (release train.py + options/finetune/cvd2014.yml)')
        ```
    """
    if recipe not in RECIPES:
        raise ValueError(f"--recipe {recipe!r}: allowed values are {list(RECIPE_NAMES)}.")
    settings = dict(RECIPES[recipe])
    source = "reference (release train.py + options/pretrain/qclip_lsvq.yml)" if recipe == "reference" else \
        "paper (paper's text; release values where it is silent)"
    if recipe == "reference" and train_kind in RELEASE_FINETUNE:
        settings.update(RELEASE_FINETUNE[train_kind])
        yml = {"CVD2014": "cvd2014", "LIVE-Qualcomm": "live_qualcomm", "YouTube-UGC": "youtubeugc",
               "KoNViD-1k": "konvid", "LIVE-VQC": "livevqc"}[train_kind]
        source = f"reference (release train.py + options/finetune/{yml}.yml)"
    return settings, source


def apply_recipe(args: Any) -> dict[str, str]:
    """Fill every recipe-controlled argument left at `None` from `args.recipe`; returns `{name: source}`."""
    train_kind = args.train_data.partition(":")[0]
    settings, source = recipe_settings(args.recipe, train_kind)
    sources = {}
    for name, value in settings.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
            sources[name] = source
        else:
            sources[name] = "command line"
    return sources

"""The Q-CLIP model card: paper, BibTeX, limitations, eval sizes, license, Hub-only datasets, bare configs."""

from __future__ import annotations

import math

import pytest
import yaml

from qclip_hf import QClipConfig
from qclip_hf.model_card import PAPER, backbone_license, is_hub_id, render_model_card

RESULTS = {"KoNViD-1k": {"srocc": 0.9012, "plcc": 0.9123, "krocc": 0.7234, "rmse": math.nan},
           "LIVE-VQC": {"srocc": 0.8, "plcc": 0.81, "krocc": 0.6, "rmse": 7.5}}


def _metadata(card: str) -> dict:
    return yaml.safe_load(card.split("---")[1])


def test_bare_config_renders_an_untrained_card_with_paper_and_bibtex():
    card = render_model_card(QClipConfig(backbone="facebook/PE-Core-L14-336"))
    meta = _metadata(card)
    assert meta["base_model"] == "facebook/PE-Core-L14-336" and meta["license"] == "apache-2.0"
    assert "model-index" not in meta and "datasets" not in meta
    assert "No training record" in card and "No evaluation results recorded." in card
    # Results without a training spec (a converted release checkpoint) are a trained model.
    converted = render_model_card(QClipConfig(), results={"LSVQ-test": RESULTS["LIVE-VQC"]})
    assert "No training record" not in converted and "training data: not recorded" in converted
    assert "arxiv.org/abs/2508.06092" in card and "@article{mi2025qclip" in card
    assert PAPER["title"] in card and "Yachun Mi and Yu Li and Yanting Li" in card
    assert "## Limitations" in card


def test_trained_card_lists_sizes_selection_fit_and_only_hub_datasets(tmp_path):
    local_dataset = tmp_path / "my_data"
    local_dataset.mkdir()
    card = render_model_card(
        QClipConfig(backbone="openai/clip-vit-base-patch16"), repo_id="me/qclip", results={**RESULTS, "epoch": 3},
        eval_sizes={"KoNViD-1k": 240, "LIVE-VQC": 1170}, train_data=f"videofolder:{local_dataset}",
        datasets=[str(local_dataset), "LSVQ-train:/data/LSVQ", "org/vqa-set", "./x"],
        selection={"selected_on": "KoNViD-1k", "rule": "best mean of SROCC and PLCC", "epoch": 3,
                   "is_test_set": True},
        extra={"fit": "logistic", "mos_scale": "MOS 1-5", "num_trainable_parameters": 1907977})
    meta = _metadata(card)
    assert meta["datasets"] == ["org/vqa-set"]
    assert meta["license"] == "mit"
    assert str(tmp_path) not in card  # no local path anywhere in the card
    assert "| KoNViD-1k | 240 | 0.9012 | 0.9123 | 0.7234 | n/a |" in card
    assert "| LIVE-VQC | 1,170 |" in card
    assert "selected on the test set, as the paper and release do" in card
    assert "4-parameter logistic fit" in card and "MOS 1-5" in card and "1,907,977" in card
    metrics = {m["type"] for r in meta["model-index"][0]["results"] for m in r["metrics"]}
    assert metrics == {"srocc", "plcc", "krocc", "rmse"}  # NaN RMSE of KoNViD left out, LIVE-VQC's kept
    usage = card.split("## Usage")[1]
    assert 'from_pretrained("me/qclip")' in usage


def test_license_defaults_to_other_with_a_note_for_unknown_or_local_backbones(tmp_path):
    card = render_model_card(QClipConfig(backbone="someone/custom-clip"))
    assert _metadata(card)["license"] == "other" and "--hub_license" in card
    assert _metadata(render_model_card(QClipConfig(backbone="someone/custom-clip"), license="cc-by-4.0"))[
        "license"] == "cc-by-4.0"
    local = render_model_card(QClipConfig(backbone=str(tmp_path)))
    assert "base_model" not in _metadata(local)
    with pytest.raises(ValueError, match="local path"):
        render_model_card(QClipConfig(backbone="someone/custom-clip"), base_model=str(tmp_path))


def test_unknown_extra_key_and_bad_fit_are_refused():
    with pytest.raises(ValueError, match="allowed"):
        render_model_card(QClipConfig(), extra={"colour": "red"})
    with pytest.raises(ValueError, match="logistic"):
        render_model_card(QClipConfig(), extra={"fit": "cubic"})


def test_hub_id_and_license_helpers(tmp_path):
    assert is_hub_id("org/name") and is_hub_id("name")
    assert not is_hub_id(str(tmp_path)) and not is_hub_id("a/b/c") and not is_hub_id("./x")
    assert backbone_license("google/siglip-base-patch16-224") == "apache-2.0"
    assert backbone_license(str(tmp_path)) is None


def test_trained_model_card_from_a_results_json_summary():
    from argparse import Namespace

    from qclip_hf.training.hub import trained_model_card

    args = Namespace(train_data="KoNViD-1k:/data/private/KoNViD", learning_rate=1e-3, weight_decay=1e-4,
                     num_epochs=2, warmup_epochs=1, batch_size=12, loss="plcc+rank", num_frames=8,
                     train_sampling="UNISampl", eval_sampling="UNISampl", hub_license=None,
                     hub_dataset_ids=["org/konvid", "/data/private/KoNViD"])
    summary = {"fit": "rescale", "eval_sizes": {"LIVE-VQC": 585},
               "history": [{"epoch": 0, "metrics": {"LIVE-VQC": RESULTS["LIVE-VQC"]}},
                           {"epoch": 1, "metrics": {"LIVE-VQC": {**RESULTS["LIVE-VQC"], "srocc": 0.7}}}],
               "best": {"epoch": 0, "selected_on": "LIVE-VQC", "is_test_set": True, "rule": "best SROCC+PLCC",
                        "metrics": {"LIVE-VQC": RESULTS["LIVE-VQC"]}}}
    config = QClipConfig(backbone="facebook/PE-Core-L14-336")
    best = trained_model_card(config, summary, args, 1907977)
    assert "| LIVE-VQC | 585 | 0.8000 |" in best and "KoNViD-1k MOS, 1 to 5" in best
    assert "/data/private" not in best and _metadata(best)["datasets"] == ["org/konvid"]
    assert "AdamW lr 0.001" in best and "selected on the test set" in best
    last = trained_model_card(config, summary, args, 1907977, epoch="last")
    assert "| LIVE-VQC | 585 | 0.7000 |" in last and "the last epoch trained (epoch 1)" in last

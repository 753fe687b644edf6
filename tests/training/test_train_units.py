"""The pieces of `training/train.py` that need no training run: batches, selection, checkpoints, recipes."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from qclip_hf.data.splits import dover_split_indices
from qclip_hf.errors import QClipError
from qclip_hf.training.batching import GlobalBatchSampler
from qclip_hf.training.checkpointing import MARKER, find_checkpoint, fingerprint_differences
from qclip_hf.training.recipes import recipe_settings
from qclip_hf.training.selection import EpochSelector, carve_validation

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("num_samples", [1, 5, 12, 21, 24])
@pytest.mark.parametrize("num_processes", [2, 3])
@pytest.mark.parametrize("drop_last", [False, True])
def test_processes_see_the_one_process_batches(num_samples, num_processes, drop_last):
    one = GlobalBatchSampler(num_samples, 6 * num_processes, seed=3, drop_last=drop_last)
    shards = [GlobalBatchSampler(num_samples, 6, num_processes, rank, seed=3, drop_last=drop_last)
              for rank in range(num_processes)]
    for epoch in (0, 1):
        for sampler in [one, *shards]:
            sampler.set_epoch(epoch)
        expected = [[i for i, _ in batch] for batch in one]
        per_rank = [list(s) for s in shards]
        assert all(len(batches) == len(expected) for batches in per_rank)  # every rank steps the same number of times
        for step, batch in enumerate(expected):
            shares = [per_rank[rank][step] for rank in range(num_processes)]
            assert len({len(share) for share in shares}) == 1  # equal shapes for the all-gather
            gathered = [i for share in shares for i, valid in share if valid]
            assert gathered == batch


def test_sampler_resumes_mid_epoch_and_reshuffles_each_epoch():
    sampler = GlobalBatchSampler(20, 4, seed=0)
    sampler.set_epoch(1)
    full = list(sampler)
    sampler.set_epoch(1, start_batch=2)
    assert list(sampler) == full[2:] and len(sampler) == 3
    sampler.set_epoch(2)
    assert list(sampler) != full


def test_release_rule_compares_with_per_metric_bests():
    metrics = [{"srocc": 0.5, "plcc": 0.9}, {"srocc": 0.8, "plcc": 0.5}, {"srocc": 0.6, "plcc": 0.85}]
    release, mean = EpochSelector("release", "v"), EpochSelector("mean_srocc_plcc", "v")
    for epoch, m in enumerate(metrics):
        release.update(epoch, {"v": {**m, "krocc": 0.1, "rmse": 1.0 - epoch / 10}})
        mean.update(epoch, {"v": {**m, "krocc": 0.1, "rmse": 1.0}})
    # Epoch 2 (1.45) beats epoch 0 (1.4) on the sum, but not 0.8 + 0.9 = 1.7 of the per-metric bests.
    assert release.best["epoch"] == 0 and mean.best["epoch"] == 2
    assert release.per_metric_bests["v"]["srocc"] == {"value": 0.8, "epoch": 1}
    assert release.per_metric_bests["v"]["rmse"] == {"value": 0.8, "epoch": 2}


def test_nan_epochs_are_never_selected():
    selector = EpochSelector("mean_srocc_plcc", "v")
    assert not selector.update(0, {"v": {"srocc": float("nan"), "plcc": 0.3}})
    assert selector.best is None


def test_latest_skips_incomplete_checkpoints_and_explicit_incomplete_is_refused(tmp_path):
    for step, complete in ((3, True), (6, True), (9, False)):
        (tmp_path / f"step_{step}").mkdir()
        if complete:
            (tmp_path / f"step_{step}" / MARKER).write_text("{}")
    (tmp_path / "step_12.tmp").mkdir()
    assert find_checkpoint(str(tmp_path), "latest") == str(tmp_path / "step_6")
    with pytest.raises(QClipError, match="incomplete"):
        find_checkpoint(str(tmp_path), str(tmp_path / "step_9"))
    with pytest.raises(QClipError, match="no complete step_N"):
        find_checkpoint(str(tmp_path / "empty"), "latest")


def test_fingerprint_differences_name_the_key():
    saved = {"config": {"scma_config": {"r": 4, "layers": 2}, "num_frames": 8}, "trainable": {"a": [4]}}
    now = {"config": {"scma_config": {"r": 8, "layers": 2}, "num_frames": 8}, "trainable": {"a": [8]}}
    assert fingerprint_differences(saved, now) == ["config.scma_config.r: checkpoint 4, this run 8",
                                                  "trainable.a: checkpoint [4], this run [8]"]
    assert fingerprint_differences(saved, json.loads(json.dumps(saved))) == []


def test_release_single_split_is_protocol_split_zero():
    # The release: random.Random(42).shuffle of the label-file order, first int(0.8 N) train.
    for n in (10, 234, 1200):
        rows = list(range(n))
        random.Random(42).shuffle(rows)
        assert dover_split_indices(n, 0) == (rows[: int(0.8 * n)], rows[int(0.8 * n):])


def test_val_fraction_is_fixed_and_disjoint():
    train, val = carve_validation(21, 0.2)
    assert (train, val) == carve_validation(21, 0.2) and len(val) == 4 and not set(train) & set(val)
    with pytest.raises(ValueError, match="val_fraction"):
        carve_validation(3, 0.9)


def test_recipes_and_explicit_flags():
    sys.path.insert(0, str(REPO / "training"))
    import train

    base = ["--train_data", "videofolder:x", "--output_dir", "o"]
    ref = train.parse_args(base)
    assert (ref.train_sampling, ref.drop_last, ref.fit, ref.selection_rule, ref.single_sample) == (
        "UNISampl", False, "rescale", "release", "zero")
    paper = train.parse_args(base + ["--recipe", "paper"])
    assert (paper.train_sampling, paper.drop_last, paper.fit, paper.selection_rule) == (
        "Mixed", True, "none", "mean_srocc_plcc")
    cvd = train.parse_args(["--train_data", "CVD2014:x", "--output_dir", "o", "--weight_decay", "0.1"])
    assert (cvd.learning_rate, cvd.weight_decay, cvd.num_epochs) == (2e-3, 0.1, 8)
    assert cvd.recipe_sources["weight_decay"] == "command line"
    assert "cvd2014.yml" in cvd.recipe_sources["learning_rate"]
    qualcomm, _ = recipe_settings("reference", "LIVE-Qualcomm")
    assert (qualcomm["num_epochs"], qualcomm["warmup_epochs"]) == (10, 2.0)
    assert train.parse_args(base + ["--fit", "logistic"]).fit == "logistic4"


def test_a_bias_the_loss_cannot_determine_is_frozen(tiny_backbone_dir):
    from qclip_hf import QClipConfig, QClipModel
    from qclip_hf.losses import build_loss
    from qclip_hf.training.saving import freeze_undetermined_parameters

    def model():
        return QClipModel(QClipConfig(backbone=tiny_backbone_dir("clip"), num_frames=2, head_bias=True,
                                      scma_config={"r": 4, "layers": 2}))

    shift_invariant = model()
    assert freeze_undetermined_parameters(shift_invariant, build_loss("plcc+rank").weights) == ["quality_head.proj.bias"]
    assert not shift_invariant.quality_head.proj.bias.requires_grad
    assert freeze_undetermined_parameters(model(), build_loss("plcc+mse").weights) == []  # mse pins the offset

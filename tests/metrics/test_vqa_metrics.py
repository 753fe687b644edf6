import pytest

from qclip_hf.metrics import compute_vqa_metrics, vqa_metrics_path

evaluate = pytest.importorskip("evaluate")

PREDICTIONS = [0.12, 0.55, 0.31, 0.78, 0.64, 0.05, 0.92, 0.47, 0.33, 0.70]
REFERENCES = [1.4, 3.1, 2.2, 4.0, 3.0, 1.1, 4.6, 2.9, 2.8, 3.5]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")


@pytest.mark.parametrize("config_name", [None, "none", "logistic4", "rescale"])
def test_loads_by_path_and_matches_compute(config_name):
    metric = evaluate.load(vqa_metrics_path(), config_name=config_name)
    got = metric.compute(predictions=PREDICTIONS, references=REFERENCES)
    assert got == pytest.approx(compute_vqa_metrics(PREDICTIONS, REFERENCES, fit=config_name or "none"))


def test_fit_argument_overrides_config_and_batches_accumulate():
    metric = evaluate.load(vqa_metrics_path(), config_name="none")
    for start in range(0, len(PREDICTIONS), 3):
        metric.add_batch(predictions=PREDICTIONS[start : start + 3], references=REFERENCES[start : start + 3])
    got = metric.compute(fit="rescale")
    assert got == pytest.approx(compute_vqa_metrics(PREDICTIONS, REFERENCES, fit="rescale"))


def test_unknown_config_is_refused():
    with pytest.raises(ValueError, match="'none', 'logistic4', 'rescale'"):
        evaluate.load(vqa_metrics_path(), config_name="spearman")


def test_bad_inputs_surface_the_value_error():
    metric = evaluate.load(vqa_metrics_path())
    with pytest.raises(ValueError, match="At least 2 samples"):
        metric.compute(predictions=[0.5], references=[3.0])

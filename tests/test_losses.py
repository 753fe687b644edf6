import numpy as np
import pytest
import torch

from qclip_hf.losses import QualityLoss, build_loss, mse_loss, plcc_loss, rank_loss


def _np_plcc_loss(p, y):
    zp = (p - p.mean()) / (p.std() + 1e-8)  # numpy std is the population std
    zl = (y - y.mean()) / (y.std() + 1e-8)
    rho = np.mean(zp * zl)
    return (np.mean((zp - zl) ** 2) / 4 + np.mean((rho * zp - zl) ** 2) / 4) / 2


def _np_rank_loss(p, y):
    n = len(p)
    r = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            r[i, j] = max(0.0, (p[i] - p[j]) * np.sign(y[j] - y[i]))
    return r.sum() / (n * (n - 1)) / (1 + r.max())


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    labels = rng.uniform(1, 5, size=12)
    predictions = 0.4 * labels + rng.normal(scale=0.5, size=12)
    return predictions, labels


def test_plcc_loss_matches_numpy(batch):
    p, y = batch
    got = plcc_loss(torch.tensor(p), torch.tensor(y)).item()
    assert got == pytest.approx(_np_plcc_loss(p, y), rel=1e-6)


def test_rank_loss_matches_numpy(batch):
    p, y = batch
    got = rank_loss(torch.tensor(p), torch.tensor(y)).item()
    assert got == pytest.approx(_np_rank_loss(p, y), rel=1e-6)


def test_hand_computed_values():
    labels = torch.tensor([1.0, 0.0])
    predictions = torch.tensor([0.0, 1.0])
    # zp = [-1, 1], zl = [1, -1], rho = -1: (mse 4 / 4 + 0) / 2.
    assert plcc_loss(predictions, labels).item() == pytest.approx(0.5, abs=1e-6)
    # Both ordered pairs inverted by 1: sum 2 / (2 * 1) / (1 + 1).
    assert rank_loss(predictions, labels).item() == pytest.approx(0.5)
    assert mse_loss(predictions, labels).item() == pytest.approx(1.0)
    # One swapped pair among 3 samples: 2 / 6 / 2.
    assert rank_loss(torch.tensor([2.0, 1.0, 3.0]), torch.tensor([1.0, 2.0, 3.0])).item() == pytest.approx(1 / 6)


def test_perfect_and_reversed_predictions():
    labels = torch.arange(1.0, 7.0)
    assert plcc_loss(3 * labels - 2, labels).item() == pytest.approx(0.0, abs=1e-6)
    assert plcc_loss(-labels, labels).item() == pytest.approx(0.5, abs=1e-6)
    assert rank_loss(labels + 10, labels).item() == 0.0
    assert rank_loss(-labels, labels).item() > 0.0


def test_ties_in_labels_do_not_count():
    labels = torch.tensor([1.0, 1.0, 2.0])
    assert rank_loss(torch.tensor([5.0, 0.0, 6.0]), labels).item() == 0.0


def test_shapes_n_by_one_are_accepted(batch):
    p, y = (torch.tensor(a, dtype=torch.float32) for a in batch)
    flat = build_loss("plcc+rank")(p, y)
    column = build_loss("plcc+rank")(p.unsqueeze(1), y)
    assert torch.allclose(flat, column)


@pytest.mark.parametrize("name", ["plcc", "rank", "mse", "plcc+rank", "plcc+rank+mse"])
def test_gradients_are_finite(name, batch):
    p = torch.tensor(batch[0], dtype=torch.float32, requires_grad=True)
    y = torch.tensor(batch[1], dtype=torch.float32)
    loss = build_loss(name)(p, y)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_constant_predictions_give_quarter_loss_and_exactly_zero_gradient():
    # Without the epsilon guard the gradient here was 8.4e6 in size (1 / eps), pointing nowhere in particular.
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    for value in (2.0, -350.0):
        p = torch.full((4,), value, requires_grad=True)
        loss = build_loss("plcc+rank")(p, y)
        loss.backward()
        assert loss.item() == pytest.approx(0.25, abs=1e-6)
        assert torch.equal(p.grad, torch.zeros(4))


def test_guard_leaves_small_but_real_spreads_alone():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0])
    p = torch.tensor([0.0, 1e-4, 2e-4, 3e-4], dtype=torch.float64)
    assert plcc_loss(p, y.double()).item() == pytest.approx(_np_plcc_loss(p.numpy(), y.double().numpy()), abs=1e-9)


def test_single_sample_zero_mode_gives_release_behaviour():
    loss_fn = build_loss("plcc+rank", single_sample="zero")
    p = torch.tensor([0.7], requires_grad=True)
    loss = loss_fn(p, torch.tensor([3.0]))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(p.grad, torch.zeros(1))
    assert build_loss("mse", single_sample="zero")(torch.tensor([1.0]), torch.tensor([3.0])).item() == 4.0
    # Larger batches are unaffected by the mode.
    p2, y2 = torch.tensor([0.1, 0.5, 0.2]), torch.tensor([1.0, 2.0, 3.0])
    assert loss_fn(p2, y2).item() == build_loss("plcc+rank")(p2, y2).item()
    with pytest.raises(ValueError, match="single_sample"):
        build_loss("plcc", single_sample="skip")


def test_batch_of_two():
    p = torch.tensor([0.2, 0.1], requires_grad=True)
    y = torch.tensor([3.0, 4.0])
    loss = build_loss("plcc+rank")(p, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(p.grad).all()
    assert loss.item() > 0


def test_batch_of_one_is_refused_by_batch_losses():
    p, y = torch.tensor([0.5]), torch.tensor([3.0])
    with pytest.raises(ValueError, match="at least 2 samples"):
        plcc_loss(p, y)
    with pytest.raises(ValueError, match="at least 2 samples"):
        rank_loss(p, y)
    assert mse_loss(p, y).item() == pytest.approx(6.25)


def test_size_mismatch_is_refused():
    with pytest.raises(ValueError, match="one score per sample"):
        plcc_loss(torch.zeros(3), torch.zeros(4))


def test_build_loss_weights():
    assert build_loss("plcc+rank").weights == {"plcc": 1.0, "rank": 0.3}
    assert build_loss("plcc+rank", rank_weight=0.5).weights == {"plcc": 1.0, "rank": 0.5}
    assert build_loss("rank").weights == {"rank": 1.0}
    assert build_loss(" PLCC + 2*mse ").weights == {"plcc": 1.0, "mse": 2.0}
    assert build_loss("plcc+0.3*rank").name == "plcc+0.3*rank"
    assert build_loss(build_loss("plcc+rank").name).weights == {"plcc": 1.0, "rank": 0.3}


def test_weighted_sum_equals_terms(batch):
    p, y = (torch.tensor(a) for a in batch)
    expected = plcc_loss(p, y) + 0.3 * rank_loss(p, y) + mse_loss(p, y)
    assert build_loss("plcc+rank+mse")(p, y).item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("spec", ["huber", "plcc+", "plcc+plcc", "-1*rank", "", "plcc*rank"])
def test_build_loss_rejects_bad_specs(spec):
    with pytest.raises(ValueError, match="plcc, rank, mse|twice|non-empty"):
        build_loss(spec)


def test_quality_loss_validates_weights():
    with pytest.raises(ValueError, match="allowed: plcc, rank, mse"):
        QualityLoss({"l1": 1.0})
    with pytest.raises(ValueError, match="finite positive"):
        QualityLoss({"plcc": 0.0})
    with pytest.raises(ValueError, match="rank_weight"):
        build_loss("plcc+rank", rank_weight=-1)

"""Small pure helpers of the training loop: step budgets, warm-up/decay, retries, the loss curve."""
from __future__ import annotations

import pytest

from peftdeck.train import linear_warmup_decay, loss_curve, micro_batch_for, total_steps


def test_step_budget_is_a_floor_and_epochs_scale_larger_sets():
    assert total_steps({"epochs": 2}, n_features=100, batch_size=16) == 14  # ceil(100/16) * 2
    assert total_steps({"steps": 50, "epochs": 1}, n_features=100, batch_size=16) == 50
    assert total_steps({"steps": 50, "epochs": 2}, n_features=1000, batch_size=16) == 126  # 63 * 2


def test_warmup_then_linear_decay_to_zero():
    factors = [linear_warmup_decay(s, total=10, warmup=2) for s in range(10)]
    assert factors[0] == pytest.approx(0.5) and factors[1] == factors[2] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(factors[2:], factors[3:]))
    assert factors[-1] > 0 and linear_warmup_decay(10, total=10, warmup=2) == 0


def test_retries_halve_the_micro_batch_and_keep_the_effective_batch():
    assert micro_batch_for(32, 1) == (32, 1)
    assert micro_batch_for(32, 2) == (16, 2)
    assert micro_batch_for(32, 3) == (8, 4)


def test_loss_curve_bins_cover_every_step_once():
    losses = [float(i) for i in range(1, 101)]
    curve = loss_curve(losses, bins=20)
    assert len(curve) == 20
    assert [c[0] for c in curve] == list(range(5, 101, 5))
    assert curve[0][1] == pytest.approx(3.0) and curve[-1][1] == pytest.approx(98.0)
    # Fewer steps than bins: one entry per step; none: empty.
    assert loss_curve([0.7, 0.5, 0.3]) == [[1, 0.7], [2, 0.5], [3, 0.3]]
    assert loss_curve([]) == []
    # Uneven split still covers all steps, in order.
    curve = loss_curve([1.0] * 7, bins=3)
    assert [c[0] for c in curve] == [2, 5, 7]

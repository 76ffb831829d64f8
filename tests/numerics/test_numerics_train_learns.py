"""Real training (tier `train`): the paper's recipe learns repeat copy s = d = 3 with N_h = 32,
generalising from the curriculum's H <= 100 to H = 200."""

from __future__ import annotations

import pytest

from emt.numerics.train import TrainConfig, train
from emt.theory.registry import get

# The bar: test sign accuracy at H = 200 (10 fresh batches of 64).
LEARNED_ACCURACY = 0.99
# Step budgets, measured here (2 shared cores): with seed 1 the training-batch accuracy at H = 100
# first exceeds 0.99 at step ~1,700 (tanh) and ~3,400 (linear); seeds 2 and 3 got there by step
# 750 for both.  The budgets leave ~1.75x margin over seed 1 and take about 20 s (tanh) and 40 s
# (linear) here, 60 s and 110 s under heavy load from other jobs.
BUDGET = {"tanh": 3000, "linear": 6000}


@pytest.mark.train
@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_rnn_learns_repeat_copy_3(activation: str) -> None:
    config = TrainConfig(task=get("repeat-copy-3"), hidden=32, activation=activation,
                         steps=BUDGET[activation], seed=1)
    result = train(config, progress=False)
    m = result.metrics
    assert m["final_horizon"] == 100, f"curriculum stuck at H = {m['final_horizon']}"
    assert m["test_horizon"] == 200
    assert m["test_accuracy"] >= LEARNED_ACCURACY, m

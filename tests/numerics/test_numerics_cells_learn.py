"""A tiny LSTM, GRU and LRU trained by `numerics.train` learn repeat copy s = d = 2 (x(t) =
x(t-2)): the output-phase loss falls to a tenth of its start and the test accuracy reaches 1
(N_h 16, 300 steps at lr 1e-2, a few seconds each; measured with seed 1: final loss 0.024 (lstm),
0.0021 (gru), 1.5e-12 (lru) from 0.69 / 0.59 / 0.27)."""

from __future__ import annotations

import pytest

from emt.numerics.train import TrainConfig, train
from emt.theory.taskspec import TaskSpec


@pytest.mark.train
@pytest.mark.parametrize("cell", ["lstm", "gru", "lru"])
def test_tiny_cell_learns(cell: str) -> None:
    task = TaskSpec(s=2, d=2, F=[[1, 0], [0, 1], [0, 0], [0, 0]], name="repeat-copy-2")
    config = TrainConfig(task=task, cell=cell, hidden=16, steps=300, curriculum=(4,),
                         test_batches=2, test_horizon=4, seed=1, history_every=20, lr=1e-2)
    result = train(config, progress=False)
    first, last = result.history[0]["loss"], result.history[-1]["loss"]
    assert last < 0.1 * first, (first, last)
    assert result.metrics["test_accuracy"] >= 0.99

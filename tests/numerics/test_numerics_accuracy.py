"""The training step's in-graph accuracy is the one sign accuracy of `numerics.data`."""

from __future__ import annotations

import numpy as np

from emt.numerics.data import make_batch, sign_accuracy
from emt.numerics.model import init_weights
from emt.numerics.step_rnn import RawRNN
from emt.theory.registry import get


def test_training_accuracy_equals_numpy_sign_accuracy() -> None:
    task = get("repeat-copy-3")
    net = RawRNN(init_weights(8, task.d, "tanh", seed=2), task.s, lr=1e-3, clip=1.0, l2=0.0)
    batch = make_batch(task, 16, 6, rng=5)
    targets = batch.targets.copy()
    targets[0, 0, 0] = 0.0  # a zero target reads as +, on both sides
    y = np.asarray(net.forward(batch.inputs))[:, task.s:]
    expected = sign_accuracy(y, targets)
    assert 0.3 < expected < 0.9  # an untrained net: neither all right nor all wrong
    for fn in (net.loss_and_grads, net.loss_and_grads_autodiff):
        _, acc, _ = fn(batch.inputs, targets)
        assert float(acc) == np.float32(expected)

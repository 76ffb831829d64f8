"""`numerics.data.make_batches`: K members' batches in one computation, bit for bit the batches
`make_batch` draws from each member's generator (the data of a group member is its single run's).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from emt.numerics.data import make_batch, make_batches
from emt.theory.registry import get, names
from emt.theory.taskspec import TaskSpec

# F with a cancelling column (x_0 = u_0 - u_1: exact zeros, whose sign must be +0.0 as the
# blockwise sum gives it), a dense integer F (more nonzeros per column than the sparse form
# takes) and a non-integer F (not exact in float64: each batch continued as make_batch does).
CANCELLING = TaskSpec(2, 2, sp.Matrix([[1, 0], [-1, 0], [0, 1], [0, 0]]), name="cancel")
DENSE = TaskSpec(3, 2, sp.Matrix([[1, -1], [1, 1], [-1, 1], [1, 0], [0, 1], [1, 1]]) / 1,
                 name="dense")
FRACTIONAL = TaskSpec(2, 3, sp.Matrix(6, 3, lambda i, j: sp.Rational(i - j, 7)),
                      name="fractional")


def _check_equal(task: TaskSpec, batch: int, horizon: int, seeds: list[int]) -> None:
    gens = [np.random.default_rng(seed) for seed in seeds]
    windows, targets = make_batches(task, batch, horizon, gens)
    for k, seed in enumerate(seeds):
        alone_rng = np.random.default_rng(seed)
        alone = make_batch(task, batch, horizon, alone_rng)
        assert windows[k].tobytes() == alone.inputs[:, :task.s].tobytes()
        assert targets[k].dtype == alone.targets.dtype
        assert targets[k].tobytes() == alone.targets.tobytes(), (task.label, horizon, k)
        # Each generator is left where make_batch leaves it: the streams go on identically.
        assert gens[k].integers(1 << 30) == alone_rng.integers(1 << 30)


@pytest.mark.parametrize("name", names())
def test_every_registered_task_matches_make_batch_bit_for_bit(name: str) -> None:
    for horizon in (1, 7, 100, 200):  # fibonacci-2 passes 2^53 (and float32) on the way
        _check_equal(get(name), 5, horizon, [3, 1, 4, 1 << 40])


@pytest.mark.parametrize("task", [CANCELLING, DENSE, FRACTIONAL], ids=lambda t: t.label)
def test_cancelling_dense_and_fractional_compositions_match_too(task: TaskSpec) -> None:
    _check_equal(task, 9, 40, [7, 8, 9])
    windows, targets = make_batches(CANCELLING, 16, 3, [np.random.default_rng(0)])
    zeros = targets[..., 0] == 0  # u_0 = u_1 gives an exact zero ...
    assert zeros.any() and not np.signbit(targets[..., 0][zeros]).any()  # ... and it is +0.0


def test_make_batches_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one generator"):
        make_batches(get("T1"), 4, 5, [])
    with pytest.raises(ValueError, match="horizon"):
        make_batches(get("T1"), 4, 0, [np.random.default_rng(0)])
    with pytest.raises(ValueError, match="batch_size"):
        make_batches(get("T1"), 0, 5, [np.random.default_rng(0)])

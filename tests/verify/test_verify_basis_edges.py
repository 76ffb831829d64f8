"""Edge cases of the privileged basis: a task with nothing to remember, fewer hidden units
than slots, and weights whose Krylov powers overflow."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emt.numerics.weights import RNNWeights
from emt.theory.registry import get
from emt.theory.taskspec import TaskSpec
from emt.verify.basis import privileged_basis


def test_nilpotent_phi_is_a_clear_error() -> None:
    task = TaskSpec(2, 1, [[0], [0]])  # F = 0: every memory dies after s steps
    w = RNNWeights(np.ones((4, 1)), 0.5 * np.eye(4), np.ones((1, 4)))
    with pytest.raises(ValueError, match="no nonzero eigenvalue"):
        privileged_basis(w, task)


def test_fewer_hidden_units_than_slots_has_infinite_condition() -> None:
    task = get("repeat-copy-3")  # 9 slots
    rng = np.random.default_rng(0)
    w = RNNWeights(rng.normal(size=(5, 3)), rng.normal(size=(5, 5)), rng.normal(size=(3, 5)))
    for ground in ("input", "output", "output-pinv"):
        assert math.isinf(privileged_basis(w, task, ground).condition)


def test_overflowing_powers_are_a_clear_error() -> None:
    task = get("repeat-copy-4")
    w = RNNWeights(np.full((8, 4), 1e200), np.full((8, 8), 1e200), np.ones((4, 8)))
    with pytest.raises(ValueError, match="overflow"):
        privileged_basis(w, task, "input")
    with pytest.raises(ValueError, match="overflow"):
        privileged_basis(w, task, "output")

"""The one task recurrence: exact, DomainMatrix and float arithmetic agree, and the slot index."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy.polys.domains import QQ
from sympy.polys.matrices import DomainMatrix

from emt.numerics.simulate import markov_parameters
from emt.numerics.weights import RNNWeights
from emt.theory.recurrence import (
    continuation_steps,
    impulse_kernel,
    impulse_responses,
    task_continuation,
)
from emt.theory.registry import get
from emt.theory.taskspec import TaskSpec, block, slot


@st.composite
def rational_tasks(draw):
    s = draw(st.integers(1, 3))
    d = draw(st.integers(1, 3))
    entries = st.fractions(min_value=-2, max_value=2, max_denominator=4)
    F = [[draw(entries) for _ in range(d)] for _ in range(s * d)]
    return TaskSpec(s, d, F)


@settings(max_examples=25, deadline=None)
@given(rational_tasks(), st.integers(0, 2**32 - 1))
def test_exact_domain_and_float_continuations_agree(task: TaskSpec, seed: int) -> None:
    rng = np.random.default_rng(seed)
    window = rng.integers(-3, 4, size=(task.n_slots, 2))
    exact = task_continuation(task, sp.Matrix(window.tolist()), 0)
    assert exact.shape == (task.d, 0)
    exact = sp.Matrix.hstack(*continuation_steps(task, sp.Matrix(window.tolist()), 5))
    dom = continuation_steps(task, DomainMatrix.from_Matrix(sp.Matrix(window.tolist()))
                             .convert_to(QQ), 5)
    assert sp.Matrix.hstack(*(x.to_Matrix() for x in dom)) == exact
    numeric = task_continuation(task, window.astype(float), 5)  # (steps, d, 2)
    expected = np.array(exact.tolist(), dtype=float).reshape(task.d, 5, 2).transpose(1, 0, 2)
    np.testing.assert_allclose(numeric, expected, rtol=1e-12, atol=1e-12)


def test_recurrence_reads_the_oldest_step_as_k_zero() -> None:
    # x(t) = x(t - 2) for repeat copy at s = 2: the oldest step (k = 0) comes back first.
    task = get("repeat-copy-3")
    assert task.F[slot(0, 2, 3), 2] == 1 and task.F[block(2, 3), :].is_zero_matrix
    window = np.arange(9.0)  # steps 0, 1, 2 hold 0..2, 3..5, 6..8
    np.testing.assert_array_equal(task_continuation(task, window, 4),
                                  [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 1, 2]])
    with pytest.raises(ValueError, match="s\\*d = 9 rows"):
        task_continuation(task, np.zeros(8), 1)


def test_impulse_kernel_and_markov_parameters_of_the_identity_circuit() -> None:
    # The circuit with Psi = I (W_hh = Phi, inputs and outputs at the newest slot) realises the
    # task's impulse responses exactly when the task is linearly solvable (repeat copy is).
    from emt.theory.circuit import Circuit

    task = get("repeat-copy-3")
    X = impulse_kernel(task, 8)
    assert [x.shape for x in X] == [(3, 9)] * 9
    assert X[4].to_Matrix() == sp.eye(9)[block(1, 3), :]  # x(4) = x(1)
    c = Circuit(task, np.eye(task.n_slots))
    M = markov_parameters(RNNWeights(c.w_uh, c.w_hh, c.w_hy, "linear"), 9)
    np.testing.assert_allclose(M[1:], impulse_responses(task, 9), atol=1e-12)
    powers = [c.w_hy @ np.linalg.matrix_power(c.w_hh, m) @ c.w_uh for m in range(10)]
    np.testing.assert_allclose(M, powers, atol=1e-12)
    # A wrong readout changes the Markov parameters, so a check on them can fail.
    wrong = markov_parameters(RNNWeights(c.w_uh, c.w_hh, 1.5 * c.w_hy, "linear"), 9)
    assert np.max(np.abs(wrong[1:] - impulse_responses(task, 9))) > 0.4
    with pytest.raises(ValueError, match="linear network"):
        markov_parameters(RNNWeights(c.w_uh, c.w_hh, c.w_hy, "tanh"), 2)

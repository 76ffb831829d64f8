"""The cells' linear regime against finite differences, and the LTI prediction (Ho-Kalman)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from emt.numerics.cell_models import cell_dynamics, cell_weights_from_params, init_cell_params
from emt.numerics.dynamics import rollout_dynamics
from emt.numerics.simulate import rollout
from emt.numerics.weights import RNNWeights
from emt.theory import cell_linearisation
from emt.theory.charpoly import phi_numeric
from emt.theory.registry import get


def _fd_jacobian(model, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of the full state map at x = 0, u = 0: (d step/dx, d step/du)."""
    n, d = model.state_dim, model.d_in
    J, B = np.zeros((n, n)), np.zeros((n, d))
    for k in range(n):
        e = np.zeros((1, n))
        e[0, k] = eps
        J[:, k] = (model.step(e, np.zeros((1, d))) - model.step(-e, np.zeros((1, d))))[0] / (
            2 * eps)
    for k in range(d):
        e = np.zeros((1, d))
        e[0, k] = eps
        B[:, k] = (model.step(np.zeros((1, n)), e) - model.step(np.zeros((1, n)), -e))[0] / (
            2 * eps)
    return J, B


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_linearisation_matches_finite_differences(cell: str) -> None:
    w = cell_weights_from_params(cell, init_cell_params(cell, 6, 2, seed=4))
    J, B = _fd_jacobian(cell_dynamics(w))
    W_uh, W_hh, W_hy = cell_linearisation.linearised_triple(cell, w.arrays)
    n = 6
    if cell == "gru":
        np.testing.assert_allclose(J, W_hh, atol=1e-8)
        np.testing.assert_allclose(B, W_uh, atol=1e-8)
        return
    Wg = w.gate("g")
    claim = np.block([[Wg / 4, np.eye(n) / 4], [Wg / 2, np.eye(n) / 2]])
    np.testing.assert_allclose(J, claim, atol=1e-8)
    # the nonzero spectrum of the 2N x 2N Jacobian is that of I/2 + W_hg/4 (plus N zeros)
    eig_J = np.sort_complex(np.linalg.eigvals(J))
    eig_pred = np.sort_complex(np.concatenate([np.linalg.eigvals(W_hh), np.zeros(n)]))
    np.testing.assert_allclose(eig_J, eig_pred, atol=1e-6)
    # a wrong claim (another gate's block, or the 1/2 and 1/4 swapped) is caught
    wrong = np.block([[w.gate("f") / 4, np.eye(n) / 4], [w.gate("f") / 2, np.eye(n) / 2]])
    assert np.abs(J - wrong).max() > 1e-2
    assert np.abs(J[:n, :n] - Wg / 2).max() > 1e-2


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_linearised_triple_is_the_small_signal_response(cell: str) -> None:
    """A cell driven by eps * u responds as eps times the linear Elman triple (to O(eps^2))."""
    w = cell_weights_from_params(cell, init_cell_params(cell, 8, 2, seed=1))
    u = np.random.default_rng(0).choice([-1.0, 1.0], size=(3, 10, 2))
    eps = 1e-4
    _, y_cell = rollout_dynamics(cell_dynamics(w), eps * u)
    lin = RNNWeights(*cell_linearisation.linearised_triple(cell, w.arrays), activation="linear")
    _, y_lin = rollout(lin, u)
    np.testing.assert_allclose(y_cell / eps, y_lin, atol=1e-3 * np.abs(y_lin).max())


def test_symbolic_derivations_hold_and_a_wrong_claim_is_refused() -> None:
    lstm = cell_linearisation.lstm_derivation()
    assert lstm.step("reduced recurrence").rhs.shape == (2, 2)
    assert cell_linearisation.gru_derivation().steps
    from emt.theory.derivation import Step

    J = lstm.step("Jacobian at the zero state").lhs
    with pytest.raises(ValueError, match="does not hold"):
        Step("wrong", J, 2 * J)


def test_minimal_realisation_of_repeat_copy() -> None:
    real = cell_linearisation.minimal_realisation(get("repeat-copy-4"))
    lam = sp.Symbol("lambda")
    assert real.order == 16
    assert sp.expand(real.charpoly.as_expr() - (lam ** 4 - 1) ** 4) == 0
    # numerical Ho-Kalman on the circuit's own Markov parameters (Psi = I: C Phi^k B with the
    # input entering the newest slot) recovers the same spectrum
    task = get("repeat-copy-4")
    s, d, n = task.s, task.d, task.n_slots
    P = phi_numeric(task)
    Bc = np.zeros((n, d))
    Bc[(s - 1) * d:] = np.eye(d)
    Cc = P[(s - 1) * d:]
    markov = [Cc @ np.linalg.matrix_power(P, k) @ Bc for k in range(2 * n + 1)]
    exact = [np.array(m.to_Matrix(), dtype=float)
             for m in cell_linearisation.markov_parameters(task, 2 * n + 1)]
    np.testing.assert_allclose(markov, exact, atol=1e-12)
    eig = cell_linearisation.ho_kalman_spectrum(markov, real.order)
    assert np.allclose(np.sort(np.abs(eig)), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.sort(np.angle(eig ** 4).round(6) % (2 * np.pi)), 0, atol=1e-5)


def test_minimal_realisation_refuses_an_unsolvable_task() -> None:
    with pytest.raises(ValueError, match="not linearly solvable"):
        cell_linearisation.minimal_realisation(get("staggered-4"))

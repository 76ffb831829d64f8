"""Spectral matching, the paper's metric, tolerances and the privileged basis (unit level)."""

from __future__ import annotations

import numpy as np
import pytest

from emt.numerics.weights import RNNWeights
from emt.theory.charpoly import phi_numeric
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get, names, repeat_copy
from emt.verify import tolerances
from emt.verify.basis import (
    diagonal_similarity_error,
    dominant_projector,
    phi_power_s_is_identity,
    privileged_basis,
    slot_plan,
)
from emt.verify.spectra import compare_spectra, paper_metric, wrapped_angle


def roots(n: int, radius: float = 1.0, twist: float = 0.0) -> np.ndarray:
    return radius * np.exp(1j * (2 * np.pi * np.arange(n) / n + twist))


def test_wrapped_angle_wraps_through_pi() -> None:
    a = np.exp(1j * (np.pi - 0.01))
    b = np.exp(1j * (-np.pi + 0.01))
    assert wrapped_angle(a, b) == pytest.approx(0.02)


def test_identical_spectra_match_exactly() -> None:
    c = compare_spectra(roots(8), roots(8)[::-1], 0.5)
    assert (c.n_theory, c.n_trained, c.count_mismatch) == (8, 8, 0)
    assert len(c.matching) == 8
    assert c.phase_error_max < 1e-12 and c.modulus_error_max < 1e-12
    assert paper_metric(roots(8), roots(8)) == pytest.approx(0.0, abs=1e-12)


def test_phase_modulus_and_count_are_separate_numbers() -> None:
    trained = np.concatenate([roots(4, 1.05, 0.02), [0.1, 0.85]])
    c = compare_spectra(roots(4), trained, 0.8)
    assert c.n_theory == 4 and c.n_trained == 5 and c.count_mismatch == 1
    assert c.phase_error_max == pytest.approx(0.02, abs=1e-9)
    assert c.modulus_error_max < 0.16
    assert paper_metric(roots(4), trained) is not None  # 0.85 < 0.9: counts agree at 0.9
    assert paper_metric(roots(4), np.concatenate([trained, [0.95]])) is None  # the paper's ---


def test_optimal_beats_greedy_and_never_nan() -> None:
    # greedy visiting order can pair badly; the assignment cannot do worse than greedy
    t = np.exp(1j * np.array([0.0, 0.3]))
    m = np.exp(1j * np.array([0.2, 0.5]))
    c = compare_spectra(t, m, 0.5)
    assert c.phase_error_mean <= paper_metric(t, m) + 1e-12
    empty = compare_spectra(np.zeros(3), np.zeros(3), 0.5)
    assert empty.count_mismatch == 0 and np.isfinite(empty.phase_error_max)


def test_tolerance_overrides_and_errors() -> None:
    assert tolerances.resolve({"spectrum.phase": 0.01})["spectrum.phase"] == 0.01
    assert tolerances.parse_overrides(["phi_hat=0.5"]) == {"phi_hat": 0.5}
    for bad in (["phi_hat"], ["phi_hat=abc"], ["nope=1"], ["phi_hat=-1"], ["=1"]):
        with pytest.raises(ValueError):
            tolerances.parse_overrides(bad)
    assert all(t.reason for t in tolerances.DEFAULTS.values())


def test_dominant_projector_is_the_spectral_projector() -> None:
    rng = np.random.default_rng(0)
    V = rng.standard_normal((6, 6))
    A = V @ np.diag([2.0, -1.5, 1.2, 0.1, 0.05, 0.0]) @ np.linalg.inv(V)
    P = dominant_projector(A, 3)
    expected = V[:, :3] @ np.linalg.inv(V)[:3]
    assert np.allclose(P, expected, atol=1e-9)
    assert np.allclose(P @ A, A @ P, atol=1e-9)


@pytest.mark.parametrize("name,kept", [("T2", 36), ("staggered-4", 10), ("repeat-copy-4", 16),
                                       ("fibonacci-2", 4)])
def test_slot_reduction_keeps_the_nonzero_eigenvalue_count(name: str, kept: int) -> None:
    plan = slot_plan(get(name))
    assert plan.rank == kept
    ev_pred = np.sort(np.abs(np.linalg.eigvals(plan.prediction)))
    ev_phi = np.sort(np.abs(np.linalg.eigvals(phi_numeric(get(name)))))[-kept:]
    assert np.allclose(ev_pred, ev_phi, atol=1e-6)


def test_repeat_copy_prediction_is_phi_itself() -> None:
    task = repeat_copy(3, 2)
    assert phi_power_s_is_identity(task)
    assert np.allclose(slot_plan(task).prediction, phi_numeric(task), atol=1e-12)
    assert not phi_power_s_is_identity(get("staggered-4"))


def test_diagonal_similarity_error_sees_through_scaling_only() -> None:
    P = phi_numeric(repeat_copy(3, 2))
    D = np.diag(np.linspace(0.5, 2.0, P.shape[0]))
    assert diagonal_similarity_error(np.linalg.inv(D) @ P @ D, P)[0] < 1e-12
    A = P.copy()
    i, j = np.argwhere(P != 0)[0]
    A[i, j] = -A[i, j]  # a sign change is not a positive diagonal similarity
    assert diagonal_similarity_error(A, P)[0] > 1.0
    B = P.copy()
    B[0, 0] = 0.4  # an entry off the support
    assert diagonal_similarity_error(B, P)[0] == pytest.approx(0.4)


@pytest.mark.parametrize("name", names())
def test_construction_on_the_circuit_gives_the_prediction(name: str) -> None:
    """The input-grounded Phi_hat of the circuit is D P D^-1 for every task and any Psi."""
    task = get(name)
    circuit = Circuit(task, random_psi(task, task.n_slots + 3, 7))
    w = RNNWeights(circuit.w_uh, circuit.w_hh, circuit.w_hy, activation="linear")
    b = privileged_basis(w, task, "input")
    assert diagonal_similarity_error(b.phi_hat, b.plan.prediction)[0] < 1e-9
    # the raw basis is Psi K_r: the dual reads slot coordinates exactly
    coords = np.linalg.pinv(b.psi_raw) @ circuit.psi @ b.plan.krylov
    assert np.allclose(coords, np.eye(b.plan.rank), atol=1e-8)

"""Tolerances from the math: the phase bound never exceeds half Phi's smallest angular gap, and
the memory-mode count comes from Phi's exact nonzero count and W_hh's clear spectral gap."""

from __future__ import annotations

import numpy as np
import pytest

from emt.numerics.weights import RNNWeights
from emt.theory.charpoly import phi_numeric
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
from emt.theory.spectra import spectrum
from emt.verify.judge import verify_weights
from emt.verify.spectra import angular_gap, compare_modes, count_modes, phase_bound
from emt.verify.tolerances import resolve


def test_angular_gap_of_the_composition_tasks() -> None:
    gaps = {name: angular_gap(spectrum(get(name)).numeric) for name in
            ("T1", "T2", "T3", "T4", "staggered-4", "fibonacci-2")}
    assert gaps["T1"] == pytest.approx(2 * np.pi / 8, abs=1e-6)
    assert gaps["T4"] == pytest.approx(2 * np.pi / 70, abs=1e-6)  # 0.0898 rad
    assert gaps["fibonacci-2"] == pytest.approx(np.pi, abs=1e-6)  # 1.618 and -0.618
    assert phase_bound(spectrum(get("T4")).numeric, 0.05)[0] == pytest.approx(np.pi / 70)
    assert phase_bound(spectrum(get("T1")).numeric, 0.05)[0] == 0.05  # the gap does not bind


def _rotated_modes(task_name: str, angle: float) -> tuple[np.ndarray, int]:
    eigs = spectrum(get(task_name)).numeric
    r = int(spectrum(get(task_name)).nonzero)
    modes = eigs[np.argsort(-np.abs(eigs))[:r]] * np.exp(1j * angle)
    bulk = 0.3 * np.exp(1j * np.linspace(0, 6, 20))
    return np.concatenate([modes, bulk]), r


def test_a_rotation_between_half_gap_and_the_old_bound_fails_on_t4() -> None:
    """Every mode of T4 rotated by 0.047 rad: within the old flat 0.05, beyond half T4's gap
    (0.045), where a trained eigenvalue can sit nearer the wrong theory eigenvalue."""
    theory = spectrum(get("T4")).numeric
    trained, r = _rotated_modes("T4", 0.047)
    c = compare_modes(theory, r, trained, 0.8, 1.5, 0.05)
    assert c.count_mismatch == 0 and c.count_rule == "gap"
    assert c.phase_error_max == pytest.approx(0.047, abs=1e-6)
    assert c.phase_bound < c.phase_error_max < 0.05


def test_count_uses_exact_nonzero_count_and_a_clear_gap() -> None:
    # fibonacci-2: modes at 1.618 and -0.618 (x2); a bare 0.8 would count 2 of the 4
    task = get("fibonacci-2")
    theory = spectrum(task).numeric
    assert int(np.sum(np.abs(theory) > 0.8)) == 2
    c = compare_modes(theory, int(spectrum(task).nonzero), theory, 0.8, 1.5, 0.05)
    assert (c.n_theory, c.n_trained, c.count_mismatch) == (4, 4, 0)
    # a mode at 0.75 above a clear gap counts; without the gap the fallback threshold decides
    gapped = np.array([1.2, 1.1, 0.75, 0.3, 0.2])
    assert count_modes(gapped, 0.5, 1.5).n == 3 and count_modes(gapped, 0.5, 1.5).rule == "gap"
    flat = np.array([1.0, 0.95, 0.9, 0.85, 0.78, 0.7, 0.65])
    fallback = count_modes(flat, 0.8, 1.5)
    assert (fallback.n, fallback.rule) == (4, "threshold")
    # ratios between tiny bulk eigenvalues are never gaps
    assert count_modes(np.array([1.0, 0.99, 1e-3, 1e-9]), 0.8, 1.5).n == 2


def test_the_circuit_counts_by_its_gap_and_passes_the_capped_phase() -> None:
    task = get("T4")
    c = Circuit(task, random_psi(task, 80, 3))
    report = verify_weights(RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear"), task,
                            ground="input", horizon=20)
    count, phase = report.check("spectrum.count"), report.check("spectrum.phase")
    assert count.passed and count.metrics["by_gap"] == 1.0
    assert phase.passed and phase.tolerance == pytest.approx(np.pi / 70)


def test_user_override_cannot_lift_the_phase_bound_above_half_the_gap() -> None:
    task = get("T4")
    phi = phi_numeric(task)
    w = RNNWeights(np.eye(64)[:, 56:], phi, np.eye(64)[56:], activation="linear")
    report = verify_weights(w, task, ground="input", horizon=5,
                            tolerances={"spectrum.phase": 0.5})
    assert report.check("spectrum.phase").tolerance == pytest.approx(np.pi / 70)
    assert resolve({"spectrum.phase": 0.5})["spectrum.phase"] == 0.5  # the request is kept


@pytest.mark.parametrize("ground", ["input", "output", "output-pinv"])
def test_phi_hat_eigenvalues_are_w_hh_own_when_phi_has_zero_eigenvalues(ground: str) -> None:
    """Why phi_hat compares entries and never eigenvalues: for T3 (zero eigenvalues, so the
    basis is projected onto W_hh's dominant subspace) Phi_hat's eigenvalues are W_hh's top 36
    for any grounding, even for a perturbed, non-circuit W_hh (modes at 1.2, bulk up to 0.53:
    a gap like a trained net's)."""
    task = get("T3")
    c = Circuit(task, random_psi(task, 72, 5))
    rng = np.random.default_rng(5)
    w = RNNWeights(c.w_uh, 1.2 * c.w_hh + 1e-3 * rng.standard_normal(c.w_hh.shape), c.w_hy,
                   activation="tanh")
    report = verify_weights(w, task, ground=ground, horizon=5)
    assert report.check("phi_hat").metrics["eig_distance_to_w"] < 1e-8

"""Linear-side descriptors: numbers that explain a verdict (and never decide one)."""

from __future__ import annotations

import numpy as np
import pytest

from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
from emt.verify.judge import verify_weights
from emt.verify.linear_descriptors import state_subspace_angles


def test_circuit_states_lie_in_w_hh_dominant_subspace_and_a_gain_shows_in_the_moduli() -> None:
    task = get("repeat-copy-4")
    c = Circuit(task, random_psi(task, 40, 1))
    exact = verify_weights(RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear"), task,
                           ground="input", horizon=20)
    d = exact.descriptors
    assert d["state_angle_max_deg"] < 1e-6
    assert d["matched_modulus_min"] == pytest.approx(1.0) == d["matched_modulus_max"]
    assert set(d) >= {"cond_psi.input", "cond_psi.output", "cond_psi.output-pinv"}
    assert d["cond_psi.input"] == pytest.approx(exact.metrics["psi_condition"])
    # the same net with every mode at |lambda| = 1.2: the descriptor says so, the verdicts
    # come from the checks (the linear claim fails on its modulus)
    grown = verify_weights(RNNWeights(c.w_uh, 1.2 * c.w_hh, c.w_hy, activation="linear"), task,
                           ground="input", horizon=20)
    assert grown.descriptors["matched_modulus_min"] == pytest.approx(1.2)
    assert "spectrum.modulus" in grown.verdicts["linear"].failed


def test_angles_see_states_outside_the_invariant_subspace() -> None:
    rng = np.random.default_rng(0)
    n, r = 12, 3
    w = np.diag([2.0, 1.9, 1.8] + [0.1] * (n - r))
    inside = rng.standard_normal((50, n)) * np.r_[np.ones(r), np.zeros(n - r)]
    assert state_subspace_angles(w, inside, r)["state_angle_max_deg"] < 1e-6
    outside = inside.copy()
    outside[:, [2, 5]] = outside[:, [5, 2]]  # one live direction swapped out of the subspace
    assert state_subspace_angles(w, outside, r)["state_angle_max_deg"] == pytest.approx(90.0)
    assert state_subspace_angles(w, inside, 0) == {}

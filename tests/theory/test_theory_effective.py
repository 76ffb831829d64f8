"""The Fitting projector Pi_Phi and the effective-circuit derivation: exact facts on every
registered task and on random small tasks, and each symbolic check shown able to fail."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from emt.theory import effective_derivation
from emt.theory.charpoly import phi
from emt.theory.derivation import Step
from emt.theory.effective import (
    input_phase_writes_live_window,
    live_coordinates,
    live_slot_count,
    nilpotent_index,
    readout_sees_only_live_slots,
    spectral_projector,
    spectral_projector_numeric,
)
from emt.theory.registry import get, names
from emt.theory.spectra import spectrum
from emt.theory.taskspec import TaskSpec
from emt.verify.basis import slot_plan

fractions = st.sampled_from([-1, 0, 0, 0, 1, sp.Rational(1, 2), 2])

# The float projector is the exact one rounded once; an independent numeric construction
# (subspace iteration, verify.basis) agrees to rounding amplified by the conditioning of
# U^T V, far below 1e-8 for these small integer matrices.
NUMERIC_AGREEMENT = 1e-8


@st.composite
def small_tasks(draw: st.DrawFn) -> TaskSpec:
    s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return TaskSpec(s, d, [[draw(fractions) for _ in range(d)] for _ in range(s * d)])


def _facts(task: TaskSpec) -> None:
    P, F = sp.Matrix(spectral_projector(task)), sp.Matrix(phi(task))
    assert P * P == P
    assert P * F == F * P
    assert P.rank() == live_slot_count(task) == spectrum(task).nonzero
    n = task.n_slots
    Fn = F**n
    assert P * Fn == Fn and Fn * (sp.eye(n) - P) == sp.zeros(n, n)


@pytest.mark.parametrize("name", names())
def test_projector_facts_on_registered_tasks(name: str) -> None:
    task = get(name)
    _facts(task)
    if spectrum(task).nonzero:
        numeric = slot_plan(task).projector  # built independently by subspace iteration
        assert np.max(np.abs(spectral_projector_numeric(task) - numeric)) < NUMERIC_AGREEMENT
    assert readout_sees_only_live_slots(task)


@given(small_tasks())
def test_projector_facts_on_random_tasks(task: TaskSpec) -> None:
    _facts(task)
    nu = nilpotent_index(task)
    rest = sp.eye(task.n_slots) - sp.Matrix(spectral_projector(task))
    F = sp.Matrix(phi(task))
    assert (F**nu * rest).is_zero_matrix
    if nu:
        assert not (F ** (nu - 1) * rest).is_zero_matrix


def test_known_counts_and_input_phase() -> None:
    assert [live_slot_count(get(n)) for n in ("T1", "T2", "T3", "T4")] == [64, 36, 36, 36]
    assert nilpotent_index(get("T2")) == 7 and nilpotent_index(get("T1")) == 0
    assert input_phase_writes_live_window(get("repeat-copy-4"))
    assert not input_phase_writes_live_window(get("T2"))


def test_live_coordinates_carry_phi() -> None:
    task = get("staggered-4")
    c = live_coordinates(task)
    Phi = np.array(phi(task).tolist(), dtype=float)
    assert c.rank == 10 and np.allclose(c.basis.T @ c.basis, np.eye(10))
    assert np.allclose(c.coords @ Phi, c.phi_live @ c.coords)  # C Phi = Phi_r C
    assert np.allclose(c.basis @ c.coords, c.projector)


def test_nilpotent_phi_has_no_live_slot() -> None:
    shift = TaskSpec(2, 1, [[0], [0]])  # x(t) = 0: Phi is the bare shift
    assert live_slot_count(shift) == 0 and spectral_projector(shift).is_zero_matrix
    with pytest.raises(ValueError, match="nilpotent"):
        live_coordinates(shift)


def test_a_wrong_projector_fails_the_checked_steps() -> None:
    task = get("staggered-4")  # oblique: the orthogonal projector onto range(Phi^n) is wrong
    F = sp.Matrix(phi(task))
    V = (F**task.n_slots).columnspace()
    V = sp.Matrix.hstack(*V)
    orthogonal = V * (V.T * V).inv() * V.T
    assert orthogonal * orthogonal == orthogonal  # a projector, with the right range ...
    with pytest.raises(ValueError, match="commutes"):  # ... but along the wrong kernel
        Step("it commutes with Phi", orthogonal * F, F * orthogonal)


def test_gain_step_fails_for_unit_gain() -> None:
    h = sp.Symbol("h_*", positive=True)
    with pytest.raises(ValueError, match="does not hold"):
        Step("unit gain", sp.Matrix([sp.tanh(h), sp.tanh(-h)]), sp.Matrix([h, -h]))


@pytest.mark.derive
def test_effective_document_builds() -> None:
    text = effective_derivation.derivation().to_markdown()
    assert "x(t) = Psi_eff Pi_Phi w(t)" in text and "| T2 | 64 | 36 | 36 | 7 |" in text
    for name in ("effective.embedding", "effective.rank", "effective.loaded_state",
                 "effective.trajectory"):
        assert f"`{name}`" in text

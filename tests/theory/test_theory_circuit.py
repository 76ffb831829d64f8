"""The binding circuit: characteristic polynomial (three ways), spectrum, `Circuit`, Psi."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from emt.theory import registry
from emt.theory.charpoly import LAMBDA, characteristic_polynomial, phi_numeric, signed_copy_cycles
from emt.theory.circuit import Circuit, loaded_state_check, loaded_state_outputs, random_psi
from emt.theory.recurrence import task_continuation
from emt.theory.spectra import spectrum
from emt.theory.taskspec import TaskSpec

# Loaded-state outputs of a numeric circuit vs the exact recurrence: Psi from `random_psi` has
# condition number far below 1e3 at these sizes, so rounding stays near 1e-13 relative; 1e-10
# leaves room without hiding a wrong slot (errors of order 1).
LOADED_STATE_RTOL = 1e-10
# |lambda| = 1 for roots written as exp(i pi a / L) in float64.
UNIT_CIRCLE_ATOL = 1e-12

fractions = st.sampled_from([-1, 0, 0, 0, 1, sp.Rational(1, 2), sp.Rational(-2, 3), 2])


@st.composite
def signed_copy_tasks(draw: st.DrawFn, max_size: int = 6) -> TaskSpec:
    s = draw(st.integers(1, max_size))
    d = draw(st.integers(1, max_size))
    F = sp.zeros(s * d, d)
    for j in range(d):
        F[draw(st.integers(0, s * d - 1)), j] = draw(st.sampled_from([-1, 1]))
    return TaskSpec(s, d, F)


@st.composite
def rational_tasks(draw: st.DrawFn, max_slots: int = 36) -> TaskSpec:
    s = draw(st.integers(1, 6))
    d = draw(st.integers(1, max(1, min(6, max_slots // s))))
    F = [[draw(fractions) for _ in range(d)] for _ in range(s * d)]
    return TaskSpec(s, d, F)


def _brute(task: TaskSpec) -> sp.Poly:
    return characteristic_polynomial(task, method="brute")


@given(st.one_of(signed_copy_tasks(), rational_tasks()))
def test_closed_form_equals_brute_force(task: TaskSpec) -> None:
    assert characteristic_polynomial(task, method="closed") == _brute(task)


@given(signed_copy_tasks())
def test_cycles_form_equals_closed_form(task: TaskSpec) -> None:
    assert characteristic_polynomial(task, "cycles") == characteristic_polynomial(task, "closed")


@given(st.one_of(signed_copy_tasks(), rational_tasks(max_slots=16)))
def test_spectrum_is_consistent_with_the_polynomial(task: TaskSpec) -> None:
    spec = spectrum(task)
    assert spec.polynomial == characteristic_polynomial(task, "closed")
    assert spec.numeric.shape == (task.n_slots,)
    assert sum(m for _, m in spec.roots) == task.n_slots
    assert spec.nonzero == task.n_slots - _zero_multiplicity(spec.polynomial)
    # numeric eigenvalues vs numpy's, compared by modulus (multiple roots are ill-conditioned
    # numerically, so the comparison is loose and only for small tasks)
    if task.n_slots <= 12:
        ours = np.sort(np.abs(spec.numeric))
        ref = np.sort(np.abs(np.linalg.eigvals(phi_numeric(task))))
        assert np.allclose(ours, ref, atol=1e-2)


def _zero_multiplicity(poly: sp.Poly) -> int:
    coeffs = poly.all_coeffs()[::-1]
    return next(i for i, c in enumerate(coeffs) if c != 0)


def test_paper_tasks_spectra() -> None:
    one = sp.Poly(LAMBDA**8 - 1, LAMBDA, domain=sp.QQ)
    assert characteristic_polynomial(registry.get("T1")) == one**8
    assert characteristic_polynomial(registry.get("T1"), "closed") == one**8
    for name in ("T2", "T3", "T4"):
        spec = spectrum(registry.get(name))
        assert spec.nonzero == 36, name
        nonzero = spec.numeric[np.abs(spec.numeric) > 0.5]
        assert nonzero.shape == (36,)
        assert np.allclose(np.abs(nonzero), 1.0, atol=UNIT_CIRCLE_ATOL)
        assert np.count_nonzero(spec.numeric == 0) == 28


def test_spectrum_numeric_matches_numpy_for_t3() -> None:
    # Distinct nonzero eigenvalues: sort by angle and compare with numpy's eigenvalues of Phi.
    spec = spectrum(registry.get("T3"))
    ref = np.linalg.eigvals(phi_numeric(registry.get("T3")))
    ours = spec.numeric[np.abs(spec.numeric) > 0.5]
    theirs = ref[np.abs(ref) > 0.5]
    key = lambda z: np.sort(np.mod(np.angle(z), 2 * np.pi))  # noqa: E731
    assert np.allclose(key(ours), key(theirs), atol=1e-6)


def test_fibonacci_spectrum_is_golden() -> None:
    spec = spectrum(registry.get("fibonacci-2"))
    golden = (1 + sp.sqrt(5)) / 2
    assert (golden, 2) in [(sp.nsimplify(r), m) for r, m in spec.roots]
    assert spec.nonzero == 4
    assert np.isclose(np.max(spec.numeric.real), float(golden))


def test_cycles_of_repeat_copy() -> None:
    cycles, n_nil = signed_copy_cycles(registry.get("repeat-copy-3"))
    assert n_nil == 0
    assert [(len(c), sign) for c, sign in cycles] == [(3, 1)] * 3


def test_cycles_reject_a_real_task() -> None:
    with pytest.raises(ValueError, match="not a signed-copy task"):
        characteristic_polynomial(registry.get("fibonacci-2"), method="cycles")
    with pytest.raises(ValueError, match="unknown method"):
        characteristic_polynomial(registry.get("T1"), method="magic")


# -- Circuit ------------------------------------------------------------------------------------


@settings(max_examples=20)
@given(st.one_of(signed_copy_tasks(), rational_tasks()), st.integers(0, 99))
def test_loaded_state_theorem_numeric(task: TaskSpec, seed: int) -> None:
    rng = np.random.default_rng(seed)
    circuit = Circuit(task, random_psi(task, task.n_slots + 3, rng))
    window = rng.choice([-1.0, 1.0], size=(task.n_slots, 4))
    steps = 3 * task.s
    ys = loaded_state_outputs(circuit, window, steps)
    xs = task_continuation(task, window, steps)
    scale = max(1.0, float(np.max(np.abs(xs))))
    assert np.max(np.abs(ys - xs)) <= LOADED_STATE_RTOL * scale


def test_loaded_state_fails_for_the_wrong_task() -> None:
    # A circuit built for T3 driven from a loaded state does not produce T4's targets.
    t3, t4 = registry.get("T3"), registry.get("T4")
    circuit = Circuit(t3, random_psi(t3, 70, 1))
    window = np.random.default_rng(2).choice([-1.0, 1.0], size=(64, 3))
    ys = loaded_state_outputs(circuit, window, 8)
    assert np.max(np.abs(ys - task_continuation(t4, window, 8))) > 0.5


@pytest.mark.parametrize("name", ["repeat-copy-3", "fibonacci-2"])
def test_loaded_state_theorem_symbolic(name: str) -> None:
    result = loaded_state_check(registry.get(name))
    assert result.passed, result.detail


def test_loaded_state_check_catches_a_wrong_psi_dual() -> None:
    # Build the exact circuit for one task and then check it against another F: must fail.
    task = registry.get("fibonacci-2")
    wrong = TaskSpec(2, 2, [[1, 0], [0, 1], [1, 0], [0, 2]])
    psi = sp.Matrix(np.random.default_rng(0).integers(-3, 4, size=(5, 4)).tolist())
    good = loaded_state_check(task, psi=psi)
    assert good.passed
    circuit = Circuit(wrong, psi)
    window = sp.Matrix(sp.symbols("a b c e"))
    ys = loaded_state_outputs(circuit, window, 2)
    xs = task_continuation(task, window, 2)
    assert (ys - xs).applyfunc(sp.expand) != sp.zeros(2, 2)


def test_circuit_numeric_and_exact_agree() -> None:
    task = registry.get("repeat-copy-3")
    psi = sp.Matrix(np.random.default_rng(3).integers(-2, 3, size=(10, 9)).tolist())
    exact = Circuit(task, psi)
    numeric = Circuit(task, np.array(psi.tolist(), dtype=float))
    assert exact.exact and not numeric.exact
    for name in ("w_hh", "w_uh", "w_hy", "psi_dual"):
        assert np.allclose(np.array(getattr(exact, name).tolist(), dtype=float),
                           getattr(numeric, name), atol=1e-10), name
    assert numeric.w_uh.shape == (10, 3) and numeric.w_hy.shape == (3, 10)
    assert np.allclose(numeric.psi_dual @ numeric.psi, np.eye(9), atol=1e-10)


@pytest.mark.parametrize(
    ("psi", "message"),
    [
        (np.zeros((9, 9)), "full column rank"),
        (np.ones((12, 8)), "shape"),
        (np.eye(9)[:8], "N_h >= s\\*d"),
        (np.full((9, 9), np.nan), "NaN"),
        (np.array([["a"] * 9] * 9), "numeric"),
        (sp.zeros(10, 9), "full column rank"),
    ],
)
def test_circuit_rejects_bad_psi(psi: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Circuit(registry.get("repeat-copy-3"), psi)


def test_random_psi_is_seeded_and_checked() -> None:
    task = registry.get("repeat-copy-3")
    a = random_psi(task, 12, 5)
    assert np.array_equal(a, random_psi(task, 12, np.random.default_rng(5)))
    assert np.linalg.matrix_rank(a) == 9
    with pytest.raises(ValueError, match="n_hidden"):
        random_psi(task, 8, 0)


@pytest.mark.derive
def test_signed_copy_32_closed_form_spectrum_is_fast_enough_to_run() -> None:
    rng = np.random.default_rng(0)
    F = sp.zeros(32 * 32, 32)
    for j in range(32):
        F[int(rng.integers(0, 1024)), j] = int(rng.choice([-1, 1]))
    task = TaskSpec(32, 32, F)
    spec = spectrum(task)
    assert spec.numeric.shape == (1024,)
    assert np.allclose(np.abs(spec.numeric[spec.numeric != 0]), 1.0, atol=UNIT_CIRCLE_ATOL)

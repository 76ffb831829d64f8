"""The Derivation noun, the GSEMM energy and the reduction: every check must be able to fail."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp

from emt.theory import gsemm, reduction
from emt.theory.derivation import Derivation, Step, is_zero


def test_step_accepts_a_true_identity_and_renders() -> None:
    x = sp.Symbol("x")
    step = Step("square", (x + 1) ** 2, x**2 + 2 * x + 1, ("x real",), "Expand.")
    text = Derivation("Demo", (step,), intro="Intro.").to_markdown()
    assert "$$\n\\left(x + 1\\right)^{2} = x^{2} + 2 x + 1\n$$" in text
    assert "Assumptions: x real." in text and text.endswith("\n") and "\n\n\n" not in text


def test_step_rejects_a_false_identity() -> None:
    x = sp.Symbol("x")
    with pytest.raises(ValueError, match="'square' does not hold"):
        Step("square", (x + 1) ** 2, x**2 + 1)


def test_step_rejects_shape_mismatch_and_mixed_kinds() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        Step("m", sp.eye(2), sp.eye(3))
    with pytest.raises(ValueError, match="one side is a matrix"):
        Step("m", sp.eye(2), sp.Integer(1))


def test_is_zero_uses_simplify_when_needed() -> None:
    z = sp.Symbol("z")
    assert is_zero(sp.sin(z) ** 2 + sp.cos(z) ** 2 - 1)
    assert not is_zero(sp.sin(z) ** 2 - sp.cos(z) ** 2)


def test_derivation_rejects_duplicate_step_names() -> None:
    s = Step("a", sp.Integer(1), sp.Integer(1))
    with pytest.raises(ValueError, match="unique"):
        Derivation("D", (s, s))


# -- GSEMM -------------------------------------------------------------------------------------


def test_gsemm_derivation_builds_and_states_the_lyapunov_caveat() -> None:
    doc = gsemm.derivation()
    names = [s.name for s in doc.steps]
    assert "feature gradient (general Lagrangians)" in names
    assert "energy decreases with the delay held fixed (tanh features, linear memory)" in names
    assert "not a Lyapunov function" in doc.to_markdown()


@pytest.mark.parametrize("which", ["f", "h"])
def test_gsemm_gradient_check_fails_for_a_wrong_energy(which: str) -> None:
    system = gsemm.gsemm_system(3, 2, "general")
    # Drop the cross-coupling term: the memory gradient no longer matches dV_h/dt; double the
    # self-coupling term: the feature gradient no longer matches dV_f/dt.
    if which == "h":
        wrong = system.energy + system.a_c * (system.v_d.T * system.xi * system.phi
                                              * system.sigma_h)[0, 0]
    else:
        wrong = system.energy - sp.sqrt(system.a_s) * (system.sigma_f.T * system.xi
                                                       * system.sigma_h)[0, 0]
    broken = dataclasses.replace(system, energy=wrong)
    with pytest.raises(ValueError, match="does not hold"):
        gsemm._steps_for(broken, "broken", ())


def test_energy_rises_somewhere_when_the_delay_moves() -> None:
    # The symbolic step says dE/dt gains a_c |Xi Phi sigma_h|^2 / T_d at one admissible state;
    # evaluate at explicit numbers to see dE/dt > 0 (E is not a Lyapunov function).
    g = gsemm.gsemm_system(3, 2, "concrete")
    rng = np.random.default_rng(0)
    values = {sym: sp.Rational(int(v), 4) for sym, v in zip(
        [*g.v_f, *g.v_h, *g.xi, *g.phi], rng.integers(-4, 5, size=3 + 2 + 6 + 4), strict=True)}
    values.update({g.t_f: 1, g.t_h: 1, g.a_s: 1, g.a_c: 1, g.t_d: sp.Rational(1, 100)})
    drift = g.xi * g.phi * g.sigma_h
    at_state = dict(zip(g.v_d, g.sigma_f + drift, strict=True))
    moving = g.energy_rate(delay_moving=True).subs(at_state).subs(values)
    fixed = g.energy_rate(delay_moving=False).subs(at_state).subs(values)
    assert float(fixed) <= 0.0 < float(moving)


# -- reduction ---------------------------------------------------------------------------------


def test_reduction_derivation_ends_in_the_rnn() -> None:
    doc = reduction.derivation()
    names = [s.name for s in doc.steps]
    assert names[:3] == ["delay follows the features", "memory neurons at their fixed point",
                         "Euler step of the features"]
    assert "characteristic polynomial of W_hh" in names
    text = doc.to_markdown()
    assert r"V_f(t+1) = \Xi\,(I + \Phi^\top)\,\Xi^\top \sigma_f(V_f(t))" in text
    assert "No discrete-time energy function is claimed" in text


def test_conjugacy_fails_for_the_wrong_change_of_variables() -> None:
    w = sp.Matrix(2, 2, sp.symbols("a b c d", real=True))
    x = sp.Matrix(sp.symbols("x y", real=True))
    assert reduction.conjugacy_step(w, x).name == "topological conjugacy"
    with pytest.raises(ValueError, match="does not hold"):
        reduction.conjugacy_step(w, x, h=lambda v: v)  # identity is not a conjugacy


def test_similarity_needs_the_pseudo_inverse() -> None:
    xi = reduction.rational_full_rank(4, 2, seed=1)
    phi = sp.Matrix(2, 2, sp.symbols("p q r t"))
    assert len(reduction.similarity_steps(xi, phi, powers=(2,))) == 3
    w_transpose = xi * phi * xi.T  # Xi^T in place of Xi^+: not similar to Phi for this Xi
    with pytest.raises(ValueError, match="does not hold"):
        Step("power 2 with the transpose", w_transpose**2, xi * phi**2 * xi.T)


def test_similarity_rejects_rank_deficient_memories() -> None:
    xi = sp.Matrix([[1, 2], [2, 4], [3, 6]])
    with pytest.raises(ValueError):
        reduction.similarity_steps(xi, sp.eye(2))


def test_discrete_map_numeric() -> None:
    xi = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    phi = np.array([[0.0, 1.0], [0.0, 0.0]])
    v = np.array([0.1, -0.2, 0.3])
    expected = xi @ (np.eye(2) + phi.T) @ xi.T @ np.tanh(v)
    assert np.allclose(reduction.discrete_map_numeric(xi, phi, v), expected)

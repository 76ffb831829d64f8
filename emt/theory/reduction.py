"""The EMT reduction from GSEMM to an Elman RNN (docs/science.md), as checked steps.

Assumptions: ``T_h -> 0`` and ``T_d -> 0`` (memory neurons and delay at their instantaneous
fixed points), ``V_f`` discretised by an Euler step of size ``T_f = 1``, ``sigma_h`` linear
(``L_h = V_h^T V_h / 2``), ``a_s = a_c = 1``.  Then

    V_d(t) = sigma_f(V_f(t)),   V_h(t) = (I + Phi^T) Xi^T sigma_f(V_f(t)),
    V_f(t+1) = Xi (I + Phi^T) Xi^T sigma_f(V_f(t)),

which in ``V'_f = sigma_f(V_f)`` is the bias-free Elman RNN ``V'_f(t+1) = sigma_f(W V'_f(t))``
(``f(x) = W sigma(x)`` and ``g(x) = sigma(W x)`` are topologically conjugate through
``h = sigma``).  Folding ``I + Phi^T`` into one operator and using the pseudo-inverse gives
``W_hh = Xi Phi Xi^+``, with ``W_hh^k = Xi Phi^k Xi^+`` and
``det(lambda I - W_hh) = lambda^(N_f - N_h) det(lambda I - Phi)`` for full column rank ``Xi``.
No discrete-time energy function is claimed (the paper has none).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from emt.theory.derivation import Derivation, Step

__all__ = ["derivation", "conjugacy_step", "similarity_steps", "discrete_map_numeric",
           "rational_full_rank"]

LIMITS = ("T_h -> 0", "T_d -> 0", "a_s = a_c = 1", "sigma_h linear (L_h = V_h^T V_h / 2)")


def _sigma_f(v: sp.Matrix) -> sp.Matrix:
    """A generic elementwise feature activation ``sigma_f`` (undefined function)."""
    return v.applyfunc(sp.Function("sigma_f"))


def conjugacy_step(w: sp.Matrix, x: sp.Matrix, h: Any = sp.tanh) -> Step:
    """``h(f(x)) = g(h(x))`` for ``f(x) = W sigma(x)``, ``g(y) = sigma(W y)``, ``sigma = tanh``:
    with ``h`` invertible this is ``h^-1 o g o h = f``.  Raises ``ValueError`` for a wrong ``h``."""
    sigma = sp.tanh

    def f(v: sp.Matrix) -> sp.Matrix:
        return w * v.applyfunc(sigma)

    def g(v: sp.Matrix) -> sp.Matrix:
        return (w * v).applyfunc(sigma)

    return Step(
        "topological conjugacy",
        f(x).applyfunc(h),
        g(x.applyfunc(h)),
        ("sigma = tanh, a homeomorphism of R^n onto (-1, 1)^n",),
        "f(x) = W sigma(x) (the feature map of the reduction) and g(y) = sigma(W y) (the RNN) "
        "satisfy h o f = g o h with h = sigma; as tanh is invertible (previous step) this is "
        "h^-1 o g o h = f: the two systems have the same orbits up to the change of variables.",
        r"h \circ f = g \circ h,\quad f(x) = W\sigma(x),\ g(y) = \sigma(W y),\ h = \sigma"
        r"\quad\Longleftrightarrow\quad h^{-1} \circ g \circ h = f",
    )


def rational_full_rank(rows: int, cols: int, seed: int) -> sp.Matrix:
    """A seeded random integer ``rows x cols`` matrix of full column rank (exact)."""
    gen = np.random.default_rng(seed)
    while True:
        m = sp.Matrix(gen.integers(-3, 4, size=(rows, cols)).tolist())
        if m.rank() == cols:
            return m


def similarity_steps(xi: sp.Matrix, phi: sp.Matrix, powers: tuple[int, ...] = (2, 3)) -> list[Step]:
    """``Xi^+ Xi = I``, ``W_hh^k = Xi Phi^k Xi^+`` and the characteristic polynomial relation
    for ``W_hh = Xi Phi Xi^+`` (``Xi`` exact, full column rank; ``Phi`` may be symbolic)."""
    n_f, n_h = xi.shape
    lam = sp.Symbol("lambda")
    xi_pinv = (xi.T * xi).inv() * xi.T  # Moore-Penrose inverse at full column rank
    w_hh = xi * phi * xi_pinv
    sizes = f"N_f = {n_f}, N_h = {n_h}, Xi exact of full column rank, Phi generic symbolic"
    steps = [
        Step("dual basis", xi_pinv * xi, sp.eye(n_h), (sizes,),
             "The rows of Xi^+ are the dual basis of the memories.", r"\Xi^+ \Xi = I"),
    ]
    # Powers over the polynomial ring (DomainMatrix): sympy's Matrix power simplifies every
    # dot product on the way and is ~20x slower here.
    w_dm = DomainMatrix.from_Matrix(w_hh)
    for k in powers:
        steps.append(
            Step(f"power {k} of the recurrence", (w_dm**k).to_Matrix(), xi * phi**k * xi_pinv,
                 (sizes,),
                 "Xi^+ Xi = I collapses the middle factors: in the memory basis the recurrence "
                 "is Phi.", rf"W_{{hh}}^{{{k}}} = \Xi \Phi^{{{k}}} \Xi^+")
        )
    steps.append(
        Step(
            "characteristic polynomial of W_hh",
            w_hh.charpoly(lam).as_expr(),
            (lam ** (n_f - n_h) * phi.charpoly(lam).as_expr()),
            (sizes,),
            "W_hh and Phi are similar on span(Xi) and W_hh vanishes on its orthogonal "
            "complement, so they share the nonzero eigenvalues.",
            r"\det(\lambda I - W_{hh}) = \lambda^{N_f - N_h} \det(\lambda I - \Phi)",
        )
    )
    return steps


def discrete_map_numeric(xi: np.ndarray, phi: np.ndarray, v_f: np.ndarray) -> np.ndarray:
    """The reduction's map ``V_f(t+1) = Xi (I + Phi^T) Xi^T tanh(V_f(t))`` (float64)."""
    n_h = phi.shape[0]
    return xi @ (np.eye(n_h) + phi.T) @ xi.T @ np.tanh(v_f)


def _solve_zero(rhs: sp.Matrix, unknowns: sp.Matrix) -> dict:
    """The unique solution of ``rhs = 0`` for ``unknowns`` (the fixed point of a fast
    variable); ``ValueError`` when sympy finds none or several."""
    solutions = sp.solve(list(rhs), list(unknowns), dict=True)
    if len(solutions) != 1 or set(solutions[0]) != set(unknowns):
        raise ValueError(f"expected one fixed point for {list(unknowns)}, got {solutions}")
    return solutions[0]


def derivation(n_f: int = 3, n_h: int = 2, seed: int = 0) -> Derivation:
    """The reduction as a checked `Derivation` (explicit sizes, generic symbolic entries)."""
    v_f = sp.Matrix([sp.Symbol(f"v_f_{i + 1}", real=True) for i in range(n_f)])
    xi = sp.Matrix(n_f, n_h, lambda i, j: sp.Symbol(f"xi_{i + 1}{j + 1}", real=True))
    phi = sp.Matrix(n_h, n_h, lambda i, j: sp.Symbol(f"phi_{i + 1}{j + 1}", real=True))
    sig = _sigma_f(v_f)
    # The fast variables are SOLVED from their equations at T -> 0 (not written down): the
    # steps below then check the solutions against the closed forms the reduction claims.
    v_d_sym = sp.Matrix([sp.Symbol(f"v_d_{i + 1}", real=True) for i in range(n_f)])
    v_h_sym = sp.Matrix([sp.Symbol(f"v_h_{j + 1}", real=True) for j in range(n_h)])
    v_d = v_d_sym.subs(_solve_zero(sig - v_d_sym, v_d_sym))
    v_h = v_h_sym.subs(_solve_zero(xi.T * sig + phi.T * xi.T * v_d - v_h_sym, v_h_sym))
    sizes = f"N_f = {n_f}, N_h = {n_h}, generic symbolic Xi, Phi, sigma_f"
    steps = [
        Step("delay follows the features", v_d, sig, (LIMITS[1], sizes),
             "With T_d -> 0 the delay sits at the zero of T_d dV_d/dt = sigma_f(V_f) - V_d: "
             "the delay becomes the one-step lag of the discretisation.",
             r"V_d(t) = \sigma_f(V_f(t))"),
        Step("memory neurons at their fixed point",
             v_h, (sp.eye(n_h) + phi.T) * xi.T * sig,
             (LIMITS[0], LIMITS[2], LIMITS[3], sizes),
             "With T_h -> 0, sigma_h linear and unit couplings, the zero of "
             "T_h dV_h/dt = Xi^T sigma_f + Phi^T Xi^T V_d - V_h (with V_d from the previous "
             "step) is:", r"V_h(t) = (I + \Phi^\top)\,\Xi^\top \sigma_f(V_f(t))"),
        Step("Euler step of the features", v_f + (xi * v_h - v_f),
             xi * (sp.eye(n_h) + phi.T) * xi.T * sig,
             ("V_f discretised with step T_f = 1", "sigma_h linear", sizes),
             "V_f(t+1) = V_f(t) + dV_f/dt with T_f = 1 and V_h from the previous step:",
             r"V_f(t+1) = \Xi\,(I + \Phi^\top)\,\Xi^\top \sigma_f(V_f(t))"),
    ]
    w_sym = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"w_{i + 1}{j + 1}", real=True))
    x2 = sp.Matrix(sp.symbols("x_1 x_2", real=True))
    z = sp.Symbol("z", real=True)
    steps += [
        Step("tanh is invertible", sp.diff(sp.atanh(sp.tanh(z)), z), sp.Integer(1),
             ("z real",), "d/dz atanh(tanh z) = 1 and atanh(tanh 0) = 0, so atanh o tanh is "
             "the identity on R and V'_f = sigma_f(V_f) is a change of variables.",
             r"\frac{d}{dz}\operatorname{atanh}(\tanh z) = 1"),
        conjugacy_step(w_sym, x2),
        Step("linearisation at the origin", (w_sym * x2).applyfunc(sp.tanh).jacobian(x2).subs(
            {x2[0]: 0, x2[1]: 0}), w_sym, ("no bias, so h* = 0 is a fixed point",),
             "For a bias-free tanh RNN the Jacobian at h* = 0 is diag(tanh'(0)) W = W, so W_hh "
             "itself is the linear part that the circuit analysis applies to.",
             r"\frac{\partial}{\partial h} \tanh(W h)\Big|_{h = 0} = W"),
    ]
    xi_orth = sp.Matrix([[sp.Rational(3, 5), 0], [sp.Rational(4, 5), 0], [0, 1]])
    steps.append(
        Step("orthonormal memories: transpose = pseudo-inverse", xi_orth.T,
             (xi_orth.T * xi_orth).inv() * xi_orth.T, ("Xi with orthonormal columns",),
             "For orthonormal memories Xi^T is Xi^+; for general memories the pseudo-inverse "
             "(as in pseudo-inverse associative memories) replaces Xi^T. Folding I + Phi^T into "
             "one operator (called Phi again) gives W_hh = Xi Phi Xi^+.",
             r"\Xi^\top \Xi = I \;\Rightarrow\; \Xi^\top = \Xi^+,\qquad W_{hh} = \Xi \Phi \Xi^+")
    )
    xi_big = rational_full_rank(n_f + 2, n_h + 1, seed)
    phi_big = sp.Matrix(n_h + 1, n_h + 1, lambda i, j: sp.Symbol(f"phi_{i + 1}{j + 1}"))
    steps += similarity_steps(xi_big, phi_big)
    intro = (
        "Each step of the reduction from the continuous GSEMM to a discrete-time Elman RNN, as "
        "an equality checked for explicit sizes with generic symbolic entries, with the "
        "assumptions it uses. The limits T_h -> 0 and T_d -> 0 are not symbolic identities; "
        "they are checked numerically by integrating the continuous system "
        "(`numerics.gsemm_sim`)."
    )
    outro = (
        "**Result.** V_f(t+1) = Xi (I + Phi^T) Xi^T sigma_f(V_f(t)); in V'_f = sigma_f(V_f) a "
        "bias-free Elman RNN; with the pseudo-inverse, W_hh = Xi Phi Xi^+, which acts as Phi in "
        "the basis of the memories. No discrete-time energy function is claimed: the GSEMM "
        "energy is not a Lyapunov function once the delay moves (see gsemm-energy.md), and the "
        "paper proves none for the RNN."
    )
    return Derivation("From GSEMM to an RNN: the EMT reduction", tuple(steps), intro=intro,
                      outro=outro)

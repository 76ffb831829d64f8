"""Gated cells and diagonal linear recurrences against the circuit: their linear regime.

**Gated cells.**  The circuit is a statement about a linear recurrence ``h(t) = W h(t-1) + ...``.
A bias-free LSTM or GRU is linear only near the zero state, where every gate pre-activation is
zero: sigmoid gates sit at 1/2 and tanh at slope 1.  Linearising the full state map there
(PyTorch's equations, `numerics.cell_models`) gives, for the LSTM with state ``x = (h, c)``,

    J = [[W_hg / 4, I / 4], [W_hg / 2, I / 2]] = P Q,   P = [I / 2; I],   Q = [W_hg / 2, I / 2],

a rank-``N`` matrix whose nonzero spectrum is that of ``Q P = I / 2 + W_hg / 4``
(``det(lambda I_2N - P Q) = lambda^N det(lambda I_N - Q P)``).  Every linearised state lies in
the range of ``P`` after one step (``J = P Q``, input map ``P W_ig / 2``), so ``x = P z``
reduces the linearised LSTM exactly to an Elman-form linear recurrence on ``z``:

    z(t) = (I/2 + W_hg/4) z(t-1) + (W_ig/2) u(t),   y(t) = (W_hy/2) z(t).

For the GRU the Jacobian is already ``I/2 + W_hn/4`` with input map ``W_in/2`` and readout
``W_hy``.  The linear claim of the circuit is judged on these equivalent triples
(`linearised_triple`).  Only ``W_hg`` (``W_hn``) and ``W_ig`` (``W_in``) enter: the other
gates' weights multiply quantities that vanish at the zero state.  Each step is a sympy
equality checked on explicit symbolic 2 x 2 blocks (`lstm_derivation`, `gru_derivation`).

**Diagonal linear recurrences** (LRU: ``h(t) = Lambda h(t-1) + B u(t)``, ``y = Re(C h)``) are
linear time-invariant: from ``h(-1) = 0`` the output ``y(t) = sum_tau Re(C Lambda^(t-tau) B)
u(tau)`` depends on each input through the lag alone (`lru_derivation` checks it on a symbolic
instance).  Hence (theorem) an LRU cannot solve a task that `is_linearly_solvable` rejects: that
verdict says exactly that the task's target responds to ``u(tau)`` by more than the lag.  For a
solvable task the outputs must equal the Markov parameters ``G(k) = K(k + s, s - 1)``
(``= Re(C Lambda^(k+1) B)``, ``k >= 0``), whose minimal realisation (Ho-Kalman on the block
Hankel matrix ``[G(i + j)]``) has order ``rank Hankel`` and a unique spectrum: the prediction
for the modes a trained LRU uses (`minimal_realisation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.polys.domains import QQ
from sympy.polys.matrices import DomainMatrix

from emt.theory.derivation import Derivation, Step
from emt.theory.solvability import Solvability, impulse_kernel, is_linearly_solvable
from emt.theory.taskspec import TaskSpec

__all__ = ["lstm_derivation", "gru_derivation", "lru_derivation", "linearised_triple",
           "markov_parameters", "MinimalRealisation", "minimal_realisation",
           "ho_kalman_spectrum", "EXACT_REALISATION_MAX_SLOTS"]

# The derivation document computes the exact realisation for tasks up to this many slots s d
# (the block Hankel matrix is s d^2 x s d^2: 64 x 64 at s = d = 4, under a second; T1's
# 512 x 512 takes about 4 s, too slow for a document rebuilt by every drift check).
EXACT_REALISATION_MAX_SLOTS = 16

_N, _D = 2, 1  # size of the explicit symbolic instances the steps are checked on


def _sym(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}_{i}{j}"))


def _sigma(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


def _at_zero(expr: sp.Matrix, symbols: list[sp.Symbol]) -> sp.Matrix:
    return expr.subs({s: 0 for s in symbols})


def lstm_derivation() -> Derivation:
    """The LSTM's Jacobian at the zero state and its reduction (module docstring)."""
    n, d = _N, _D
    W = {g: _sym(f"W_h{g}", n, n) for g in "ifgo"}
    U = {g: _sym(f"W_i{g}", n, d) for g in "ifgo"}
    h, c, u = _sym("h", n, 1), _sym("c", n, 1), _sym("u", d, 1)
    a = {g: W[g] * h + U[g] * u for g in "ifgo"}
    gate = {g: a[g].applyfunc(_sigma) for g in "ifo"}
    c_new = gate["f"].multiply_elementwise(c) + gate["i"].multiply_elementwise(
        a["g"].applyfunc(sp.tanh))
    h_new = gate["o"].multiply_elementwise(c_new.applyfunc(sp.tanh))
    F = sp.Matrix.vstack(h_new, c_new)
    x = list(h) + list(c)
    zero = x + list(u)
    J = _at_zero(F.jacobian(x), zero)
    Bx = _at_zero(F.jacobian(list(u)), zero)
    eye, half, quarter = sp.eye(n), sp.Rational(1, 2), sp.Rational(1, 4)
    J_claim = sp.Matrix.vstack(sp.Matrix.hstack(quarter * W["g"], quarter * eye),
                               sp.Matrix.hstack(half * W["g"], half * eye))
    P = sp.Matrix.vstack(half * eye, eye)
    Q = sp.Matrix.hstack(half * W["g"], half * eye)
    M = half * eye + quarter * W["g"]
    lam = sp.Symbol("lambda")
    readout = sp.Matrix.hstack(_sym("W_hy", d, n), sp.zeros(d, n))
    steps = (
        Step("Jacobian at the zero state", J, J_claim,
             ("bias-free LSTM, PyTorch equations", "state x = (h, c), u = 0"),
             "Differentiate x(t) = (o * tanh(c'), c'), c' = f * c + i * g, at h = c = u = 0: "
             "the sigmoid gates are 1/2 and have slope 1/4, g = tanh(0) = 0, tanh' = 1, so only "
             "the path through g survives in the h-columns.",
             r"\frac{\partial (h', c')}{\partial (h, c)}\Big|_0 = \begin{pmatrix} \tfrac14 "
             r"W_{hg} & \tfrac14 I \\ \tfrac12 W_{hg} & \tfrac12 I \end{pmatrix}"),
        Step("input map at the zero state", Bx, sp.Matrix.vstack(quarter * U["g"],
                                                                  half * U["g"]),
             ("bias-free LSTM",), "Only the candidate g carries the input at the origin.",
             r"\frac{\partial (h', c')}{\partial u}\Big|_0 = \begin{pmatrix} \tfrac14 W_{ig} "
             r"\\ \tfrac12 W_{ig} \end{pmatrix}"),
        Step("rank-N factorisation", J, P * Q, (),
             "J = P Q with P = [I/2; I] (2N x N) and Q = [W_hg/2, I/2] (N x 2N).",
             r"J = \begin{pmatrix} \tfrac12 I \\ I \end{pmatrix} \begin{pmatrix} \tfrac12 W_{hg}"
             r" & \tfrac12 I \end{pmatrix} = P Q"),
        Step("reduced recurrence", Q * P, M, (),
             "The nonzero spectrum of P Q is that of Q P.",
             r"Q P = \tfrac12 I + \tfrac14 W_{hg}"),
        Step("characteristic polynomial", (lam * sp.eye(2 * n) - J).det(),
             lam ** n * (lam * eye - M).det(), (),
             "Sylvester's determinant identity: J has N zero eigenvalues and the N eigenvalues "
             "of I/2 + W_hg/4.",
             r"\det(\lambda I_{2N} - J) = \lambda^N \det\!\big(\lambda I_N - "
             r"(\tfrac12 I + \tfrac14 W_{hg})\big)"),
        Step("invariant range", J * P, P * M, (),
             "J maps range(P) into itself, acting there as I/2 + W_hg/4; the input map is "
             "P (W_ig / 2), so every linearised state from x = 0 is x = P z.",
             r"J P = P \big(\tfrac12 I + \tfrac14 W_{hg}\big), \quad "
             r"\partial_u x' = P \, \tfrac12 W_{ig}"),
        Step("input of the reduced recurrence", Bx, P * (half * U["g"]), (),
             "The linearised input enters range(P).", r"B_x = P \, \tfrac12 W_{ig}"),
        Step("readout of the reduced recurrence", readout * P, half * _sym("W_hy", d, n), (),
             "y = W_hy h = [W_hy, 0] P z = (W_hy / 2) z.",
             r"\begin{pmatrix} W_{hy} & 0 \end{pmatrix} P = \tfrac12 W_{hy}"),
    )
    return Derivation(
        "LSTM: the linear regime at the zero state", steps,
        intro="Bias-free LSTM with PyTorch's gate order (i, f, g, o) and equations "
              "c' = sigma(a_f) c + sigma(a_i) tanh(a_g), h' = sigma(a_o) tanh(c'), a = W_h h + "
              "W_i u. Steps are checked on explicit symbolic 2 x 2 blocks with d = 1; the "
              "algebra is the same for any N and d.",
        outro="The linearised LSTM is therefore exactly the linear Elman recurrence "
              "(W_uh, W_hh, W_hy) = (W_ig / 2, I / 2 + W_hg / 4, W_hy / 2) on z, with h = z / 2, "
              "c = z. The circuit's linear claim for an LSTM is the claim for this triple: "
              "I / 2 + W_hg / 4 = Psi Phi Psi^+.")


def gru_derivation() -> Derivation:
    """The GRU's Jacobian at the zero state (module docstring)."""
    n, d = _N, _D
    W = {g: _sym(f"W_h{g}", n, n) for g in "rzn"}
    U = {g: _sym(f"W_i{g}", n, d) for g in "rzn"}
    h, u = _sym("h", n, 1), _sym("u", d, 1)
    r = (U["r"] * u + W["r"] * h).applyfunc(_sigma)
    z = (U["z"] * u + W["z"] * h).applyfunc(_sigma)
    cand = (U["n"] * u + r.multiply_elementwise(W["n"] * h)).applyfunc(sp.tanh)
    ones = sp.ones(n, 1)
    F = (ones - z).multiply_elementwise(cand) + z.multiply_elementwise(h)
    zero = list(h) + list(u)
    J = _at_zero(F.jacobian(list(h)), zero)
    Bx = _at_zero(F.jacobian(list(u)), zero)
    half, quarter = sp.Rational(1, 2), sp.Rational(1, 4)
    steps = (
        Step("Jacobian at the zero state", J, half * sp.eye(n) + quarter * W["n"],
             ("bias-free GRU, PyTorch equations", "u = 0"),
             "At h = u = 0: r = z = 1/2, n = 0; dh'/dh = (1 - z) r W_hn + z I (the z- and "
             "r-paths multiply n = 0 or h = 0).",
             r"\frac{\partial h'}{\partial h}\Big|_0 = \tfrac12 I + \tfrac14 W_{hn}"),
        Step("input map at the zero state", Bx, half * U["n"], ("bias-free GRU",),
             "Only the candidate n carries the input at the origin.",
             r"\frac{\partial h'}{\partial u}\Big|_0 = \tfrac12 W_{in}"),
    )
    return Derivation(
        "GRU: the linear regime at the zero state", steps,
        intro="Bias-free GRU with PyTorch's gate order (r, z, n) and equations r = sigma(W_ir u "
              "+ W_hr h), z = sigma(W_iz u + W_hz h), n = tanh(W_in u + r * (W_hn h)), h' = "
              "(1 - z) n + z h. Checked on explicit symbolic 2 x 2 blocks with d = 1.",
        outro="The linearised GRU is the linear Elman recurrence (W_uh, W_hh, W_hy) = "
              "(W_in / 2, I / 2 + W_hn / 4, W_hy); the circuit's linear claim is "
              "I / 2 + W_hn / 4 = Psi Phi Psi^+.")


def linearised_triple(cell: str, arrays: dict[str, np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W_uh, W_hh, W_hy)`` of the linear Elman recurrence equivalent to the cell's
    linearisation at the zero state (`lstm_derivation`, `gru_derivation`)."""
    W_ih, W_hh, W_hy = (np.asarray(arrays[k], dtype=np.float64) for k in ("W_ih", "W_hh", "W_hy"))
    n = W_hh.shape[1]
    if cell == "lstm":
        g = slice(2 * n, 3 * n)
        return 0.5 * W_ih[g], 0.5 * np.eye(n) + 0.25 * W_hh[g], 0.5 * W_hy
    if cell == "gru":
        g = slice(2 * n, 3 * n)
        return 0.5 * W_ih[g], 0.5 * np.eye(n) + 0.25 * W_hh[g], W_hy
    raise ValueError(f"no gated linearisation for cell {cell!r}")


# -- diagonal linear recurrences ---------------------------------------------------------------

def lru_derivation(tasks: list[tuple[str, TaskSpec, Solvability]]) -> Derivation:
    """Lag-only response of a diagonal linear recurrence, and the table of predictions for
    ``(name, task, is_linearly_solvable(task))`` rows."""
    lam = sp.symbols("lambda_0 lambda_1")
    b = sp.symbols("b_0 b_1")
    cc = sp.symbols("c_0 c_1")
    us = sp.symbols("u_0:4")
    hs = [sp.Integer(0), sp.Integer(0)]
    ys = []
    for t in range(6):
        drive = us[t] if t < 4 else 0
        hs = [lam[k] * hs[k] + b[k] * drive for k in range(2)]
        ys.append(sp.expand(sum(cc[k] * hs[k] for k in range(2))))
    coeff = [[ys[t].coeff(us[tau]) for tau in range(4)] for t in range(6)]
    steps = (
        Step("response to u(1) at t = 4 equals response to u(2) at t = 5",
             coeff[4][1], coeff[5][2], ("diagonal linear recurrence from h(-1) = 0",),
             "Unrolled symbolically (two modes, inputs at t = 0..3): the coefficient of an "
             "input in a later output is sum_k c_k lambda_k^(lag) b_k, a function of the lag.",
             r"\frac{\partial y(4)}{\partial u(1)} = \frac{\partial y(5)}{\partial u(2)} = "
             + sp.latex(coeff[4][1])),
        Step("closed form of the response", coeff[5][0],
             sum(cc[k] * lam[k] ** 5 * b[k] for k in range(2)), (),
             "y(t) = sum_tau C Lambda^(t - tau) B u(tau).",
             r"\frac{\partial y(5)}{\partial u(0)} = \sum_k c_k \lambda_k^5 b_k"),
    )
    rows = ["| task | linearly solvable | Hankel rank (minimal order) | s d | spectrum of the "
            "minimal realisation |", "|---|---|---|---|---|"]
    for name, task, verdict in tasks:
        if not verdict.solvable:
            rows.append(f"| {name} | no | - | {task.n_slots} | cannot be learned (theorem) |")
            continue
        if task.n_slots > EXACT_REALISATION_MAX_SLOTS:
            rows.append(f"| {name} | yes | (not computed exactly: s d > "
                        f"{EXACT_REALISATION_MAX_SLOTS}) | {task.n_slots} | see `emt verify` |")
            continue
        real = minimal_realisation(task)
        rows.append(f"| {name} | yes | {real.order} | {task.n_slots} | "
                    f"${sp.latex(sp.factor(real.charpoly.as_expr()))}$ |")
    return Derivation(
        "Diagonal linear recurrences (LRU): what they can learn", steps,
        intro="h(t) = Lambda h(t-1) + B u(t), Lambda diagonal complex, y(t) = Re(C h(t)), "
              "h(-1) = 0: a linear time-invariant system.",
        sections=(
            ("Theorem", "An LRU responds to u(tau) in y(t) through Re(C Lambda^(t - tau) B), a "
             "function of the lag t - tau alone (steps 1-2). A task rejected by the "
             "linear-solvability test has K(t, tau) != K(t', tau') for two pairs with the same "
             "lag, t, t' >= s (see the task documents), so no LRU outputs its target for every "
             "input window; taking real parts does not help, since Re(C Lambda^m B) is again a "
             "function of the lag."),
            ("Prediction for solvable tasks",
             "The LRU must realise the Markov parameters G(k) = K(k + s, s - 1) = "
             "Re(C Lambda^(k+1) B), k >= 0. Their minimal realisation (Ho-Kalman) has order "
             "rank [G(i + j)] (Hankel rank, exact over Q) and characteristic polynomial "
             "det(lambda I - A) computed exactly from a nonsingular r x r Hankel minor H0 and "
             "its shift H1 (A ~ H0^-1 H1). The modes of a trained LRU that reach the output "
             "are predicted to carry this spectrum; its other modes are unconstrained.\n\n"
             + "\n".join(rows)),
        ))


def markov_parameters(task: TaskSpec, count: int) -> list[DomainMatrix]:
    """``[G(0), ..., G(count-1)]``, ``G(k) = K(k + s, s - 1)`` (``d x d``, exact over Q)."""
    s, d = task.s, task.d
    xs = impulse_kernel(task, count + s)
    return [xs[k + s].extract(list(range(d)), list(range((s - 1) * d, s * d)))
            for k in range(count)]


@dataclass(frozen=True)
class MinimalRealisation:
    """``order``: the Hankel rank; ``charpoly``: ``det(lambda I - A)`` of a minimal realisation
    (exact); ``eigenvalues``: its roots, numerically (complex, by multiplicity)."""

    order: int
    charpoly: sp.Poly
    eigenvalues: np.ndarray


def _hankel(blocks: list[DomainMatrix], L: int, shift: int) -> DomainMatrix:
    rows = []
    for i in range(L):
        rows.append(DomainMatrix.hstack(*[blocks[i + j + shift] for j in range(L)]))
    return DomainMatrix.vstack(*rows)


def minimal_realisation(task: TaskSpec) -> MinimalRealisation:
    """Exact Ho-Kalman: the Hankel rank ``r`` of the task's Markov parameters and the
    characteristic polynomial of ``A = H0[R, C]^-1 H1[R, C]`` for a nonsingular ``r x r`` minor
    (rows ``R``, columns ``C``) of the Hankel matrix ``H0`` and the same minor of its shift.

    The circuit with ``Psi = I`` realises the parameters with ``s d`` states, so block Hankel
    matrices of ``s d`` block rows and columns reach the full rank.  ValueError for a task
    that is not linearly solvable (no LTI system realises it).
    """
    verdict = is_linearly_solvable(task)
    if not verdict.solvable:
        raise ValueError(f"task {task.label} is not linearly solvable: {verdict.reason}")
    L = task.n_slots
    G = markov_parameters(task, 2 * L + 1)
    H0, H1 = _hankel(G, L, 0), _hankel(G, L, 1)
    r = H0.rank()
    lam = sp.Symbol("lambda")
    if r == 0:
        return MinimalRealisation(0, sp.Poly(1, lam), np.zeros(0, complex))
    _, cols = H0.rref()  # pivot columns: independent columns
    cols = list(cols)
    _, rows = H0.transpose().rref()
    rows = list(rows)
    minor0 = H0.extract(rows, cols)
    minor1 = H1.extract(rows, cols)
    A = minor0.inv() * minor1
    poly = sp.Poly(A.charpoly(), lam, domain=QQ)
    # roots factor by factor: the irreducible factors over Q have simple roots, which np.roots
    # finds to machine precision (a root of multiplicity m would lose all but 1/m of the digits)
    eig = []
    for factor, mult in poly.factor_list()[1]:
        coeffs = [complex(sp.Rational(c)) for c in factor.all_coeffs()]
        eig += list(np.roots(coeffs)) * mult
    return MinimalRealisation(int(r), poly, np.sort_complex(np.asarray(eig, dtype=complex)))


def ho_kalman_spectrum(markov: list[np.ndarray], order: int) -> np.ndarray:
    """Numerical Ho-Kalman: eigenvalues of the order-``order`` realisation of the (real)
    Markov parameters ``markov[k] = C A^k B`` from a truncated SVD of the block Hankel matrix.

    For a trained LRU, ``markov[k] = Re(C Lambda^(k+1) B)``; its modes that do not reach the
    output (or are not excited) drop out with the small singular values.
    """
    L = (len(markov) - 1) // 2
    if order < 1 or L < 1:
        raise ValueError("need order >= 1 and at least 3 Markov parameters")
    H0 = np.block([[markov[i + j] for j in range(L)] for i in range(L)])
    H1 = np.block([[markov[i + j + 1] for j in range(L)] for i in range(L)])
    U, sv, Vt = np.linalg.svd(H0)
    if order > len(sv) or sv[order - 1] <= 0:
        raise ValueError(f"Hankel rank below {order}")
    root = np.sqrt(sv[:order])
    O_pinv = (U[:, :order] / root).T
    C_pinv = (Vt[:order].T / root)
    A = O_pinv @ H1 @ C_pinv
    return np.linalg.eigvals(A)

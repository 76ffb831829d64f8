"""Phi of the variable binding circuit (docs/science.md) and its characteristic polynomial.

Phi is ``s d x s d`` with ``d x d`` blocks; block ``k`` holds ``x(t - s + 1 + k)`` (``k = 0`` the
oldest, ``k = s - 1`` the newest; `theory.taskspec.slot`).  Row blocks ``0..s-2`` shift
(identity on the super-diagonal); the last row block is
``[F_0^T, ..., F_(s-1)^T]``, the composition (``F_k``: the block of ``F`` for step ``k``,
``k = 0`` oldest).

Characteristic polynomial (block companion matrix):

    det(lambda I - Phi) = det(lambda^s I_d - sum_k lambda^k F_k^T)

a ``d x d`` determinant over Q[lambda], cheap where the ``s d x s d`` brute force is not.  For
signed-copy tasks every row of Phi has one nonzero entry (+-1), i.e. ``Phi^T`` maps slot ``r`` to
``+-`` slot ``src(r)``: a signed functional graph.  Each cycle of length ``L`` with sign product
``sigma`` contributes ``lambda^L - sigma``; slots off the cycles (unused slots and the chains
leading into cycles) are nilpotent and contribute ``lambda``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from emt.theory.taskspec import TaskSpec, block, is_signed_copy, signed_copy_structure, slot

__all__ = [
    "LAMBDA",
    "phi",
    "phi_numeric",
    "characteristic_polynomial",
    "characteristic_polynomial_closed_form",
    "characteristic_polynomial_cycles",
    "characteristic_polynomial_brute_force",
    "signed_copy_cycles",
]

LAMBDA = sp.Symbol("lambda")


def phi(task: TaskSpec) -> sp.ImmutableMatrix:
    """Exact Phi: block ``(k, k+1)`` is ``I`` for ``k < s - 1`` (each step moves one slot older)
    and the last block row (the newest step) is ``F^T``."""
    s, d = task.s, task.d
    n = s * d
    m = sp.zeros(n, n)
    for k in range(s - 1):
        for i in range(d):
            m[slot(k, i, d), slot(k + 1, i, d)] = 1
    m[block(s - 1, d), :] = task.F.T
    return sp.ImmutableMatrix(m)


def phi_numeric(task: TaskSpec) -> np.ndarray:
    """`phi` as a float64 array (one definition of Phi for both arithmetics); a fresh copy of a
    per-task cache, since building the exact matrix costs milliseconds and the checks ask often."""
    return _phi_float(task).copy()


@lru_cache(maxsize=64)
def _phi_float(task: TaskSpec) -> np.ndarray:
    return np.array(phi(task).tolist(), dtype=np.float64)


def characteristic_polynomial_closed_form(task: TaskSpec) -> sp.Poly:
    """``det(lambda^s I_d - sum_k lambda^k F_k^T)`` over Q[lambda] (``k = 0`` oldest;
    fraction-free det)."""
    s, d = task.s, task.d
    ring = sp.QQ[LAMBDA]
    F = task.F
    rows = []
    for i in range(d):
        row = []
        for j in range(d):
            # entry (i, j) of sum_k lambda^k F_k^T is sum_k F[slot(k, j), i] lambda^k
            expr = sum(
                (F[slot(k, j, d), i] * LAMBDA**k for k in range(s)),
                sp.Integer(0),
            )
            if i == j:
                expr = LAMBDA**s - expr
            else:
                expr = -expr
            row.append(ring.from_sympy(expr))
        rows.append(row)
    det = DomainMatrix(rows, (d, d), ring).det()
    return sp.Poly(ring.to_sympy(det), LAMBDA, domain=sp.QQ)


def signed_copy_cycles(task: TaskSpec) -> tuple[list[tuple[tuple[int, ...], int]], int]:
    """Cycles of the signed functional graph of ``Phi^T`` for a signed-copy task.

    ``Phi^T e_r = sign(r) e_src(r)`` with ``src(slot(k, i)) = slot(k + 1, i)`` on the shift
    rows and ``src(slot(s-1, j)) = choice[j]`` with sign ``sign[j]`` on the composition rows.
    Returns
    ``(cycles, n_nilpotent)``: each cycle as (slots in order, product of signs), and the number
    of slots on no cycle.  Deterministic: cycles are listed by their smallest slot.
    """
    choice, sign = signed_copy_structure(task)
    s, d = task.s, task.d
    n = s * d
    shift = [slot(k + 1, i, d) for k in range(s - 1) for i in range(d)]  # slot(k, i) <- k + 1
    src = shift + list(choice)
    sgn = [1] * len(shift) + list(sign)
    state = [0] * n  # 0 unvisited, 1 on the current path, 2 done
    cycles: list[tuple[tuple[int, ...], int]] = []
    for start in range(n):
        path = []
        r = start
        while state[r] == 0:
            state[r] = 1
            path.append(r)
            r = src[r]
        if state[r] == 1:  # closed a new cycle at r
            cyc = path[path.index(r) :]
            prod = 1
            for c in cyc:
                prod *= sgn[c]
            k = cyc.index(min(cyc))
            cycles.append((tuple(cyc[k:] + cyc[:k]), prod))
        for p in path:
            state[p] = 2
    cycles.sort(key=lambda c: c[0][0])
    on_cycles = sum(len(c) for c, _ in cycles)
    return cycles, n - on_cycles


def characteristic_polynomial_cycles(task: TaskSpec) -> sp.Poly:
    """``lambda^(#slots off cycles) * prod over cycles (lambda^L - sigma)`` (signed copy only)."""
    cycles, n_nil = signed_copy_cycles(task)
    poly = sp.Poly(LAMBDA**n_nil, LAMBDA, domain=sp.QQ)
    for cyc, sigma in cycles:
        poly = poly * sp.Poly(LAMBDA ** len(cyc) - sigma, LAMBDA, domain=sp.QQ)
    return poly


def characteristic_polynomial_brute_force(task: TaskSpec) -> sp.Poly:
    """sympy's ``charpoly`` of the full ``s d x s d`` Phi (slow; the oracle for small tasks)."""
    p = phi(task).charpoly(LAMBDA)
    return sp.Poly(p.as_expr(), LAMBDA, domain=sp.QQ)


def characteristic_polynomial(task: TaskSpec, method: str = "auto") -> sp.Poly:
    """``det(lambda I - Phi)`` as a monic ``sympy.Poly`` in `LAMBDA` over QQ.

    ``method``: ``"closed"`` (the ``d x d`` determinant), ``"cycles"`` (signed copy only),
    ``"brute"`` (sympy on Phi), or ``"auto"`` (cycles for signed-copy tasks, else closed).
    All agree (property-tested).
    """
    if method == "auto":
        method = "cycles" if is_signed_copy(task) else "closed"
    if method == "closed":
        return characteristic_polynomial_closed_form(task)
    if method == "cycles":
        return characteristic_polynomial_cycles(task)
    if method == "brute":
        return characteristic_polynomial_brute_force(task)
    raise ValueError(f"unknown method {method!r}; use auto, closed, cycles or brute")


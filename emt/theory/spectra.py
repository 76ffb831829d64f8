"""The spectrum of Phi: exact roots of the characteristic polynomial, with multiplicities.

For signed-copy tasks the polynomial comes factored from the cycle structure
(`theory.charpoly.signed_copy_cycles`): ``lambda^n0 * prod (lambda^L - sigma)``, and the roots of
``lambda^L - sigma`` are written down in closed form, ``exp(i pi (2j + [sigma = -1]) / L)`` for
``j = 0..L-1``: no root finding, so ``s = d = 32`` (``Phi`` of size 1024) takes milliseconds.
For other tasks the polynomial is factored over Q (irreducible factors have simple, disjoint
roots) and each factor is solved exactly where sympy can (else a ``CRootOf``), numerically to
machine precision with ``nroots``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from emt.theory.charpoly import LAMBDA, characteristic_polynomial, signed_copy_cycles
from emt.theory.taskspec import TaskSpec, is_signed_copy

__all__ = ["Spectrum", "spectrum", "factored_form"]


@dataclass(frozen=True)
class Spectrum:
    """Eigenvalues of Phi for one task.

    polynomial: ``det(lambda I - Phi)`` (monic, degree ``s d``);
    factors: ``((factor, multiplicity), ...)`` whose product is ``polynomial``; for signed-copy
        tasks the binomials ``lambda^L - sigma`` of the cycles (not irreducible), else the
        irreducible factors over Q;
    roots: ``((exact root, multiplicity), ...)``, distinct roots, multiplicities summing to
        ``s d`` (zero included);
    numeric: complex128 array of length ``s d``, every eigenvalue repeated by multiplicity, in
        the order of ``roots``;
    nonzero: the number of nonzero eigenvalues counted with multiplicity (exact).
    """

    polynomial: sp.Poly
    factors: tuple[tuple[sp.Poly, int], ...]
    roots: tuple[tuple[sp.Expr, int], ...]
    numeric: np.ndarray
    nonzero: int

    @property
    def size(self) -> int:
        return int(self.numeric.shape[0])

    def factored_expr(self) -> sp.Expr:
        """The factored polynomial as an unevaluated sympy product (for printing)."""
        parts = [
            sp.Pow(f.as_expr(), m, evaluate=False) if m > 1 else f.as_expr()
            for f, m in self.factors
        ]
        return sp.Mul(*parts, evaluate=False) if len(parts) > 1 else parts[0]

    def factored_latex(self) -> str:
        """LaTeX of the factored polynomial, factors in the order of ``factors``."""
        out = []
        for f, m in self.factors:
            body = sp.latex(f.as_expr())
            if f.as_expr() == LAMBDA:
                out.append(body if m == 1 else f"{body}^{{{m}}}")
            else:
                out.append(f"\\left({body}\\right)" + (f"^{{{m}}}" if m > 1 else ""))
        return " ".join(out)


def factored_form(task: TaskSpec) -> tuple[tuple[sp.Poly, int], ...]:
    """``factors`` of `Spectrum` (see there), deterministic order."""
    return _factors(task)[0]


def _lam_poly(expr: sp.Expr) -> sp.Poly:
    return sp.Poly(expr, LAMBDA, domain=sp.QQ)


_FactorInfo = tuple[
    tuple[tuple[sp.Poly, int], ...], tuple[str, int | None, dict[tuple[int, int], int] | None]
]


def _factors(task: TaskSpec) -> _FactorInfo:
    if is_signed_copy(task):
        cycles, n_nil = signed_copy_cycles(task)
        counts: dict[tuple[int, int], int] = {}
        for cyc, sigma in cycles:
            key = (len(cyc), sigma)
            counts[key] = counts.get(key, 0) + 1
        factors: list[tuple[sp.Poly, int]] = []
        if n_nil:
            factors.append((_lam_poly(LAMBDA), n_nil))
        for (length, sigma), m in sorted(counts.items()):
            factors.append((_lam_poly(LAMBDA**length - sigma), m))
        return tuple(factors), ("cycles", n_nil, counts)
    poly = characteristic_polynomial(task, method="closed")
    _, flist = sp.factor_list(poly)
    # monic factors (factor_list gives primitive integer ones), so their product is monic too
    irreducible = tuple((_lam_poly(f.as_expr()).monic(), int(m)) for f, m in flist)
    return irreducible, ("factored", None, None)


def _roots_of_unity_kind(
    n_nil: int, counts: dict[tuple[int, int], int]
) -> tuple[list[tuple[sp.Expr, int]], list[complex]]:
    """Exact roots of prod (lambda^L - sigma)^m as angles (multiples of pi, in [0, 2))."""
    mult: dict[sp.Rational, int] = {}
    for (length, sigma), m in counts.items():
        offset = 0 if sigma > 0 else 1
        for j in range(length):
            angle = sp.Rational(2 * j + offset, length) % 2
            mult[angle] = mult.get(angle, 0) + m
    roots: list[tuple[sp.Expr, int]] = []
    numeric: list[complex] = []
    if n_nil:
        roots.append((sp.Integer(0), n_nil))
        numeric.extend([0j] * n_nil)
    for angle in sorted(mult):
        m = mult[angle]
        roots.append((sp.exp(sp.I * sp.pi * angle), m))
        value = complex(np.exp(1j * np.pi * float(angle)))
        numeric.extend([value] * m)
    return roots, numeric


def _roots_of_factor(f: sp.Poly) -> tuple[list[sp.Expr], list[complex]]:
    deg = f.degree()
    if deg == 1:
        c1, c0 = f.all_coeffs()
        r = -c0 / c1
        return [r], [complex(r)]
    exact = sp.roots(f, multiple=True)
    if len(exact) != deg:
        exact = [sp.CRootOf(f, i) for i in range(deg)]
    try:
        approx = [complex(v) for v in f.nroots(n=17, maxsteps=200)]
    except sp.polys.polyerrors.NoConvergence:  # fall back to the companion-matrix roots
        approx = [complex(v) for v in np.roots([float(c) for c in f.all_coeffs()])]
    return list(exact), approx


@lru_cache(maxsize=64)
def spectrum(task: TaskSpec) -> Spectrum:
    """Exact and numeric eigenvalues of Phi with multiplicities (module docstring); cached per
    task (a verification asks for it three times; T2's costs about 0.2 s)."""
    factors, (kind, n_nil, counts) = _factors(task)
    poly = _lam_poly(sp.Integer(1))
    for f, m in factors:
        poly = poly * f**m
    if kind == "cycles" and n_nil is not None and counts is not None:
        roots, numeric = _roots_of_unity_kind(n_nil, counts)
    else:
        roots, numeric = [], []
        for f, m in factors:
            exact, approx = _roots_of_factor(f)
            roots.extend((r, m) for r in exact)
            for v in approx:
                numeric.extend([v] * m)
    zero_mult = sum(m for r, m in roots if r == 0)
    arr = np.array(numeric, dtype=np.complex128)
    if arr.shape[0] != task.n_slots or poly.degree() != task.n_slots:  # an internal invariant
        raise AssertionError(f"spectrum of {task.label}: {arr.shape[0]} roots for {task.n_slots}")
    return Spectrum(poly, tuple(factors), tuple(roots), arr, task.n_slots - zero_mult)

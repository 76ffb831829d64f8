"""The effective circuit: the spectral (Fitting) projector of Phi and the live-slot coordinates.

Phi (``n x n``, ``n = s d``) splits the window space into two invariant parts (Fitting's lemma):

    R^n = range(Phi^n)  (+)  ker(Phi^n),

the part where Phi is invertible (its nonzero eigenvalues) and the part where it is nilpotent.
``Pi_Phi`` is the projector onto ``range(Phi^n)`` along ``ker(Phi^n)``.  Its rank ``r`` is the
number of nonzero eigenvalues of Phi counted with multiplicity: the *live slots*, the part of
the window that the task still reads ``n`` steps later (36 of 64 for the paper's T2..T4, all 64
for T1).  ``Pi_Phi`` is a polynomial in Phi, so it commutes with Phi, and in the output phase the
dead part of the window vanishes after at most ``n`` steps: ``(I - Pi) w(t + m) =
Phi^m (I - Pi) w(t) = 0`` for ``m >= n``.

Construction (exact, over Q): with ``M = Phi^k``, ``k`` the power at which the rank of the
powers stops dropping (from there on range and kernel are those of ``Phi^n``), the columns ``V``
of ``M`` at the pivots of its column echelon form span ``range(M)`` and the rows ``U^T`` of ``M``
at the pivots of ``M^T`` span ``ker(M)^perp``, so

    Pi_Phi = V (U^T V)^-1 U^T

is the identity on ``range(M)`` and zero on ``ker(M)``.  (``U^T V`` is invertible because the
two subspaces are complementary.)

The effective-circuit claim about a recurrent model ``x(t) = step(x(t-1), u(t))`` (the
derivation document ``effective.md`` states it in full): there is ``Psi_eff`` with
``x(t) = Psi_eff Pi_Phi w(t)`` on the reachable output-phase states and
``step(Psi_eff Pi_Phi w, 0) = Psi_eff Phi Pi_Phi w``.  The numerical checks work in the
orthonormal live-slot coordinates ``z = Q^T Pi_Phi w`` (``Q``: ``n x r``, orthonormal columns
spanning ``range(Pi_Phi)``), where Phi acts as ``Phi_r = Q^T Phi Q``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy.polys.matrices import DomainMatrix

from emt.theory.taskspec import TaskSpec

__all__ = [
    "spectral_projector",
    "spectral_projector_numeric",
    "live_slot_count",
    "LiveCoordinates",
    "live_coordinates",
    "readout_sees_only_live_slots",
    "input_phase_writes_live_window",
    "krylov_matrix",
    "nilpotent_index",
]


@lru_cache(maxsize=64)
def _phi_dm(task: TaskSpec) -> DomainMatrix:
    """Exact Phi (layout of `theory.charpoly.phi`) built from its nonzero entries: sparse, so
    n = 1024 costs milliseconds, not a million sympy zeros."""
    s, d = task.s, task.d
    n = s * d
    dok = {(i, i + d): sp.QQ(1) for i in range(n - d)}
    for r in range(n):
        for j in range(d):
            v = task.F[r, j]
            if v != 0:
                dok[(n - d + j, r)] = sp.QQ(int(v.p), int(v.q))
    return DomainMatrix.from_dok(dok, (n, n), sp.QQ)


def _power(m: DomainMatrix, k: int) -> DomainMatrix:
    """``m^k`` by repeated squaring (exact)."""
    n = m.shape[0]
    out = DomainMatrix.eye(n, sp.QQ)
    base = m
    while k:
        if k & 1:
            out = out * base
        base = base * base
        k >>= 1
    return out


def _to_numpy(m: DomainMatrix) -> np.ndarray:
    """Float64 copy of an exact matrix, read from its nonzero entries (no sympy objects)."""
    out = np.zeros(m.shape)
    for (i, j), v in m.to_dok().items():
        out[i, j] = float(v)
    return out


@dataclass(frozen=True, eq=False)
class _Fitting:
    """``projector`` Pi_Phi and ``range_basis`` V (columns spanning range(Phi^k)), exact."""

    projector: DomainMatrix
    range_basis: DomainMatrix


@lru_cache(maxsize=64)
def _fitting(task: TaskSpec) -> _Fitting:
    """Powers ``M = Phi^k`` until ``rank Phi^(k+1) = rank Phi^k`` (then, and for every larger
    power, range and kernel are those of ``Phi^n``: Fitting's lemma), then
    ``Pi_Phi = V (U^T V)^-1 U^T``.  Stopping at the index instead of computing ``Phi^n`` keeps
    the rationals small (their size grows with the power)."""
    n = task.n_slots
    P = _phi_dm(task)
    M, rank = DomainMatrix.eye(n, sp.QQ), n
    while True:
        nxt = P * M
        r = nxt.rank()
        if r == rank:
            break
        M, rank = nxt, r
    if rank == 0:  # Phi nilpotent: no live slot
        return _Fitting(DomainMatrix.zeros((n, n), sp.QQ), DomainMatrix.zeros((n, 0), sp.QQ))
    _, col_pivots = M.rref()
    _, row_pivots = M.transpose().rref()
    V = M.extract(list(range(n)), list(col_pivots))  # basis of range(M)
    U = M.transpose().extract(list(range(n)), list(row_pivots))  # basis of ker(M)^perp
    return _Fitting(V * (U.transpose() * V).inv() * U.transpose(), V)


def _projector_dm(task: TaskSpec) -> DomainMatrix:
    return _fitting(task).projector


def spectral_projector(task: TaskSpec) -> sp.ImmutableMatrix:
    """``Pi_Phi`` exactly (rational entries): the projector onto ``range(Phi^n)`` along
    ``ker(Phi^n)`` (module docstring).  Cached per task."""
    return sp.ImmutableMatrix(_projector_dm(task).to_Matrix())


def spectral_projector_numeric(task: TaskSpec) -> np.ndarray:
    """``Pi_Phi`` as a float64 array (the exact rationals rounded once)."""
    return _to_numpy(_projector_dm(task))


def live_slot_count(task: TaskSpec) -> int:
    """``rank Pi_Phi`` (exact): the number of live slots."""
    return int(_fitting(task).range_basis.shape[1])


@dataclass(frozen=True, eq=False)
class LiveCoordinates:
    """Orthonormal coordinates on the live part of the window space (float64).

    ``projector``: ``Pi_Phi`` (``n x n``); ``basis``: ``Q`` (``n x r``, orthonormal columns,
    ``range(Q) = range(Pi_Phi)``); ``coords``: ``C = Q^T Pi_Phi`` (``r x n``), so that
    ``z = C w`` and ``Pi_Phi w = Q z``; ``phi_live``: ``Phi_r = C Phi Q`` (``r x r``), the task's
    map in these coordinates (``C Phi = Phi_r C`` because Pi_Phi commutes with Phi)."""

    task: TaskSpec
    projector: np.ndarray
    basis: np.ndarray
    coords: np.ndarray
    phi_live: np.ndarray

    @property
    def rank(self) -> int:
        return int(self.basis.shape[1])

    def of_windows(self, windows: np.ndarray) -> np.ndarray:
        """``z = Q^T Pi_Phi w`` for windows ``w`` on the last axis (``... x n -> ... x r``)."""
        return windows @ self.coords.T


@lru_cache(maxsize=64)
def live_coordinates(task: TaskSpec) -> LiveCoordinates:
    """The `LiveCoordinates` of ``task`` (cached): ``Q`` from a QR factorisation of the exact
    basis ``V`` of ``range(Pi_Phi)``, so it has exactly ``rank Pi_Phi`` columns."""
    fitting = _fitting(task)
    r = fitting.range_basis.shape[1]
    if r == 0:
        raise ValueError(f"task {task.label}: Phi is nilpotent (no nonzero eigenvalue), so no "
                         "slot stays live and there is no effective circuit to look for")
    P = _to_numpy(fitting.projector)
    Q = np.linalg.qr(_to_numpy(fitting.range_basis))[0]
    C = Q.T @ P
    Phi = _to_numpy(_phi_dm(task))
    return LiveCoordinates(task, P, Q, C, C @ Phi @ Q)


def krylov_matrix(task: TaskSpec) -> sp.ImmutableMatrix:
    """``K = [Phi^(s-1) E_s, ..., Phi E_s, E_s]`` (exact, ``n x n``): a linear recurrence that
    writes input ``u(tau)`` into the newest slot and then applies Phi holds ``K w(s-1)`` after
    the input phase (``E_s``: the newest-slot columns of the identity)."""
    s, d, n = task.s, task.d, task.n_slots
    P = _phi_dm(task)
    E = DomainMatrix.eye(n, sp.QQ).extract(list(range(n)), list(range(n - d, n)))
    blocks = []
    power = E
    for _ in range(s):
        blocks.append(power)
        power = P * power
    return sp.ImmutableMatrix(DomainMatrix.hstack(*reversed(blocks)).to_Matrix())


def readout_sees_only_live_slots(task: TaskSpec) -> bool:
    """Whether ``E_s^T Phi^m (I - Pi_Phi) = 0`` for ``m = 1..n``: every output-phase value of
    the task is a function of the live part ``Pi_Phi w(s-1)`` alone (true for every registered
    task; then a state that carries only ``Pi_Phi w`` can produce every output)."""
    n, d = task.n_slots, task.d
    P = _phi_dm(task)
    rest = DomainMatrix.eye(n, sp.QQ) - _projector_dm(task)
    rows = list(range(n - d, n))
    M = rest
    for _ in range(n):
        M = P * M
        if not M.extract(rows, list(range(n))).is_zero_matrix:
            return False
    return True


def input_phase_writes_live_window(task: TaskSpec) -> bool:
    """Whether ``Pi_Phi K = Pi_Phi`` (`krylov_matrix`): then the constructed linear circuit,
    driven from ``h(-1) = 0`` through the input phase, holds ``Psi Pi_Phi w(t)`` on its live
    part, so the effective embedding holds on its reachable output-phase states."""
    Pi = _projector_dm(task)
    K = DomainMatrix.from_Matrix(sp.Matrix(krylov_matrix(task))).convert_to(sp.QQ)
    return (Pi * K - Pi).is_zero_matrix


@lru_cache(maxsize=64)
def nilpotent_index(task: TaskSpec) -> int:
    """The smallest ``m >= 0`` with ``Phi^m (I - Pi_Phi) = 0`` (exact; 0 when every slot is
    live): after ``m`` output steps the dead part of the window has vanished, so
    ``w(t) = Pi_Phi w(t)`` for ``t >= s - 1 + m``."""
    n = task.n_slots
    P = _phi_dm(task)
    M = DomainMatrix.eye(n, sp.QQ) - _projector_dm(task)
    m = 0
    while not M.is_zero_matrix:
        M = P * M
        m += 1
        if m > n:  # cannot happen for a projector along ker(Phi^n); guard the loop anyway
            raise ValueError(f"task {task.label}: Phi^n (I - Pi) != 0, projector is wrong")
    return m

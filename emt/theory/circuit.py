"""The variable binding circuit (docs/science.md): the `Circuit` noun for a task and a chosen Psi.
Phi and its characteristic polynomial live in `emt.theory.charpoly`, its spectrum in
`emt.theory.spectra`.

Given Psi (``N_h x s d``, full column rank) with blocks ``Psi_1..Psi_s`` of ``d`` columns and its
dual ``Psi* = Psi^+`` (blocks ``Psi*_k`` of ``d`` rows; ``Psi* Psi = I``):

    W_hh = Psi Phi Psi^+,      W_uh = Psi_s,      W_hy = Psi*_s

(inputs are written into, and outputs read from, the newest slot).  Loaded-state theorem: with
``h(s-1) = Psi [x(0); ...; x(s-1)]`` and zero input afterwards, ``h(t) = Psi window(t)`` by
induction (``Psi^+ Psi = I``), so ``y(t) = Psi*_s h(t) = x(t)`` for every ``t >= s`` and every F.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from emt.theory.arrays import real_matrix
from emt.theory.charpoly import (
    phi,
    phi_numeric,
)
from emt.theory.recurrence import task_continuation
from emt.theory.taskspec import TaskSpec, block

__all__ = [
    "Circuit",
    "random_psi",
    "LoadedStateCheck",
    "loaded_state_check",
    "loaded_state_outputs",
    "MAX_PSI_CONDITION",
]

# Psi with condition number above this is treated as rank deficient: its pseudo-inverse would
# amplify float64 rounding (1e-16) past the 1e-10 accuracy the checks hold the circuit to.
MAX_PSI_CONDITION = 1e6


def _numeric_psi(psi: Any, n: int) -> np.ndarray:
    arr = real_matrix("psi", psi)
    if arr.shape[1] != n:
        raise ValueError(f"psi must have shape (N_h, s*d = {n}); got {arr.shape}")
    if arr.shape[0] < n:
        raise ValueError(f"psi needs N_h >= s*d = {n} rows (full column rank); got {arr.shape[0]}")
    cond = np.linalg.cond(arr)
    if not np.isfinite(cond) or cond > MAX_PSI_CONDITION:
        raise ValueError(
            f"psi must have full column rank {n}; its condition number is {cond:.3g} "
            f"(limit {MAX_PSI_CONDITION:g})"
        )
    return arr


def _symbolic_psi(psi: sp.MatrixBase, n: int) -> sp.ImmutableMatrix:
    if psi.shape[1] != n:
        raise ValueError(f"psi must have shape (N_h, s*d = {n}); got {psi.shape}")
    if psi.shape[0] < n:
        raise ValueError(f"psi needs N_h >= s*d = {n} rows (full column rank); got {psi.shape[0]}")
    gram = psi.T * psi
    if gram.det() == 0:  # full column rank <=> the Gram matrix is invertible
        raise ValueError(f"psi must have full column rank {n}; its Gram matrix is singular")
    return sp.ImmutableMatrix(psi)


@dataclass(frozen=True, eq=False)
class Circuit:
    """The binding circuit for ``task`` embedded by ``psi`` (module docstring).

    ``psi`` numeric (anything numpy converts) gives float64 arrays; a sympy Matrix gives exact
    sympy matrices (``psi_dual = (Psi^T Psi)^-1 Psi^T``, which is ``Psi^+`` at full column rank).
    """

    task: TaskSpec
    psi: Any
    phi: Any = field(init=False)
    psi_dual: Any = field(init=False)
    w_uh: Any = field(init=False)
    w_hh: Any = field(init=False)
    w_hy: Any = field(init=False)
    exact: bool = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.task, TaskSpec):
            raise ValueError(f"task must be a TaskSpec; got {type(self.task).__name__}")
        n, d = self.task.n_slots, self.task.d
        newest = block(self.task.s - 1, d)  # inputs enter and outputs leave the newest slot
        if isinstance(self.psi, sp.MatrixBase):
            psi = _symbolic_psi(self.psi, n)
            phi_m = phi(self.task)
            dual = sp.ImmutableMatrix((psi.T * psi).inv() * psi.T)
            w_hh = sp.ImmutableMatrix(psi * phi_m * dual)
            exact = True
            w_uh, w_hy = psi[:, newest], dual[newest, :]
        else:
            psi = _numeric_psi(self.psi, n)
            phi_m = phi_numeric(self.task)
            dual = np.linalg.pinv(psi)
            w_hh = psi @ phi_m @ dual
            exact = False
            w_uh, w_hy = psi[:, newest].copy(), dual[newest, :].copy()
        for name, value in (
            ("psi", psi), ("phi", phi_m), ("psi_dual", dual), ("w_hh", w_hh),
            ("w_uh", w_uh), ("w_hy", w_hy), ("exact", exact),
        ):
            object.__setattr__(self, name, value)

    @property
    def n_hidden(self) -> int:
        return int(self.psi.shape[0])


def random_psi(task: TaskSpec, n_hidden: int, rng: np.random.Generator | int) -> np.ndarray:
    """A Gaussian ``n_hidden x s d`` Psi with entries N(0, 1/n_hidden) (columns of unit norm on
    average), redrawn until well conditioned; ``n_hidden >= s d`` is required."""
    n = task.n_slots
    if isinstance(n_hidden, bool) or not isinstance(n_hidden, int | np.integer) or n_hidden < n:
        raise ValueError(f"n_hidden must be an integer >= s*d = {n}; got {n_hidden!r}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    for _ in range(100):
        psi = gen.standard_normal((int(n_hidden), n)) / np.sqrt(n_hidden)
        if np.linalg.cond(psi) < MAX_PSI_CONDITION:
            return psi
    raise ValueError(f"could not draw a well-conditioned Psi of shape ({n_hidden}, {n})")


def loaded_state_outputs(circuit: Circuit, window: Any, steps: int) -> Any:
    """Outputs ``y(s), ..., y(s + steps - 1)`` of the linear circuit started at
    ``h(s-1) = Psi window`` with zero input; ``window`` is ``[x(0); ...; x(s-1)]``.

    Exact circuit (``window`` a sympy column): a ``d x steps`` Matrix, column ``t - s``.
    Numeric: ``window`` of shape ``(s d,)`` or ``(s d, B)`` gives ``(steps, d)`` or
    ``(steps, d, B)``.
    """
    h = circuit.psi * window if circuit.exact else circuit.psi @ np.asarray(window, float)
    ys = []
    for _ in range(steps):
        if circuit.exact:
            h = circuit.w_hh * h
            ys.append(circuit.w_hy * h)
        else:
            h = circuit.w_hh @ h
            ys.append(circuit.w_hy @ h)
    return sp.Matrix.hstack(*ys) if circuit.exact else np.stack(ys)


@dataclass(frozen=True)
class LoadedStateCheck:
    """Result of `loaded_state_check`: ``passed`` iff ``y(t) - x(t)`` simplifies to 0 for each
    checked ``t``; ``detail`` names the first failing step."""

    passed: bool
    steps: int
    detail: str

    def __bool__(self) -> bool:
        return self.passed


def loaded_state_check(
    task: TaskSpec, psi: sp.MatrixBase | None = None, steps: int | None = None, seed: int = 0
) -> LoadedStateCheck:
    """Check the loaded-state theorem symbolically: inputs ``x_{t,i}`` are symbols, arithmetic
    exact.  ``psi`` defaults to a random integer matrix with ``s d + 1`` rows (seeded, full rank);
    ``steps`` defaults to ``2 s``.  Meant for small ``s, d``."""
    n, s, d = task.n_slots, task.s, task.d
    steps = 2 * s if steps is None else steps
    if psi is None:
        gen = np.random.default_rng(seed)
        while True:
            psi = sp.Matrix(gen.integers(-3, 4, size=(n + 1, n)).tolist())
            if (psi.T * psi).det() != 0:
                break
    circuit = Circuit(task, sp.Matrix(psi))
    window = sp.Matrix([sp.Symbol(f"x_{k}_{i}") for k in range(s) for i in range(d)])
    ys = loaded_state_outputs(circuit, window, steps)
    xs = task_continuation(task, window, steps)
    for t in range(steps):
        diff = (ys[:, t] - xs[:, t]).applyfunc(sp.expand)
        if any(v != 0 for v in diff):
            return LoadedStateCheck(False, steps, f"y({s + t}) != x({s + t}): difference {diff.T}")
    return LoadedStateCheck(True, steps, f"y(t) == x(t) exactly for t = {s}..{s + steps - 1}")

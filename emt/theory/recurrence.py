"""The task recurrence, defined once, in exact and in float arithmetic.

A task emits, after its ``s`` given steps ``x(0..s-1)``,

    x(t) = F^T [x(t-s); ...; x(t-1)] = sum_k F_k^T x(t - s + k)        (t >= s),

with ``F_k`` the ``d x d`` block of ``F`` acting on step ``k`` of the window (``k = 0`` oldest;
`theory.taskspec.block`).  `task_continuation` iterates this one rule for every arithmetic the
suite needs: sympy matrices (exact, symbolic entries allowed), sympy ``DomainMatrix`` over the
rationals (exact and fast, for the solvability test) and numpy float64 arrays (data, checks).

Everything is a column: a window is ``s d`` rows by any number of columns (one per sequence, or
one per impulse), so one call continues a whole batch.  With the identity as the window, column
``slot(tau, i, d)`` of ``x(t)`` is the response at ``t`` to a unit impulse in dimension ``i`` at
``tau``: that is the impulse kernel ``K(t, tau)`` (`impulse_kernel`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from sympy.polys.domains import QQ
from sympy.polys.matrices import DomainMatrix

from emt.theory.taskspec import TaskSpec, block

__all__ = ["task_continuation", "continuation_steps", "impulse_kernel", "impulse_responses"]


def _blocks_transposed(task: TaskSpec, like: Any) -> list[tuple[int, Any]]:
    """``(k, F_k^T)`` for the nonzero blocks, in the arithmetic of ``like`` (zero blocks are
    skipped: repeat copy has one nonzero block out of ``s``)."""
    out = []
    for k in range(task.s):
        fk_t = task.F_block(k).T
        if fk_t.is_zero_matrix:
            continue
        if isinstance(like, np.ndarray):
            out.append((k, np.array(fk_t.tolist(), dtype=np.float64)))
        elif isinstance(like, DomainMatrix):
            rows = [[QQ.from_sympy(v) for v in fk_t.row(i)] for i in range(task.d)]
            out.append((k, DomainMatrix(rows, (task.d, task.d), QQ)))
        else:
            out.append((k, fk_t))
    return out


def continuation_steps(task: TaskSpec, window: Any, steps: int) -> list[Any]:
    """``[x(s), ..., x(s + steps - 1)]``, each ``d`` rows by the window's columns, from
    ``window = [x(0); ...; x(s-1)]`` (``s d`` rows): a numpy array, a sympy Matrix or a
    ``DomainMatrix``; the results have the same type (numpy results are float64)."""
    s, d = task.s, task.d
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
    if isinstance(window, np.ndarray) or not isinstance(window, sp.MatrixBase | DomainMatrix):
        window = np.asarray(window, dtype=np.float64)
    if window.shape[0] != s * d:
        raise ValueError(f"window must have s*d = {s * d} rows; got shape {window.shape}")
    numeric = isinstance(window, np.ndarray)
    xs = [window[block(k, d)] if numeric else window[block(k, d), :] for k in range(s)]
    blocks = _blocks_transposed(task, window)
    zero = xs[0] - xs[0]
    for t in range(s, s + steps):
        nxt = zero
        for k, fk_t in blocks:
            nxt = nxt + (fk_t @ xs[t - s + k] if numeric else fk_t * xs[t - s + k])
        xs.append(nxt)
    return xs[s:]


def task_continuation(task: TaskSpec, window: Any, steps: int) -> Any:
    """`continuation_steps` stacked: a sympy window gives the ``d x steps`` Matrix (column
    ``t - s``; one-column windows); a numpy window of shape ``(s d,)`` or ``(s d, B)`` gives
    ``(steps, d)`` or ``(steps, d, B)``."""
    xs = continuation_steps(task, window, steps)
    if isinstance(window, sp.MatrixBase):
        return sp.Matrix.hstack(*xs) if xs else sp.zeros(task.d, 0)
    window = np.asarray(window, dtype=np.float64)
    return np.stack(xs) if xs else np.empty((0, task.d, *window.shape[1:]))


def impulse_kernel(task: TaskSpec, t_max: int) -> list[DomainMatrix]:
    """``[X(0), ..., X(t_max)]`` with ``X(t) = [K(t, 0), ..., K(t, s-1)]`` (``d x s d``, exact
    rationals): ``x(t) = sum_tau K(t, tau) u(tau)`` for inputs ``u(0..s-1)``.  ``X(t)`` for
    ``t < s`` is the identity's block ``t`` (the input itself); later ones are the recurrence
    run on the identity window."""
    n = task.n_slots
    eye = DomainMatrix.eye(n, QQ).to_dense()
    given = [eye[block(t, task.d), :] for t in range(min(task.s, t_max + 1))]
    return given + continuation_steps(task, eye, max(0, t_max + 1 - task.s))


def impulse_responses(task: TaskSpec, max_lag: int) -> np.ndarray:
    """``K(m) = K(s - 1 + m, s - 1)`` for ``m = 1..max_lag``, float64, shape ``(max_lag, d, d)``:
    the output ``m`` steps after a unit impulse into the newest input step.  For a linearly
    solvable task every ``(t, tau)`` with ``t - tau = m`` gives this same matrix, and it is what
    the Markov parameters ``W_hy W_hh^m W_uh`` of a linear net solving the task must equal."""
    s, d = task.s, task.d
    window = np.zeros((s * d, d))
    window[block(s - 1, d)] = np.eye(d)
    return task_continuation(task, window, max_lag)

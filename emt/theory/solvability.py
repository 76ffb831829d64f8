"""Which tasks a linear time-invariant RNN can solve from ``h(-1) = 0`` (docs/science.md).

With inputs only at ``tau = 0..s-1`` (zeros afterwards) and ``h(-1) = 0``, a linear RNN
``h(t) = W_hh h(t-1) + W_uh u(t)``, ``y(t) = W_hy h(t)`` outputs

    y(t) = sum_tau M(t - tau) u(tau),      M(m) = W_hy W_hh^m W_uh,

a sum over lags only.  The task's target is ``x(t) = sum_tau K(t, tau) u(tau)`` with ``K``
from unrolling the recurrence exactly: ``K(t, tau) = [t == tau] I`` for ``t < s`` and
``K(t, tau) = sum_k F_k^T K(t - s + k, tau)`` (``k = 0`` oldest) for ``t >= s``.  The task is
linearly solvable iff ``K(t, tau)`` depends on ``t - tau`` alone for all ``t >= s``,
``tau < s``.  (Sufficient: the circuit with ``Psi = I`` realises ``M(m) = K(m + s - 1, s - 1)``.)
Every ``K(., tau)`` obeys the same order-``s`` recurrence for ``t >= s``, and so does
``t -> K(t + s - 1 - tau, s - 1)``; two solutions that agree on ``s`` consecutive steps agree
forever, so it suffices to check

    K(t, tau) == K(t + s - 1 - tau, s - 1)       for t = s..2s-1, tau = 0..s-1

in exact arithmetic (``K`` from `theory.recurrence.impulse_kernel`).  When ``F`` has integer
entries every ``K`` is an integer matrix, and float64 represents integers below ``2^53`` exactly,
so `_integer_kernel` runs the recurrence in float64 (milliseconds instead of seconds for
s = d = 8) whenever every entry, and every partial sum it forms, stays below ``2^52``; otherwise
the rational `impulse_kernel` decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emt.theory.recurrence import continuation_steps, impulse_kernel
from emt.theory.taskspec import TaskSpec, block

__all__ = ["Solvability", "is_linearly_solvable"]


@dataclass(frozen=True)
class Solvability:
    """Verdict of `is_linearly_solvable`; true in a boolean context iff ``solvable``.

    ``first_violation`` is the first ``(t, tau)`` (``t`` ascending, then ``tau``) where
    ``K(t, tau) != K(t + s - 1 - tau, s - 1)``, or ``None`` when the task is solvable.
    """

    solvable: bool
    reason: str
    first_violation: tuple[int, int] | None = None

    def __bool__(self) -> bool:
        return self.solvable


_EXACT_FLOAT = 2.0**52  # integers below this (and their sums, with a factor-2 margin) are exact


def _integer_kernel(task: TaskSpec, t_max: int) -> list[list[list]] | None:
    """``X(0..t_max)`` as nested lists of Python ints when ``F`` is an integer matrix and the
    float64 recurrence stays exact (module docstring); ``None`` otherwise."""
    if any(v.q != 1 for v in task.F):
        return None
    n = task.n_slots
    eye = np.eye(n)
    xs = [eye[block(t, task.d), :] for t in range(min(task.s, t_max + 1))]
    xs += continuation_steps(task, eye, max(0, t_max + 1 - task.s))
    # each new entry is a sum of s d products |F| |x|: bound the largest partial sum
    f_max = max((abs(int(v)) for v in task.F), default=0)
    worst = max(float(np.max(np.abs(x))) for x in xs) * max(f_max, 1) * n
    if not worst < _EXACT_FLOAT:
        return None
    return [np.rint(x).astype(np.int64).tolist() for x in xs]


def is_linearly_solvable(task: TaskSpec) -> Solvability:
    """Whether some linear time-invariant RNN started at ``h(-1) = 0``, with the input phase
    driven through the recurrence, outputs ``x(t)`` for every ``t >= s`` and every input
    (module docstring: iff ``K(t, tau) = K(t + s - 1 - tau, s - 1)`` for ``t = s..2s-1``)."""
    s, d = task.s, task.d
    ints = _integer_kernel(task, 3 * s - 2)
    rows = ints if ints is not None else [x.to_list() for x in impulse_kernel(task, 3 * s - 2)]

    def K(t: int, tau: int) -> list[list]:
        return [row[block(tau, d)] for row in rows[t]]

    for t in range(s, 2 * s):
        for tau in range(s):
            lagged = t + s - 1 - tau
            if K(t, tau) != K(lagged, s - 1):
                return Solvability(
                    False,
                    f"K({t},{tau}) != K({lagged},{s - 1}): the target x({t}) depends on the "
                    f"input u({tau}) differently from how x({lagged}) depends on u({s - 1}) at "
                    f"the same lag {t - tau}, but any linear time-invariant RNN from h = 0 "
                    "responds to an input through its lag alone",
                    (t, tau),
                )
    return Solvability(
        True,
        f"x(t) depends on each u(tau) through the lag t - tau alone (checked exactly for "
        f"t = {s}..{2 * s - 1}, which suffices for an order-{s} recurrence); the circuit with "
        "Psi = I realises it",
    )

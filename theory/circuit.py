"""The variable binding circuit (SPEC section 4).

Phi is ``s d x s d`` with ``d x d`` blocks; block ``k`` holds ``x(t - s + k)`` (block ``s`` is the
newest).  Row blocks ``1..s-1`` shift (identity on the super-diagonal); the last row block is
``[F_1^T, ..., F_s^T]``, the composition.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from theory.tasks import TaskSpec

__all__ = ["phi", "phi_numeric"]


def phi(task: TaskSpec) -> sp.ImmutableMatrix:
    """Exact Phi: ``Phi[(k-1)d:kd, kd:(k+1)d] = I`` for ``k < s`` and last block row ``F^T``."""
    s, d = task.s, task.d
    n = s * d
    m = sp.zeros(n, n)
    for k in range(s - 1):
        for i in range(d):
            m[k * d + i, (k + 1) * d + i] = 1
    m[(s - 1) * d :, :] = task.F.T
    return sp.ImmutableMatrix(m)


def phi_numeric(task: TaskSpec) -> np.ndarray:
    """Phi as a float64 array (same layout as `phi`)."""
    s, d = task.s, task.d
    n = s * d
    m = np.zeros((n, n))
    m[: n - d, d:] = np.eye(n - d)
    m[n - d :, :] = task.F_numeric().T
    return m

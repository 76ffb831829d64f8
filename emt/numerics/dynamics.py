"""`Dynamics`: any one-layer recurrent model, seen only through its state map and readout.

    x(t) = step(x(t-1), u(t)),   x(-1) = initial_state,   y(t) = readout(x(t))

``x`` is the model's *full* state (``h`` for an Elman RNN or a GRU, ``(h, c)`` stacked for an
LSTM, ``(Re h, Im h)`` for a diagonal complex recurrence), always a real vector of length
``state_dim``; every array carries a leading batch axis. Checks that need only this interface
(the effective-circuit checks) therefore work for any cell; `rollout` is the one place where a
recurrence is iterated in numpy.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Dynamics", "rollout_dynamics"]


@runtime_checkable
class Dynamics(Protocol):
    """A recurrent model as a state map. Shapes: state ``(B, state_dim)``, input ``(B, d_in)``."""

    cell: str
    d_in: int
    d_out: int
    state_dim: int

    def initial_state(self, batch: int) -> np.ndarray:
        """``x(-1)`` for ``batch`` sequences, shape ``(batch, state_dim)`` (zeros here)."""
        ...

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``x(t) = step(x(t-1), u(t))``; shapes ``(B, state_dim), (B, d_in) -> (B, state_dim)``."""
        ...

    def readout(self, state: np.ndarray) -> np.ndarray:
        """``y(t)`` from ``x(t)``; shape ``(B, state_dim) -> (B, d_out)``."""
        ...


def rollout_dynamics(
    model: Dynamics,
    u: np.ndarray,
    state_init: np.ndarray | None = None,
    keep: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Drive ``model`` with ``u`` of shape ``(B, T, d_in)``; return ``(states, outputs)``.

    ``states`` has shape ``(B, T, state_dim)`` (``x(0)..x(T-1)``), ``outputs`` ``(B, T, d_out)``.
    ``keep = (sequences, steps)`` stores only the states of the first ``sequences`` sequences over
    the first ``steps`` steps, so long verification rollouts do not hold every state.
    """
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 3 or u.shape[2] != model.d_in:
        raise ValueError(f"inputs must have shape (B, T, {model.d_in}); got {u.shape}")
    if not np.all(np.isfinite(u)):
        raise ValueError("inputs contain NaN or infinite entries")
    B, T, _ = u.shape
    n_keep, t_keep = (B, T) if keep is None else (min(keep[0], B), min(keep[1], T))
    x = model.initial_state(B) if state_init is None else np.broadcast_to(
        np.asarray(state_init, dtype=np.float64), (B, model.state_dim)).copy()
    xs = np.empty((n_keep, t_keep, model.state_dim))
    ys = np.empty((B, T, model.d_out))
    for t in range(T):
        x = model.step(x, u[:, t])
        ys[:, t] = model.readout(x)
        if t < t_keep:
            xs[:, t] = x[:n_keep]
    return xs, ys

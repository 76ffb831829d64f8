"""Numpy forward simulation of an `RNNWeights` network (no TensorFlow).

    h(t) = act(W_hh h(t-1) + W_uh u(t)),  h(-1) = h_init (default 0),  y(t) = W_hy h(t)

(biases, when present, are added inside the activation and to the readout).
"""

from __future__ import annotations

import numpy as np

from emt.numerics.weights import RNNWeights

__all__ = ["rollout", "activation_fn", "ElmanDynamics"]


def activation_fn(name: str):
    if name == "tanh":
        return np.tanh
    if name == "linear":
        return lambda z: z
    raise ValueError(f"unknown activation {name!r}")


def rollout(
    weights: RNNWeights,
    u: np.ndarray,
    h_init: np.ndarray | None = None,
    keep: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Drive the network with inputs ``u`` of shape ``(B, T, d_in)`` (or ``(T, d_in)``).

    Returns ``(h, y)`` with shapes ``(B, T, N_h)`` and ``(B, T, d_out)`` (no batch axis when
    ``u`` had none).  ``h_init`` is ``h(-1)``, shape ``(N_h,)`` or ``(B, N_h)``.
    ``keep = (sequences, steps)`` stores only the hidden states of the first ``sequences``
    sequences over the first ``steps`` steps (``h`` then has that shape): storing every state
    of a 640 x 208 x 1024 verification rollout would cost about 1 GB and much of the time.
    """
    u = np.asarray(u, dtype=np.float64)
    squeeze = u.ndim == 2
    if squeeze:
        u = u[None]
    if u.ndim != 3 or u.shape[2] != weights.d_in:
        raise ValueError(f"inputs must have shape (B, T, {weights.d_in}); got {u.shape}")
    if not np.all(np.isfinite(u)):
        raise ValueError("inputs contain NaN or infinite entries")
    B, T, _ = u.shape
    n_keep, t_keep = (B, T) if keep is None else (min(keep[0], B), min(keep[1], T))
    act = activation_fn(weights.activation)
    h = np.zeros((B, weights.n_hidden)) if h_init is None else np.broadcast_to(
        np.asarray(h_init, dtype=np.float64), (B, weights.n_hidden)).copy()
    W_hh_T, W_uh_T, W_hy_T = weights.W_hh.T, weights.W_uh.T, weights.W_hy.T
    hs = np.empty((n_keep, t_keep, weights.n_hidden))
    ys = np.empty((B, T, weights.d_out))
    for t in range(T):
        pre = h @ W_hh_T
        if np.any(u[:, t]):  # the output phase has no input: skip a product per step
            pre += u[:, t] @ W_uh_T
        if weights.b_h is not None:
            pre += weights.b_h
        h = act(pre)
        ys[:, t] = h @ W_hy_T
        if t < t_keep:
            hs[:, t] = h[:n_keep]
    if weights.b_y is not None:
        ys += weights.b_y
    if squeeze:
        return hs[0], ys[0]
    return hs, ys


class ElmanDynamics:
    """An `RNNWeights` network as a `numerics.dynamics.Dynamics`: the state is ``h``.

        step(h, u) = act(W_hh h + W_uh u + b_h),   readout(h) = W_hy h + b_y
    """

    cell = "rnn"

    def __init__(self, weights: RNNWeights) -> None:
        self.weights = weights
        self.d_in, self.d_out, self.state_dim = weights.d_in, weights.d_out, weights.n_hidden
        self._act = activation_fn(weights.activation)

    def initial_state(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.state_dim))

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        w = self.weights
        pre = state @ w.W_hh.T + u @ w.W_uh.T
        if w.b_h is not None:
            pre = pre + w.b_h
        return self._act(pre)

    def readout(self, state: np.ndarray) -> np.ndarray:
        y = state @ self.weights.W_hy.T
        return y if self.weights.b_y is None else y + self.weights.b_y

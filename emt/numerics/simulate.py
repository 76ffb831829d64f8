"""Numpy forward simulation of an `RNNWeights` network (no TensorFlow).

    h(t) = act(W_hh h(t-1) + W_uh u(t)),  h(-1) = h_init (default 0),  y(t) = W_hy h(t)

(biases, when present, are added inside the activation and to the readout).
"""

from __future__ import annotations

import numpy as np

from emt.numerics.dynamics import rollout_dynamics
from emt.numerics.weights import RNNWeights

__all__ = ["rollout", "markov_parameters", "activation_fn", "ElmanDynamics"]


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
    This is `numerics.dynamics.rollout_dynamics` of the network's `ElmanDynamics`.
    """
    u = np.asarray(u, dtype=np.float64)
    squeeze = u.ndim == 2
    hs, ys = rollout_dynamics(ElmanDynamics(weights), u[None] if squeeze else u,
                              state_init=h_init, keep=keep)
    return (hs[0], ys[0]) if squeeze else (hs, ys)


def markov_parameters(weights: RNNWeights, max_lag: int) -> np.ndarray:
    """``M(m) = W_hy W_hh^m W_uh`` for ``m = 0..max_lag``, shape ``(max_lag + 1, d_out, d_in)``,
    read off the network's own rollout: column ``j`` of ``M(m)`` is the output ``m`` steps after
    a unit impulse into input ``j`` from ``h(-1) = 0``.  Biases add an input-independent offset
    to a linear network's output and no input response, so they are left out.  Only a linear
    network has Markov parameters; ValueError otherwise."""
    if weights.activation != "linear":
        raise ValueError("Markov parameters exist only for a linear network")
    linear_part = RNNWeights(weights.W_uh, weights.W_hh, weights.W_hy, "linear")
    u = np.zeros((weights.d_in, max_lag + 1, weights.d_in))
    u[:, 0] = np.eye(weights.d_in)
    _, y = rollout(linear_part, u, keep=(0, 0))
    return np.transpose(y, (1, 2, 0))


class ElmanDynamics:
    """An `RNNWeights` network as a `numerics.dynamics.Dynamics`: the state is ``h``.

        step(h, u) = act(W_hh h + W_uh u + b_h),   readout(h) = W_hy h + b_y

    ``contiguous``: hold row-major copies of the transposed matrices, which BLAS multiplies
    10-15 % faster at N_h = 1024 with a batch of 8-32 (one thread); otherwise the transposed
    views, whose products every check's value was computed with.  The two agree to the last bit
    at N_h = 1024 for batches of 2 or more with OpenBLAS 0.3.31, but not for every shape (N_h =
    128, batch <= 8: 1e-15), so only descriptors that decide nothing use the copies.
    """

    cell = "rnn"

    def __init__(self, weights: RNNWeights, contiguous: bool = False) -> None:
        self.weights = weights
        self.d_in, self.d_out, self.state_dim = weights.d_in, weights.d_out, weights.n_hidden
        self._act = activation_fn(weights.activation)
        # transposed once: the batch is the leading axis, so states multiply from the left
        self._hh_t, self._uh_t, self._hy_t = (np.ascontiguousarray(w.T) if contiguous else w.T
                                              for w in (weights.W_hh, weights.W_uh, weights.W_hy))
        self._b_h, self._b_y = weights.b_h, weights.b_y

    def initial_state(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.state_dim))

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        pre = state @ self._hh_t
        if np.any(u):  # the output phase has no input: skip a product per step
            pre += u @ self._uh_t
        if self._b_h is not None:
            pre += self._b_h
        return self._act(pre)

    def readout(self, state: np.ndarray) -> np.ndarray:
        y = state @ self._hy_t
        return y if self._b_y is None else y + self._b_y

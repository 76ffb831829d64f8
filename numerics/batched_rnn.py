"""The compiled training step for K networks of one shape at once: a model axis in every matmul.

Member ``k`` of the group is the network of `numerics.tf_rnn.RawRNN`,

    h_k(t) = act(W_hh[k] h_k(t-1) + W_uh[k] u_k(t)),  h_k(-1) = 0,  y_k(t) = W_hy[k] h_k(t),

trained on its own batch ``u_k`` with its own output-phase length ``H_k``.  The group's inputs
are padded to the longest horizon ``H_max``; the padded steps have ``u = 0`` (exactly what the
output phase feeds anyway) and are masked out of member k's error, so

    MSE_k = sum over (b, t < s + H_k, i) of (y_k - x_k)^2 / (B H_k d),
    e_k(t) = 2 (y_k(t) - x_k(t)) / (B H_k d) for s <= t < s + H_k, else 0.

With ``e_k = 0`` beyond ``s + H_k`` the backward recurrence ``delta_k(t) = (e_k(t) W_hy[k] +
delta_k(t+1) W_hh[k]) * act'(z_k(t))`` is exactly zero there, so the padding adds only exact
zeros to member k's gradients: each member gets the gradient it gets alone, up to float32
summation order.  Then, per member, the update of `RawRNN` (global-norm clip over the member's
three matrices, coupled L2 after the clip, PyTorch's Adam with the member's own step count).

Shapes: weights ``(K, N_h, d)``, ``(K, N_h, N_h)``, ``(K, d, N_h)``; inputs ``(K, B, s + H_max,
d)``; targets ``(K, B, H_max, d)``; per-member ``H``, ``lr``, ``clip``, ``l2`` as ``(K,)``.  The
model axis of the variables is declared ``None``, so `keep` can drop finished members (a
smaller K costs proportionally less) without retracing the step.  Nothing names a device: where
TensorFlow sees a GPU, the same step runs there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emt.numerics.tf_rnn import ADAM_BETA1, ADAM_BETA2, ADAM_EPS
from emt.numerics.weights import RNNWeights

__all__ = ["BatchedRNN", "STATE_NAMES", "check_state_arrays", "step_flops"]

_NAMES = ("W_uh", "W_hh", "W_hy")
# The per-member state, named as `RawRNN.state_arrays` names it, so a member's checkpoint is an
# ordinary single-run checkpoint (and `emt train --resume` can continue it alone).
STATE_NAMES = (*_NAMES, *(f"adam_m_{n}" for n in _NAMES), *(f"adam_v_{n}" for n in _NAMES),
               "adam_step")


def step_flops(n_hidden: int, d: int, s: int, horizon: int, batch: int) -> float:
    """Multiply-add FLOPs (2 per MAC) of one training step of one network at ``horizon``.

    Per time step (T = s + H of them) and batch row: forward ``W_hh h`` (N^2) and ``W_uh u``
    (N d); backward ``delta W_hh`` (N^2) and the ``W_hh`` gradient (N^2), ``W_uh`` gradient
    (N d); per output step the readout, its gradient and the error's back-projection (3 N d).
    The elementwise work (tanh, Adam) is O(N) per row and ignored.
    """
    T = s + horizon
    macs = batch * (T * (3 * n_hidden ** 2 + 2 * n_hidden * d) + horizon * 3 * n_hidden * d)
    return 2.0 * macs


def check_state_arrays(arrays: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]]
                       ) -> None:
    """ValueError naming a missing, mis-shaped or non-finite entry of one member's state."""
    for name in STATE_NAMES:
        if name not in arrays:
            raise ValueError(f"checkpoint is missing {name!r}")
        value = np.asarray(arrays[name])
        if value.shape != shapes[name]:
            raise ValueError(f"checkpoint entry {name!r} has shape {value.shape}; "
                             f"expected {shapes[name]}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"checkpoint entry {name!r} contains NaN or infinite values")


class BatchedRNN:
    """Stacked matrices and Adam state of K same-shape networks, and their compiled step."""

    def __init__(self, weights: Sequence[RNNWeights], s: int) -> None:
        import tensorflow as tf

        if not weights:
            raise ValueError("a group needs at least one network")
        first = weights[0]
        for w in weights:
            if w.has_bias:
                raise ValueError("the training step has no biases; got weights with a bias")
            if (w.activation, w.d_in, w.d_out, w.n_hidden) != (
                    first.activation, first.d_in, first.d_out, first.n_hidden):
                raise ValueError("every network of a group needs the same activation, d and "
                                 "N_h")
        self.tf = tf
        self.s = int(s)
        self.activation = first.activation
        self.d_in, self.d_out, self.n_hidden = first.d_in, first.d_out, first.n_hidden

        def variable(value: np.ndarray, name: str) -> Any:
            shape = tf.TensorShape([None, *value.shape[1:]])
            return tf.Variable(np.asarray(value, np.float32), shape=shape, name=name)

        stacked = {n: np.stack([np.asarray(getattr(w, n), np.float32) for w in weights])
                   for n in _NAMES}
        self.vars = {n: variable(stacked[n], n) for n in _NAMES}
        self.m = {n: variable(np.zeros_like(stacked[n]), f"m_{n}") for n in _NAMES}
        self.v = {n: variable(np.zeros_like(stacked[n]), f"v_{n}") for n in _NAMES}
        self.k = variable(np.zeros(len(weights), np.float32), "adam_step")
        seq = tf.TensorSpec([None, None, None, self.d_in], tf.float32)
        tgt = tf.TensorSpec([None, None, None, self.d_out], tf.float32)
        vec = tf.TensorSpec([None], tf.float32)
        self.train_step = tf.function(
            self._train_step, input_signature=[seq, tgt, tf.TensorSpec([None], tf.int32), vec,
                                               vec, vec])

    @property
    def size(self) -> int:
        """K, the number of members currently in the group."""
        return int(self.tf.shape(self.k)[0])

    # -- the step ---------------------------------------------------------------------------
    def _loss_and_grads(self, u: Any, target: Any, horizons: Any) -> tuple[Any, Any, dict]:
        """Per-member loss and accuracy ``(K,)`` and gradients: the hand-written BPTT of
        `RawRNN._loss_and_grads` with a model axis and the padding mask described above.

        Every product is a batched matmul over the model axis taken inside the two time loops
        (rows are batch entries, ``(K, B, .)`` per step):

            forward,  t = 0..T-1:  h(t) = act(h(t-1) W_hh^T + u(t) W_uh^T),  y(t) = h(t) W_hy^T
            backward, t = T-1..0:  delta(t) = (e(t) W_hy + delta(t+1) W_hh) * act'(h(t))
                                   dW_hh += delta(t+1)^T h(t),  dW_uh += delta(t)^T u(t),
                                   dW_hy += e(t)^T h(t)

        (``delta(T) = 0``, ``e(t) = 0`` for ``t < s``; the ``dW_hh`` sum pairs delta(t+1) with
        h(t), i.e. sum_t delta(t)^T h(t-1) with h(-1) = 0).  Accumulating inside the loops
        keeps every big ``(T, K, B, N_h)`` tensor time-major: contracting it over (t, b) after
        the loop needs a model-major copy, and those transposes made the step 2-4x slower for
        K = 8-32 here; with K networks per product the per-step op overhead that favours the
        after-the-loop contraction for one network is spread over K.
        """
        tf = self.tf
        tanh = self.activation == "tanh"
        W_uh, W_hh, W_hy = (self.vars[n] for n in _NAMES)
        s = self.s
        u_t = tf.transpose(u, [2, 0, 1, 3])  # time-major (T, K, B, d)
        x_t = tf.transpose(target, [2, 0, 1, 3])  # (H_max, K, B, d)
        shape = tf.shape(u)
        h0 = tf.zeros([shape[0], shape[1], tf.shape(W_hh)[1]], dtype=u.dtype)
        y0 = tf.zeros([shape[0], shape[1], self.d_out], dtype=u.dtype)
        act = tf.tanh if tanh else tf.identity

        def forward(carry: Any, u_now: Any) -> Any:
            h = act(tf.matmul(carry[0], W_hh, transpose_b=True)
                    + tf.matmul(u_now, W_uh, transpose_b=True))
            return h, tf.matmul(h, W_hy, transpose_b=True)

        hs, ys = tf.scan(forward, u_t, initializer=(h0, y0))
        y = ys[s:]
        # mask[t, k] = 1 for the member's own output steps t < H_k, 0 on the padding.
        valid = tf.range(tf.shape(x_t)[0])[:, None] < horizons[None, :]
        mask = tf.cast(valid, u.dtype)[:, :, None, None]
        count = tf.cast(horizons * shape[1] * self.d_out, u.dtype)  # B H_k d entries
        err = (y - x_t) * mask
        loss = tf.reduce_sum(tf.square(err), axis=[0, 2, 3]) / count
        hits = tf.cast(tf.equal(y >= 0, x_t >= 0), u.dtype) * mask
        acc = tf.reduce_sum(hits, axis=[0, 2, 3]) / count
        e = tf.concat([tf.zeros_like(ys[:s]), 2.0 * err / count[None, :, None, None]], 0)

        def backward(carry: Any, elem: Any) -> Any:
            d_next, g_hh, g_uh, g_hy = carry
            e_now, h_now, u_now = elem
            back = tf.matmul(e_now, W_hy) + tf.matmul(d_next, W_hh)
            delta = back * (1.0 - tf.square(h_now)) if tanh else back
            return (delta,
                    g_hh + tf.matmul(d_next, h_now, transpose_a=True),
                    g_uh + tf.matmul(delta, u_now, transpose_a=True),
                    g_hy + tf.matmul(e_now, h_now, transpose_a=True))

        zeros = (h0, tf.zeros_like(W_hh), tf.zeros_like(W_uh), tf.zeros_like(W_hy))
        # foldr: the backward loop keeps only its final carry (a scan would stack T copies).
        _, g_hh, g_uh, g_hy = tf.foldr(backward, (e, hs, u_t), initializer=zeros)
        grads = {"W_hh": g_hh, "W_uh": g_uh, "W_hy": g_hy}
        return loss, acc, grads

    def _train_step(self, u: Any, target: Any, horizons: Any, lr: Any, clip: Any,
                    l2: Any) -> tuple[Any, Any]:
        tf = self.tf
        loss, acc, grads = self._loss_and_grads(u, target, horizons)
        # Global norm per member over its three matrices, and the scale exactly as
        # tf.clip_by_global_norm computes it (clip * min(1/norm, 1/clip)).
        sq = tf.add_n([tf.reduce_sum(tf.square(grads[n]), axis=[1, 2]) for n in _NAMES])
        scale = clip * tf.minimum(1.0 / tf.sqrt(sq), 1.0 / clip)
        self.k.assign_add(tf.ones_like(self.k))
        bc1 = (1.0 - tf.pow(ADAM_BETA1, self.k))[:, None, None]
        bc2 = (1.0 - tf.pow(ADAM_BETA2, self.k))[:, None, None]
        for n in _NAMES:
            w = self.vars[n]
            g = grads[n] * scale[:, None, None] + l2[:, None, None] * w  # L2 after the clip
            self.m[n].assign(ADAM_BETA1 * self.m[n] + (1.0 - ADAM_BETA1) * g)
            self.v[n].assign(ADAM_BETA2 * self.v[n] + (1.0 - ADAM_BETA2) * tf.square(g))
            w.assign_sub(lr[:, None, None] * (self.m[n] / bc1)
                         / (tf.sqrt(self.v[n] / bc2) + ADAM_EPS))
        return loss, acc

    # -- members in and out ------------------------------------------------------------------
    def keep(self, positions: Sequence[int]) -> None:
        """Keep only the members at ``positions`` (in that order); the others leave the group
        and stop costing time.  The compiled step is reused (the model axis is ``None``)."""
        idx = np.asarray(list(positions), dtype=np.int64)
        if idx.size == 0:
            raise ValueError("a group needs at least one network")
        if idx.min() < 0 or idx.max() >= self.size or len(set(idx.tolist())) != idx.size:
            raise ValueError(f"positions must be distinct members of 0..{self.size - 1}; "
                             f"got {list(positions)}")
        for var in (*self.vars.values(), *self.m.values(), *self.v.values(), self.k):
            var.assign(var.numpy()[idx])

    def _targets(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.vars)
        out.update({f"adam_m_{n}": self.m[n] for n in _NAMES})
        out.update({f"adam_v_{n}": self.v[n] for n in _NAMES})
        out["adam_step"] = self.k
        return out

    def state_arrays(self, position: int) -> dict[str, np.ndarray]:
        """One member's state, as `RawRNN.state_arrays` names and shapes it (float32, exact)."""
        return {name: var.numpy()[position] for name, var in self._targets().items()}

    def load_state_arrays(self, position: int, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of `state_arrays` for one member; ValueError naming a bad entry."""
        targets = self._targets()
        check_state_arrays(arrays, {n: tuple(v.shape[1:]) for n, v in targets.items()})
        for name, var in targets.items():
            value = var.numpy()
            value[position] = np.asarray(arrays[name], dtype=np.float32)
            var.assign(value)

    def weights(self, position: int, provenance: dict | None = None) -> RNNWeights:
        W_uh, W_hh, W_hy = (self.vars[n].numpy()[position] for n in _NAMES)
        return RNNWeights(W_uh, W_hh, W_hy, activation=self.activation,
                          provenance=dict(provenance or {}))

"""The compiled training step for K networks of one shape at once: a model axis in every matmul.

Member ``k`` of the group is the network of `numerics.step_rnn.RawRNN`,

    h_k(t) = act(W_hh[k] h_k(t-1) + W_uh[k] u_k(t)),  h_k(-1) = 0,  y_k(t) = W_hy[k] h_k(t),

trained on its own batch ``u_k`` with its own output-phase length ``H_k``.  The output phase
feeds ``u = 0`` (the task's definition), so the step takes only the input window and runs every
member for the longest horizon ``H_max``; the steps beyond ``H_k`` are masked out of member k's
error, so

    MSE_k = sum over (b, t < s + H_k, i) of (y_k - x_k)^2 / (B H_k d),
    e_k(t) = 2 (y_k(t) - x_k(t)) / (B H_k d) for s <= t < s + H_k, else 0.

With ``e_k = 0`` beyond ``s + H_k`` the backward recurrence ``delta_k(t) = (e_k(t) W_hy[k] +
delta_k(t+1) W_hh[k]) * act'(z_k(t))`` is exactly zero there, so the padding adds only exact
zeros to member k's gradients: each member gets the gradient it gets alone, up to float32
summation order.  Then, per member, the update of `RawRNN` (global-norm clip over the member's
three matrices, coupled L2 after the clip, PyTorch's Adam with the member's own step count).

Shapes: weights ``(K, N_h, d)``, ``(K, N_h, N_h)``, ``(K, d, N_h)``; input windows ``(K, B, s,
d)``; targets ``(K, B, H_max, d)``; per-member ``H``, ``lr``, ``clip``, ``l2`` as ``(K,)``.  The
model axis of the variables is declared ``None``, so `keep` can drop finished members (a
smaller K costs proportionally less) without retracing the step.  Nothing names a device: where
TensorFlow sees a GPU, the same step runs there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emt.numerics.group_members import StackedMembers
from emt.numerics.weights import RNNWeights

__all__ = ["BatchedRNN", "STATE_NAMES", "step_flops"]

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


class BatchedRNN(StackedMembers):
    """Stacked matrices and Adam state of K same-shape networks, and their compiled step."""

    def __init__(self, weights: Sequence[RNNWeights], s: int) -> None:
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
        self.s = int(s)
        self.activation = first.activation
        self.d_in, self.d_out, self.n_hidden = first.d_in, first.d_out, first.n_hidden
        self._stack([{n: getattr(w, n) for n in _NAMES} for w in weights], self.d_in,
                    self.d_out)

    # -- the step ---------------------------------------------------------------------------
    def _loss_and_grads(self, params: dict[str, Any], window: Any, target: Any,
                        horizons: Any) -> tuple[Any, Any, dict]:
        """Per-member loss and accuracy ``(K,)`` and gradients: the hand-written BPTT of
        `RawRNN._loss_and_grads` with a model axis and the padding mask described above.

        ``window`` holds the input phase ``u(0..s-1)``, ``(K, B, s, d)``; the output phase's
        inputs are zero by the task's definition, so they are not passed.  Every product is a
        batched matmul over the model axis taken inside the time loops (rows are batch entries,
        ``(K, B, .)`` per step):

            forward:   h(t) = act(h(t-1) W_hh^T + u(t) W_uh^T)  (u = 0 for t >= s),
                       y(t) = h(t) W_hy^T
            backward:  delta(t) = (e(t) W_hy + delta(t+1) W_hh) * act'(h(t)),  delta(T) = 0,
                       dW_hh += delta(t+1)^T h(t),  dW_hy += e(t)^T h(t),
                       dW_uh += delta(t)^T u(t)  (t < s)

        (``e(t) = 0`` for ``t < s`` and on padding; the ``dW_hh`` sum pairs delta(t+1) with h(t),
        i.e. sum_t delta(t)^T h(t-1) with h(-1) = 0).  Why this shape: with K networks the
        per-step op overhead is spread over K, while contracting the stacked ``(T, K, B, N_h)``
        tensors after the loop needs model-major copies (2-4x slower for K = 8-32 here), and the
        readout's thin products (inner or outer size d) cost as much as the big ones when taken
        alone, so in the output phase they ride along in the big products by concatenation:
        ``h(t-1) [W_hh; W_hy]^T`` gives z(t) and y(t-1); ``[e(t), delta(t+1)] [W_hy; W_hh]``
        the back-projection; ``[delta(t+1), e(t)]^T h(t)`` both gradient terms.
        """
        tf = self.tf
        tanh = self.activation == "tanh"
        W_uh, W_hh, W_hy = (params[n] for n in _NAMES)
        N = self.n_hidden  # static, so slices keep their shapes inside the loops
        u_t = tf.transpose(window, [2, 0, 1, 3])  # time-major (s, K, B, d)
        x_t = tf.transpose(target, [2, 0, 1, 3])  # (H_max, K, B, d)
        shape = tf.shape(window)
        h0 = tf.zeros([shape[0], shape[1], N], dtype=window.dtype)
        act = tf.tanh if tanh else tf.identity
        # Input phase (s steps) and output phase (H_max steps, no input).
        hs_in = tf.scan(lambda h, u_now: act(tf.matmul(h, W_hh, transpose_b=True)
                                             + tf.matmul(u_now, W_uh, transpose_b=True)),
                        u_t, initializer=h0)
        W_out = tf.concat([W_hh, W_hy], axis=1)  # (K, N + d, N)

        def forward(carry: Any, _: Any) -> Any:
            zy = tf.matmul(carry[0], W_out, transpose_b=True)  # [z(t), y(t-1)]
            return act(zy[..., :N]), zy[..., N:]

        hs_out, ys_prev = tf.scan(forward, x_t, initializer=(hs_in[-1], tf.zeros_like(x_t[0])))
        y = tf.concat([ys_prev[1:], tf.matmul(hs_out[-1:], W_hy, transpose_b=True)], 0)
        # mask[t, k] = 1 for the member's own output steps t < H_k, 0 on the padding.
        valid = tf.range(tf.shape(x_t)[0])[:, None] < horizons[None, :]
        mask = tf.cast(valid, window.dtype)[:, :, None, None]
        count = tf.cast(horizons * shape[1] * self.d_out, window.dtype)  # B H_k d entries
        err = (y - x_t) * mask
        loss = tf.reduce_sum(tf.square(err), axis=[0, 2, 3]) / count
        hits = tf.cast(tf.equal(y >= 0, x_t >= 0), window.dtype) * mask
        acc = tf.reduce_sum(hits, axis=[0, 2, 3]) / count
        e = 2.0 * err / count[None, :, None, None]
        W_back = tf.concat([W_hy, W_hh], axis=1)  # (K, d + N, N)

        def backward_out(carry: Any, elem: Any) -> Any:
            d_next, g = carry
            e_now, h_now = elem
            back = tf.matmul(tf.concat([e_now, d_next], -1), W_back)
            delta = back * (1.0 - tf.square(h_now)) if tanh else back
            return delta, g + tf.matmul(tf.concat([d_next, e_now], -1), h_now, transpose_a=True)

        def backward_in(carry: Any, elem: Any) -> Any:
            d_next, g_hh, g_uh = carry
            h_now, u_now = elem
            back = tf.matmul(d_next, W_hh)
            delta = back * (1.0 - tf.square(h_now)) if tanh else back
            return (delta, g_hh + tf.matmul(d_next, h_now, transpose_a=True),
                    g_uh + tf.matmul(delta, u_now, transpose_a=True))

        # foldr: the backward loops keep only their final carry (a scan would stack T copies).
        g0 = tf.zeros([shape[0], N + self.d_out, N], dtype=window.dtype)
        d_s, g = tf.foldr(backward_out, (e, hs_out), initializer=(h0, g0))
        _, g_hh, g_uh = tf.foldr(backward_in, (hs_in, u_t),
                                 initializer=(d_s, g[:, :N], tf.zeros_like(W_uh)))
        return loss, acc, {"W_uh": g_uh, "W_hh": g_hh, "W_hy": g[:, N:]}

    # -- members out ---------------------------------------------------------------------------
    def weights(self, position: int, provenance: dict | None = None) -> RNNWeights:
        W_uh, W_hh, W_hy = (self.member_params(position)[n] for n in _NAMES)
        return RNNWeights(W_uh, W_hh, W_hy, activation=self.activation,
                          provenance=dict(provenance or {}))

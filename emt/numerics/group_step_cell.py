"""The compiled training step for K LSTM, GRU or LRU networks of one shape at once.

Member ``k`` of the group is the network of `numerics.step_cell.CellNet` (the cell equations of
`numerics.cell_models`, float32, rows are batch entries) with its own parameters, trained on its own
batch with its own output-phase length ``H_k``.  Every parameter carries a leading model axis
and every product contracts inside one model slice (``einsum`` / batched ``matmul`` over ``k``),
so member k's outputs depend on member k's parameters only.  As in
`numerics.group_step_rnn.BatchedRNN`, the output phase feeds ``u = 0`` (the task's definition):
the step takes the input window, runs every member for the longest horizon ``H_max`` and masks
the steps beyond ``H_k`` out of member k's error,

    MSE_k = sum over (b, t < s + H_k, i) of (y_k - x_k)^2 / (B H_k d),

and differentiates ``sum_k MSE_k`` with ``tf.GradientTape`` (no hand-written BPTT for three
cells).  Member k's parameters enter only ``MSE_k``, so their gradient is ``dMSE_k``; the
masked error's derivative is an exact zero on the padding, which the backward scan carries as
exact zeros, so the padding adds only zeros to member k's gradients: each member gets the
gradient it gets alone, up to float32 summation order.  Then, per member, the update of
`CellNet`: global-norm clip over the member's own parameters, coupled L2 after the clip,
PyTorch's Adam with the member's own step count.

Shapes: each parameter ``(K, ...)`` (the shapes of `numerics.cell_models.init_cell_params`), input
windows ``(K, B, s, d)``, targets ``(K, B, H_max, d)``, per-member ``H``, ``lr``, ``clip``,
``l2`` as ``(K,)``.  The model axis of the variables is declared ``None``, so `keep` drops
finished members without retracing the step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emt.numerics.cell_models import CELLS, CellWeights, cell_weights_from_params
from emt.numerics.group_members import StackedMembers

__all__ = ["BatchedCellNet"]


class BatchedCellNet(StackedMembers):
    """Stacked parameters and Adam state of K same-shape cells, and their compiled step."""

    def __init__(self, cell: str, params: Sequence[dict[str, np.ndarray]], s: int) -> None:
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")
        if not params:
            raise ValueError("a group needs at least one network")
        names = tuple(params[0])
        for p in params:
            if tuple(p) != names or any(np.shape(p[n]) != np.shape(params[0][n])
                                        for n in names):
                raise ValueError("every network of a group needs the same parameter shapes")
        self.cell, self.s = cell, int(s)
        first = params[0]
        self.d_in = int(first["B_re" if cell == "lru" else "W_ih"].shape[1])
        self.d_out = int(first["C_re" if cell == "lru" else "W_hy"].shape[0])
        self._stack(params, self.d_in, self.d_out)

    # -- the model ------------------------------------------------------------------------------
    def _hidden(self, p: dict[str, Any], u_t: Any) -> Any:
        """The readout ``y(t)`` of the members with parameters ``p`` for ``u_t`` of shape
        ``(T, K, B, d_in)``, time-major ``(T, K, B, d_out)``: `CellNet._forward` with the model
        axis in every product."""
        tf = self.tf
        shape = tf.shape(u_t)
        if self.cell == "lru":
            mod = tf.exp(-tf.exp(p["nu_log"]))  # (K, N)
            phase = tf.exp(p["theta_log"])
            lr_, li = (mod * tf.cos(phase))[:, None], (mod * tf.sin(phase))[:, None]
            gamma = tf.exp(p["gamma_log"])[:, :, None]
            dr = tf.einsum("tkbd,khd->tkbh", u_t, gamma * p["B_re"])
            di = tf.einsum("tkbd,khd->tkbh", u_t, gamma * p["B_im"])
            z = tf.zeros([shape[1], shape[2], tf.shape(mod)[1]], u_t.dtype)
            hr, hi = tf.scan(lambda h, x: (lr_ * h[0] - li * h[1] + x[0],
                                           lr_ * h[1] + li * h[0] + x[1]),
                             (dr, di), initializer=(z, z))
            return (tf.einsum("tkbh,koh->tkbo", hr, p["C_re"])
                    - tf.einsum("tkbh,koh->tkbo", hi, p["C_im"]))
        W_hh = p["W_hh"]  # (K, G N, N)
        drive = tf.einsum("tkbd,kgd->tkbg", u_t, p["W_ih"])
        z = tf.zeros([shape[1], shape[2], tf.shape(W_hh)[2]], u_t.dtype)
        if self.cell == "lstm":
            def lstm(state: Any, x: Any) -> Any:
                h, c = state
                i, f, g, o = tf.split(x + tf.matmul(h, W_hh, transpose_b=True), 4, axis=-1)
                c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
                return tf.sigmoid(o) * tf.tanh(c), c

            hs, _ = tf.scan(lstm, drive, initializer=(z, z))
        else:
            def gru(h: Any, x: Any) -> Any:
                xr, xz, xn = tf.split(x, 3, axis=-1)
                kr, kz, kn = tf.split(tf.matmul(h, W_hh, transpose_b=True), 3, axis=-1)
                r, zg = tf.sigmoid(xr + kr), tf.sigmoid(xz + kz)
                return (1.0 - zg) * tf.tanh(xn + r * kn) + zg * h

            hs = tf.scan(gru, drive, initializer=z)
        return tf.einsum("tkbh,koh->tkbo", hs, p["W_hy"])

    # -- the step -------------------------------------------------------------------------------
    def _loss_and_grads(self, params: dict[str, Any], window: Any, target: Any,
                        horizons: Any) -> tuple[Any, Any, dict[str, Any]]:
        tf = self.tf
        u_in = tf.transpose(window, [2, 0, 1, 3])  # time-major (s, K, B, d)
        x_t = tf.transpose(target, [2, 0, 1, 3])  # (H_max, K, B, d)
        # The output phase's inputs are zero: append H_max zero steps to the window.
        pad = tf.zeros(tf.concat([tf.shape(x_t)[:1], tf.shape(u_in)[1:]], 0), u_in.dtype)
        u_t = tf.concat([u_in, pad], axis=0)
        # mask[t, k] = 1 for the member's own output steps t < H_k, 0 on the padding.
        valid = tf.range(tf.shape(x_t)[0])[:, None] < horizons[None, :]
        mask = tf.cast(valid, window.dtype)[:, :, None, None]
        count = tf.cast(horizons * tf.shape(window)[1] * self.d_out, window.dtype)  # B H_k d
        watched = [params[n] for n in self.names]
        with tf.GradientTape() as tape:
            tape.watch(watched)
            y = self._hidden(params, u_t)[self.s:]
            err = (y - x_t) * mask
            loss = tf.reduce_sum(tf.square(err), axis=[0, 2, 3]) / count
            total = tf.reduce_sum(loss)  # member k's parameters enter loss[k] only
        hits = tf.cast(tf.equal(y >= 0, x_t >= 0), window.dtype) * mask
        acc = tf.reduce_sum(hits, axis=[0, 2, 3]) / count
        return loss, acc, dict(zip(self.names, tape.gradient(total, watched), strict=True))

    # -- members out ---------------------------------------------------------------------------
    def weights(self, position: int, provenance: dict | None = None) -> CellWeights:
        return cell_weights_from_params(
            self.cell, self.member_params(position), provenance)

"""The compiled training step for the LSTM, GRU and LRU cells of `numerics.cell_models`.

The same contract as `numerics.step_rnn.RawRNN` (``train_step``, ``weights``, ``state_arrays``,
``load_state_arrays``), so `numerics.train` drives every cell with one loop: MSE on the output
phase, global-norm clip, coupled L2 after the clip, PyTorch's Adam (written out so that its
state checkpoints exactly).  Gradients come from ``tf.GradientTape`` over a ``tf.scan`` of the
cell equations (the equations of `numerics.cell_models`, in float32, rows are batch entries); the
hand-written BPTT of the Elman step is not worth repeating for three more cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emt.numerics.cell_models import CELLS, cell_weights_from_params
from emt.numerics.step_rnn import adam_update, sign_accuracy_tf
from emt.numerics.tf_quiet import load_tensorflow

__all__ = ["CellNet"]


class CellNet:
    """Trainable parameters, Adam state and the compiled step of one cell (``lstm|gru|lru``)."""

    def __init__(self, cell: str, params: dict[str, np.ndarray], s: int, lr: float, clip: float,
                 l2: float) -> None:
        load_tensorflow()  # first import of TensorFlow: without its start-up lines
        import tensorflow as tf  # seconds to import: only a process that trains pays for it

        if cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")
        self.tf, self.cell, self.s = tf, cell, int(s)
        self.names = tuple(params)
        self.vars = {n: tf.Variable(np.asarray(v, np.float32), name=n)
                     for n, v in params.items()}
        self.m = {n: tf.Variable(tf.zeros_like(self.vars[n]), name=f"m_{n}") for n in self.names}
        self.v = {n: tf.Variable(tf.zeros_like(self.vars[n]), name=f"v_{n}") for n in self.names}
        self.k = tf.Variable(0.0, dtype=tf.float32, name="adam_step")
        self.lr, self.clip, self.l2 = float(lr), float(clip), float(l2)
        d_in = int(params["B_re" if cell == "lru" else "W_ih"].shape[1])
        d_out = int(params["C_re" if cell == "lru" else "W_hy"].shape[0])
        seq = tf.TensorSpec([None, None, d_in], tf.float32)
        tgt = tf.TensorSpec([None, None, d_out], tf.float32)
        self.train_step = tf.function(self._train_step, input_signature=[seq, tgt])
        self.forward = tf.function(self._forward, input_signature=[seq])

    def _forward(self, u: Any) -> Any:
        """``y(0..T-1)``, shape ``(B, T, d_out)``, for ``u`` of shape ``(B, T, d_in)``."""
        tf, p = self.tf, self.vars
        u_t = tf.transpose(u, [1, 0, 2])
        batch = tf.shape(u)[0]
        if self.cell == "lru":
            mod = tf.exp(-tf.exp(p["nu_log"]))
            phase = tf.exp(p["theta_log"])
            lr_, li = mod * tf.cos(phase), mod * tf.sin(phase)
            gamma = tf.exp(p["gamma_log"])[:, None]
            dr = tf.einsum("tbd,hd->tbh", u_t, gamma * p["B_re"])
            di = tf.einsum("tbd,hd->tbh", u_t, gamma * p["B_im"])
            z = tf.zeros([batch, tf.shape(lr_)[0]], u.dtype)
            hr, hi = tf.scan(lambda h, x: (lr_ * h[0] - li * h[1] + x[0],
                                           lr_ * h[1] + li * h[0] + x[1]),
                             (dr, di), initializer=(z, z))
            y = tf.einsum("tbh,oh->bto", hr, p["C_re"]) - tf.einsum("tbh,oh->bto", hi,
                                                                    p["C_im"])
            return y
        W_hh = p["W_hh"]
        n = tf.shape(W_hh)[1]
        drive = tf.einsum("tbd,gd->tbg", u_t, p["W_ih"])
        z = tf.zeros([batch, n], u.dtype)
        if self.cell == "lstm":
            def lstm(state: Any, x: Any) -> Any:
                h, c = state
                i, f, g, o = tf.split(x + tf.matmul(h, W_hh, transpose_b=True), 4, axis=1)
                c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
                return tf.sigmoid(o) * tf.tanh(c), c

            hs, _ = tf.scan(lstm, drive, initializer=(z, z))
        else:
            def gru(h: Any, x: Any) -> Any:
                xr, xz, xn = tf.split(x, 3, axis=1)
                kr, kz, kn = tf.split(tf.matmul(h, W_hh, transpose_b=True), 3, axis=1)
                r, zg = tf.sigmoid(xr + kr), tf.sigmoid(xz + kz)
                return (1.0 - zg) * tf.tanh(xn + r * kn) + zg * h

            hs = tf.scan(gru, drive, initializer=z)
        return tf.einsum("tbh,oh->bto", hs, p["W_hy"])

    def _train_step(self, u: Any, target: Any) -> tuple[Any, Any]:
        tf = self.tf
        with tf.GradientTape() as tape:
            y = self._forward(u)[:, self.s:]
            loss = tf.reduce_mean(tf.square(y - target))
        acc = sign_accuracy_tf(tf, y, target)
        grads = tape.gradient(loss, [self.vars[n] for n in self.names])
        clipped, _ = tf.clip_by_global_norm(grads, self.clip)
        adam_update(tf, self, self.names, clipped)
        return loss, acc

    def weights(self, provenance: dict | None = None) -> Any:
        return cell_weights_from_params(self.cell, {n: self.vars[n].numpy() for n in self.names},
                                        provenance)

    def state_arrays(self) -> dict[str, np.ndarray]:
        out = {n: self.vars[n].numpy() for n in self.names}
        out.update({f"adam_m_{n}": self.m[n].numpy() for n in self.names})
        out.update({f"adam_v_{n}": self.v[n].numpy() for n in self.names})
        out["adam_step"] = np.asarray(self.k.numpy())
        return out

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        targets = dict(self.vars)
        targets.update({f"adam_m_{n}": self.m[n] for n in self.names})
        targets.update({f"adam_v_{n}": self.v[n] for n in self.names})
        targets["adam_step"] = self.k
        for name, var in targets.items():
            if name not in arrays:
                raise ValueError(f"checkpoint is missing {name!r}")
            value = np.asarray(arrays[name])
            if value.shape != tuple(var.shape) or not np.all(np.isfinite(value)):
                raise ValueError(f"checkpoint entry {name!r} has shape {value.shape} or "
                                 f"non-finite values; expected {tuple(var.shape)}")
        for name, var in targets.items():
            var.assign(np.asarray(arrays[name], dtype=np.float32))

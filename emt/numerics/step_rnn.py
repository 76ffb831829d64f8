"""The compiled training step: a hand-written recurrence on ``tf.Variable`` matrices + Adam.

Forward (column vectors, Keras time indexing; the same function as the Keras model of
`numerics.model` and `numerics.simulate.rollout`):

    h(t) = act(W_hh h(t-1) + W_uh u(t)),  h(-1) = 0,  y(t) = W_hy h(t),  t = 0..s+H-1

Loss: ``MSE = mean over (batch, t = s..s+H-1, i) of (y_i(t) - x_i(t))^2`` (output phase only).
Accuracy: the fraction of output-phase entries with ``sign(y) == sign(x)`` (``>= 0`` is ``+``).

Update, in PyTorch's order (``clip_grad_norm_`` then ``Adam(weight_decay=l2).step()``):

    g <- dMSE/dW;  g <- g * min(1, clip / ||g||_global);  g <- g + l2 * W   (coupled L2, AFTER
    the clip, as PyTorch's Adam adds weight_decay * p inside its step);
    m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
    W <- W - lr * (m / (1-b1^k)) / (sqrt(v / (1-b2^k)) + eps)          (PyTorch's Adam, eps 1e-8)

Gradients are hand-written backpropagation through time (see `RawRNN._loss_and_grads`;
about 1.5x faster here than a tape over the scan, and tested against the tape and Keras).
Adam is written out (not ``keras.optimizers.Adam``) so its state is three named tensors per
matrix that a checkpoint can store and restore exactly, and so the update is PyTorch's (Keras
puts eps on the un-debiased ``sqrt(v)``).  The step has one ``input_signature`` with a ``None``
time axis, so it is traced once for every horizon of the curriculum (the recurrence is a
``tf.while_loop`` through ``tf.scan``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emt.numerics.tf_quiet import load_tensorflow
from emt.numerics.weights import RNNWeights

__all__ = ["RawRNN", "ADAM_BETA1", "ADAM_BETA2", "ADAM_EPS"]

# PyTorch's Adam defaults (the paper trains with torch.optim.Adam).
ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8
_NAMES = ("W_uh", "W_hh", "W_hy")


class RawRNN:
    """Trainable matrices, Adam state and the compiled step for one RNN of the paper's form."""

    def __init__(self, weights: RNNWeights, s: int, lr: float, clip: float, l2: float) -> None:
        load_tensorflow()  # first import of TensorFlow: without its start-up lines
        import tensorflow as tf  # seconds to import: only a process that trains pays for it

        if weights.has_bias:
            raise ValueError("the training step has no biases; got weights with a bias")
        self.tf = tf
        self.s = int(s)
        self.activation = weights.activation
        self.d_in, self.d_out = weights.d_in, weights.d_out
        self.vars = {n: tf.Variable(np.asarray(getattr(weights, n), np.float32), name=n)
                     for n in _NAMES}
        self.m = {n: tf.Variable(tf.zeros_like(self.vars[n]), name=f"m_{n}") for n in _NAMES}
        self.v = {n: tf.Variable(tf.zeros_like(self.vars[n]), name=f"v_{n}") for n in _NAMES}
        self.k = tf.Variable(0.0, dtype=tf.float32, name="adam_step")
        self.lr, self.clip, self.l2 = float(lr), float(clip), float(l2)
        seq = tf.TensorSpec([None, None, self.d_in], tf.float32)
        tgt = tf.TensorSpec([None, None, self.d_out], tf.float32)
        self.train_step = tf.function(self._train_step, input_signature=[seq, tgt])
        self.loss_and_grads = tf.function(self._loss_and_grads, input_signature=[seq, tgt])
        self.loss_and_grads_autodiff = tf.function(self._loss_and_grads_autodiff,
                                                   input_signature=[seq, tgt])
        self.forward = tf.function(self._forward, input_signature=[seq])

    # -- the model ----------------------------------------------------------------------------
    def _forward(self, u: Any) -> Any:
        """``y(0..T-1)``, shape ``(B, T, d_out)``, for inputs ``u`` of shape ``(B, T, d_in)``."""
        tf = self.tf
        act = tf.tanh if self.activation == "tanh" else tf.identity
        W_uh, W_hh, W_hy = (self.vars[n] for n in _NAMES)
        # Input drive for all steps in one matmul, time-major for the scan: (T, B, N_h).
        drive = tf.einsum("btd,hd->tbh", u, W_uh)
        h0 = tf.zeros([tf.shape(u)[0], tf.shape(W_hh)[0]], dtype=u.dtype)
        hs = tf.scan(lambda h, x: act(tf.matmul(h, W_hh, transpose_b=True) + x), drive,
                     initializer=h0)
        return tf.einsum("tbh,oh->bto", hs, W_hy)

    def _sign_accuracy(self, y: Any, target: Any) -> Any:
        return sign_accuracy_tf(self.tf, y, target)

    def _loss_acc(self, u: Any, target: Any) -> tuple[Any, Any]:
        tf = self.tf
        y = self._forward(u)[:, self.s:]
        loss = tf.reduce_mean(tf.square(y - target))
        acc = self._sign_accuracy(y, target)
        return loss, acc

    def _loss_and_grads_autodiff(self, u: Any, target: Any) -> tuple[Any, Any, dict]:
        """Loss, accuracy and gradients by ``tf.GradientTape`` (the reference for the tests)."""
        tf = self.tf
        with tf.GradientTape() as tape:
            loss, acc = self._loss_acc(u, target)
        grads = tape.gradient(loss, [self.vars[n] for n in _NAMES])
        return loss, acc, dict(zip(_NAMES, grads, strict=True))

    def _loss_and_grads(self, u: Any, target: Any) -> tuple[Any, Any, dict]:
        """Loss, accuracy and hand-written BPTT gradients (rows are batch entries):

            z(t) = h(t-1) W_hh^T + u(t) W_uh^T,  h(t) = act(z(t)),  y(t) = h(t) W_hy^T
            e(t) = dMSE/dy(t) = 2 (y(t) - x(t)) / (B H d)  for t >= s, else 0
            delta(t) = dMSE/dz(t) = (e(t) W_hy + delta(t+1) W_hh) * act'(z(t)),  delta(T) = 0
            dW_hy = sum_t e(t)^T h(t),  dW_hh = sum_t delta(t)^T h(t-1),  dW_uh = sum_t
            delta(t)^T u(t)

        with ``act'(z) = 1 - h^2`` (tanh) or 1 (linear).  Only the two recurrences are loops;
        the three weight gradients are single contractions over (t, b).  About 1.5x faster than
        differentiating the scan with a tape here (the tape's backward loop also accumulates
        dW_hh step by step); a test holds both, and Keras, to the same gradients.
        """
        tf = self.tf
        tanh = self.activation == "tanh"
        W_uh, W_hh, W_hy = (self.vars[n] for n in _NAMES)
        s = self.s
        u_t = tf.transpose(u, [1, 0, 2])  # time-major (T, B, d)
        h0 = tf.zeros([tf.shape(u)[0], tf.shape(W_hh)[0]], dtype=u.dtype)
        act = tf.tanh if tanh else tf.identity
        hs = tf.scan(lambda h, x: act(tf.matmul(h, W_hh, transpose_b=True) + x),
                     tf.einsum("tbd,hd->tbh", u_t, W_uh), initializer=h0)
        h_out = hs[s:]
        x_t = tf.transpose(target, [1, 0, 2])
        y = tf.einsum("tbh,oh->tbo", h_out, W_hy)
        err = y - x_t
        loss = tf.reduce_mean(tf.square(err))
        acc = self._sign_accuracy(y, x_t)
        e = 2.0 * err / tf.cast(tf.size(err), err.dtype)
        g_h = tf.concat([tf.zeros_like(hs[:s]), tf.einsum("tbo,oh->tbh", e, W_hy)], 0)
        if tanh:
            deltas = tf.scan(lambda dn, ga: (ga[0] + tf.matmul(dn, W_hh)) * ga[1],
                             (g_h, 1.0 - tf.square(hs)), initializer=h0, reverse=True)
        else:
            deltas = tf.scan(lambda dn, g: g + tf.matmul(dn, W_hh), g_h, initializer=h0,
                             reverse=True)
        grads = {"W_uh": tf.einsum("tbi,tbd->id", deltas, u_t),
                 "W_hh": tf.einsum("tbi,tbj->ij", deltas[1:], hs[:-1]),
                 "W_hy": tf.einsum("tbo,tbh->oh", e, h_out)}
        return loss, acc, grads

    def _train_step(self, u: Any, target: Any) -> tuple[Any, Any]:
        tf = self.tf
        loss, acc, grads = self._loss_and_grads(u, target)
        clipped, _ = tf.clip_by_global_norm([grads[n] for n in _NAMES], self.clip)
        adam_update(tf, self, _NAMES, clipped)
        return loss, acc

    # -- state in and out (numpy, for checkpoints) ---------------------------------------------
    def weights(self, provenance: dict | None = None) -> RNNWeights:
        W_uh, W_hh, W_hy = (self.vars[n].numpy() for n in _NAMES)
        return RNNWeights(W_uh, W_hh, W_hy, activation=self.activation,
                          provenance=dict(provenance or {}))

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Every tensor the step depends on, by name (float32, exact)."""
        out = {n: self.vars[n].numpy() for n in _NAMES}
        out.update({f"adam_m_{n}": self.m[n].numpy() for n in _NAMES})
        out.update({f"adam_v_{n}": self.v[n].numpy() for n in _NAMES})
        out["adam_step"] = np.asarray(self.k.numpy())
        return out

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of `state_arrays`; ValueError naming a missing or mis-shaped entry."""
        targets = dict(self.vars)
        targets.update({f"adam_m_{n}": self.m[n] for n in _NAMES})
        targets.update({f"adam_v_{n}": self.v[n] for n in _NAMES})
        targets["adam_step"] = self.k
        for name, var in targets.items():
            if name not in arrays:
                raise ValueError(f"checkpoint is missing {name!r}")
            value = np.asarray(arrays[name])
            if value.shape != tuple(var.shape):
                raise ValueError(f"checkpoint entry {name!r} has shape {value.shape}; "
                                 f"expected {tuple(var.shape)}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"checkpoint entry {name!r} contains NaN or infinite values")
        for name, var in targets.items():
            var.assign(np.asarray(arrays[name], dtype=np.float32))


def sign_accuracy_tf(tf: Any, y: Any, target: Any) -> Any:
    """`numerics.data.sign_accuracy` (``>= 0`` reads as ``+``) inside a compiled step, so the
    curriculum needs no copy of the batch out of TensorFlow; a test holds them equal."""
    return tf.reduce_mean(tf.cast(tf.equal(y >= 0, target >= 0), tf.float32))


def adam_update(tf: Any, state: Any, names: Any, clipped: Any) -> None:
    """One Adam step in PyTorch's form on ``state.vars[name]`` (moments ``state.m``/``state.v``,
    step count ``state.k``, ``state.lr``, ``state.l2``), after the global-norm clip:

        g <- g + l2 w  (coupled L2, after the clip, as torch.optim.Adam(weight_decay=l2))
        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
        w <- w - lr (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)
    """
    state.k.assign_add(1.0)
    bc1 = 1.0 - tf.pow(ADAM_BETA1, state.k)
    bc2 = 1.0 - tf.pow(ADAM_BETA2, state.k)
    for n, g in zip(names, clipped, strict=True):
        w = state.vars[n]
        if state.l2:
            g = g + state.l2 * w  # coupled L2 after the clip (PyTorch's order)
        state.m[n].assign(ADAM_BETA1 * state.m[n] + (1.0 - ADAM_BETA1) * g)
        state.v[n].assign(ADAM_BETA2 * state.v[n] + (1.0 - ADAM_BETA2) * tf.square(g))
        w.assign_sub(state.lr * (state.m[n] / bc1) / (tf.sqrt(state.v[n] / bc2) + ADAM_EPS))

"""K networks' parameters stacked on a leading model axis, with their Adam state: the member
bookkeeping that every group step (`numerics.group_step_rnn`, `numerics.group_step_cell`) shares.

Each parameter ``P`` of member k is the slice ``P[k]`` of one variable whose model axis is
declared ``None``, so `keep` can drop finished members (a smaller K costs proportionally less)
without retracing the compiled step.  A member's state is named as the single-network step
names it (the parameters, ``adam_m_<name>``, ``adam_v_<name>``, ``adam_step``), so a member's
checkpoint is an ordinary single-run checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from emt.numerics.step_rnn import ADAM_BETA1, ADAM_BETA2, ADAM_EPS
from emt.numerics.tf_quiet import load_tensorflow

__all__ = ["StackedMembers", "check_state_arrays"]


def check_state_arrays(arrays: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]]
                       ) -> None:
    """ValueError naming a missing, mis-shaped or non-finite entry of one member's state
    (every entry of ``shapes``, the state's names and one member's shapes)."""
    for name in shapes:
        if name not in arrays:
            raise ValueError(f"checkpoint is missing {name!r}")
        value = np.asarray(arrays[name])
        if value.shape != shapes[name]:
            raise ValueError(f"checkpoint entry {name!r} has shape {value.shape}; "
                             f"expected {shapes[name]}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"checkpoint entry {name!r} contains NaN or infinite values")


class StackedMembers:
    """Stacked parameters (``vars``), Adam moments (``m``, ``v``) and per-member Adam step
    counts (``k``) of K networks, and the compiled step of the subclass's ``_loss_and_grads``:
    ``train_members(index, window, target, horizons, lr, clip, l2)`` updates the members at
    positions ``index`` only (a horizon bucket: `numerics.group` trains members of different
    curriculum stages as separate calls, so none computes steps it does not use), and
    ``train_step(window, target, horizons, lr, clip, l2)`` every member."""

    tf: Any
    names: tuple[str, ...]
    vars: dict[str, Any]
    m: dict[str, Any]
    v: dict[str, Any]
    k: Any
    train_members: Callable[..., Any]

    def _stack(self, params: Sequence[dict[str, np.ndarray]], d_in: int, d_out: int) -> None:
        """Create the variables from each member's parameters (all of one shape) and compile
        the step for windows ``(K', B, s, d_in)`` and targets ``(K', B, H_max, d_out)`` of the
        K' members it trains."""
        load_tensorflow()  # first import of TensorFlow: without its start-up lines
        import tensorflow as tf  # seconds to import: only a process that trains pays for it

        self.tf = tf
        self.names = tuple(params[0])

        def variable(value: np.ndarray, name: str) -> Any:
            shape = tf.TensorShape([None, *value.shape[1:]])
            return tf.Variable(np.asarray(value, np.float32), shape=shape, name=name)

        stacked = {n: np.stack([np.asarray(p[n], np.float32) for p in params])
                   for n in self.names}
        self.vars = {n: variable(stacked[n], n) for n in self.names}
        self.m = {n: variable(np.zeros_like(stacked[n]), f"m_{n}") for n in self.names}
        self.v = {n: variable(np.zeros_like(stacked[n]), f"v_{n}") for n in self.names}
        self.k = variable(np.zeros(len(params), np.float32), "adam_step")
        seq = tf.TensorSpec([None, None, None, d_in], tf.float32)
        tgt = tf.TensorSpec([None, None, None, d_out], tf.float32)
        vec = tf.TensorSpec([None], tf.float32)
        index = tf.TensorSpec([None], tf.int32)
        self.train_members = tf.function(
            self._train_members, input_signature=[index, seq, tgt, index, vec, vec, vec])

    def train_step(self, window: Any, target: Any, horizons: Any, lr: Any, clip: Any,
                   l2: Any) -> tuple[Any, Any]:
        """`train_members` of every member (the windows and targets of all K)."""
        return self.train_members(np.arange(self.size, dtype=np.int32), window, target,
                                  horizons, lr, clip, l2)

    def _loss_and_grads(self, params: dict[str, Any], window: Any, target: Any,
                        horizons: Any) -> tuple[Any, Any, dict[str, Any]]:
        """Per-member loss, accuracy ``(K',)`` and gradients of the members whose parameters
        are ``params`` (``(K', ...)`` each)."""
        raise NotImplementedError

    def _train_members(self, index: Any, window: Any, target: Any, horizons: Any, lr: Any,
                       clip: Any, l2: Any) -> tuple[Any, Any]:
        tf = self.tf
        params = {n: tf.gather(self.vars[n], index) for n in self.names}
        loss, acc, grads = self._loss_and_grads(params, window, target, horizons)
        self._update(index, params, grads, lr, clip, l2)
        return loss, acc

    def _update(self, index: Any, params: dict[str, Any], grads: dict[str, Any], lr: Any,
                clip: Any, l2: Any) -> None:
        """The update of the members at ``index`` (parameters ``params``) from their gradients
        (``(K', ...)`` per parameter), as the single-network step does it: global-norm clip
        over the member's own parameters (the scale exactly as ``tf.clip_by_global_norm``
        computes it, ``clip * min(1/norm, 1/clip)``), coupled L2 added after the clip, then
        PyTorch's Adam with the member's own step count.  ``lr``, ``clip``, ``l2``: ``(K',)``.
        Only the rows at ``index`` of the variables are written."""
        tf = self.tf
        rows = index[:, None]

        def per_member(x: Any, like: Any) -> Any:  # (K',) broadcast against a (K', ...) array
            return tf.reshape(x, tf.concat([[-1], tf.ones([like.shape.rank - 1], tf.int32)], 0))

        sq = tf.add_n([tf.reduce_sum(tf.square(grads[n]), axis=list(range(1, grads[n].shape.rank)))
                       for n in self.names])
        scale = clip * tf.minimum(1.0 / tf.sqrt(sq), 1.0 / clip)
        k = tf.gather(self.k, index) + 1.0
        self.k.scatter_nd_update(rows, k)
        bc1 = 1.0 - tf.pow(ADAM_BETA1, k)
        bc2 = 1.0 - tf.pow(ADAM_BETA2, k)
        for n in self.names:
            w = params[n]
            g = grads[n] * per_member(scale, w) + per_member(l2, w) * w  # L2 after the clip
            m = ADAM_BETA1 * tf.gather(self.m[n], index) + (1.0 - ADAM_BETA1) * g
            v = ADAM_BETA2 * tf.gather(self.v[n], index) + (1.0 - ADAM_BETA2) * tf.square(g)
            self.m[n].scatter_nd_update(rows, m)
            self.v[n].scatter_nd_update(rows, v)
            self.vars[n].scatter_nd_update(rows, w - per_member(lr, w) * (m / per_member(bc1, w))
                                           / (tf.sqrt(v / per_member(bc2, w)) + ADAM_EPS))

    @property
    def size(self) -> int:
        """K, the number of members currently in the group."""
        return int(self.tf.shape(self.k)[0])

    def keep(self, positions: Sequence[int]) -> None:
        """Keep only the members at ``positions`` (in that order); the others leave the group
        and stop costing time.  The compiled step is reused (the model axis is ``None``)."""
        idx = np.asarray(list(positions), dtype=np.int64)
        if idx.size == 0:
            raise ValueError("a group needs at least one network")
        if idx.min() < 0 or idx.max() >= self.size or len(set(idx.tolist())) != idx.size:
            raise ValueError(f"positions must be distinct members of 0..{self.size - 1}; "
                             f"got {list(positions)}")
        for var in self._targets().values():
            var.assign(var.numpy()[idx])

    def _targets(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.vars)
        out.update({f"adam_m_{n}": self.m[n] for n in self.names})
        out.update({f"adam_v_{n}": self.v[n] for n in self.names})
        out["adam_step"] = self.k
        return out

    def state_arrays(self, position: int) -> dict[str, np.ndarray]:
        """One member's state, named and shaped as the single-network step's (float32, exact)."""
        return {name: var.numpy()[position] for name, var in self._targets().items()}

    def load_state_arrays(self, position: int, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of `state_arrays` for one member; ValueError naming a bad entry."""
        targets = self._targets()
        check_state_arrays(arrays, {n: tuple(v.shape[1:]) for n, v in targets.items()})
        for name, var in targets.items():
            value = var.numpy()
            value[position] = np.asarray(arrays[name], dtype=np.float32)
            var.assign(value)

    def member_params(self, position: int) -> dict[str, np.ndarray]:
        """Member ``position``'s parameters by name."""
        return {n: self.vars[n].numpy()[position] for n in self.names}

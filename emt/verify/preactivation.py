"""The pre-activation coordinates of an Elman net: the same net seen through ``a`` instead of ``h``.

    h(t) = act(a(t)),   a(t) = W_hh h(t-1) + W_uh u(t) + b_h,   y(t) = W_hy h(t) + b_y

In ``a`` the net is the `Dynamics` ``a(t) = W_hh act(a(t-1)) + W_uh u(t) + b_h``, read out as
``W_hy act(a) + b_y``: the same trajectories, in coordinates where a circuit that runs *before*
the nonlinearity is linear.  A net whose pre-activation follows ``a(t) = g Psi w(t)`` exactly is
an exact circuit even though ``h = tanh(g Psi w)`` is not a linear image of the window, so the
effective claim is judged in both coordinate systems (`verify.effective`).

**Per-unit scale.**  Past tanh's knee (``|a| ~ 1``: ``tanh(1) = 0.76`` of saturation) a unit's
pre-activation magnitude no longer reaches ``h``, yet a least-squares fit weighs each unit by its
variance, so a few deeply saturated units (``|a|`` in the thousands) would decide the R^2 alone
and hide a non-linear code on the rest.  The view therefore uses the coordinates
``a~_i = a_i / c_i`` with ``c_i = max(1, RMS of a_i)`` (`knee_scale`, measured on the driven
output-phase states): a unit inside the knee keeps its scale, a saturated one counts as one
unit-RMS pre-activation.  A diagonal change of coordinates maps an exact circuit ``a = g Psi w``
to the exact circuit ``a~ = C^-1 g Psi w``, so it changes no exact verdict.

Only the Elman cell has a natural pre-activation here: a gated cell's state is a product of
gates and candidates, with no single vector that its state is an elementwise function of, so it
is judged in its state coordinates only (and the report says so).
"""

from __future__ import annotations

import numpy as np

from emt.numerics.dynamics import Dynamics
from emt.numerics.simulate import ElmanDynamics

__all__ = ["PreactivationDynamics", "preactivation_view", "knee_scale", "PREACTIVATION_KNEE"]

PREACTIVATION_KNEE = 1.0  # tanh's knee: beyond |a| ~ 1 a unit saturates (module docstring)
_SATURATED = 1.0 - 1e-12  # |h| beyond this: atanh loses every digit, recompute a by a product


class PreactivationDynamics:
    """An `ElmanDynamics` net in its pre-activation coordinates ``a / scale`` (module
    docstring; ``scale``: one positive number per unit, default 1)."""

    cell = "rnn-preactivation"

    def __init__(self, net: ElmanDynamics, scale: np.ndarray | None = None) -> None:
        w = net.weights
        self.net, self.weights = net, w
        self.d_in, self.d_out, self.state_dim = w.d_in, w.d_out, w.n_hidden
        self.scale = np.ones(w.n_hidden) if scale is None else np.asarray(scale, dtype=float)
        if self.scale.shape != (w.n_hidden,) or not np.all(self.scale > 0):
            raise ValueError(f"pre-activation scale must be {w.n_hidden} positive numbers")
        self._hh_t, self._uh_t, self._b_h = w.W_hh.T, w.W_uh.T, w.b_h

    def scaled(self, scale: np.ndarray) -> PreactivationDynamics:
        """The same net in the coordinates ``a / scale``."""
        return PreactivationDynamics(self.net, scale)

    def initial_state(self, batch: int) -> np.ndarray:
        """``a(-1)``: the pre-activation of ``h(-1) = 0`` (``act(0) = 0`` for tanh)."""
        return np.zeros((batch, self.state_dim))

    def activate(self, state: np.ndarray) -> np.ndarray:
        """``h = tanh(scale * state)``."""
        return np.tanh(state * self.scale)

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        pre = self.activate(state) @ self._hh_t
        if np.any(u):
            pre += u @ self._uh_t
        if self._b_h is not None:
            pre += self._b_h
        return pre / self.scale

    def readout(self, state: np.ndarray) -> np.ndarray:
        return self.net.readout(self.activate(state))

    def of_states(self, h: np.ndarray) -> np.ndarray:
        """``a`` from ``h = tanh(a)`` along output-phase runs (``B x T x N``, zero input):
        ``atanh``, except where a unit is saturated past float64's resolution, where the
        product ``W_hh h(t-1) (+ b_h)`` of the previous step is used (at ``t > 0``)."""
        with np.errstate(all="ignore"):
            a = np.arctanh(np.clip(h, -_SATURATED, _SATURATED))
        saturated = np.abs(h[:, 1:]) > _SATURATED
        if np.any(saturated):
            exact = h[:, :-1] @ self._hh_t + (0.0 if self._b_h is None else self._b_h)
            a[:, 1:] = np.where(saturated, exact, a[:, 1:])
        return a / self.scale


def knee_scale(a: np.ndarray) -> np.ndarray:
    """``c_i = max(PREACTIVATION_KNEE, RMS of a_i)`` over every row of ``a`` (``... x N``,
    unscaled pre-activations; module docstring); a unit that is not finite keeps 1."""
    with np.errstate(all="ignore"):
        rms = np.sqrt(np.mean(np.reshape(a, (-1, a.shape[-1])) ** 2, axis=0))
    return np.where(np.isfinite(rms), np.maximum(rms, PREACTIVATION_KNEE), 1.0)


def preactivation_view(model: Dynamics) -> tuple[PreactivationDynamics | None, str]:
    """The model in pre-activation coordinates, or ``None`` with the reason there are none."""
    if not isinstance(model, ElmanDynamics):
        return None, (f"a {getattr(model, 'cell', 'model')} cell has no natural pre-activation "
                      "(its state is not an elementwise function of one vector): judged in its "
                      "state coordinates only")
    if model.weights.activation == "linear":
        return None, "linear activation: the pre-activation is the state itself (a = h)"
    if model.weights.activation != "tanh":
        return None, f"activation {model.weights.activation}: no pre-activation view"
    return PreactivationDynamics(model), ""

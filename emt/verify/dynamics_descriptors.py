"""Descriptors of a recurrent model's dynamics that never gate a verdict: the tanh gain on its
states and the top Lyapunov exponents along its trajectories.  Both see the model only through
`numerics.dynamics.Dynamics`.

* Gain: for an Elman tanh cell the state is a tanh output, so the slope of the activation at the
  state is ``1 - x^2``; its mean over states says how much the nonlinearity compresses what
  ``W_hh`` stretches, and the fraction of unit-samples with ``|x| > SATURATION`` says whether
  that is gradual compression or hard saturation.  For other cells ``1 - x^2`` is not a slope of
  anything, so the descriptor is absent and a note says why.
* Lyapunov exponents: ``lambda_i = lim (1/T) log sigma_i(J(T-1) ... J(0))`` along a trajectory,
  with ``J(t)`` the Jacobian of ``step(., 0)`` at ``x(t)``.  Jacobian-vector products come from
  central differences (``(step(x + e v) - step(x - e v)) / 2e``, error ``O(e^2)``), so any model
  works; a QR re-orthonormalisation each step keeps the ``k`` directions apart.  The estimate is
  finite-time: after a burn-in of ``burn_in`` steps it averages ``steps`` steps, and a
  non-orthogonal embedding biases it by up to ``log(cond) / steps``.
"""

from __future__ import annotations

import numpy as np

from emt.numerics.dynamics import Dynamics

__all__ = ["SATURATION", "FD_STEP", "gain_descriptors", "lyapunov_exponents"]

SATURATION = 0.9  # |x| above which a tanh unit counts as compressed (gain below 0.19)
FD_STEP = 1e-6  # central-difference step, relative to max(1, ||x||): error O(FD_STEP^2)
_LOG_FLOOR = -700.0  # log of a vanishing stretch factor (a locally constant step)


def _activation(model: Dynamics) -> str | None:
    act = getattr(model, "activation", None)
    if act is None:  # numerics.simulate.ElmanDynamics keeps it on its weights
        act = getattr(getattr(model, "weights", None), "activation", None)
    return act if isinstance(act, str) else None


def gain_descriptors(model: Dynamics, states: np.ndarray) -> tuple[dict[str, float], str]:
    """``({"mean_gain", "saturated_fraction"}, "")`` over ``states`` (any shape ending in the
    state size) for an Elman tanh cell; otherwise what applies and a note saying why."""
    act, cell = _activation(model), getattr(model, "cell", "?")
    if not np.all(np.isfinite(states)):
        return {}, "states not finite"
    if cell == "rnn" and act == "tanh":  # states in (-1, 1): nothing to overflow
        return ({"mean_gain": float(np.mean(1.0 - states**2)),
                 "saturated_fraction": float(np.mean(np.abs(states) > SATURATION))}, "")
    if cell == "rnn" and act == "linear":
        return {"mean_gain": 1.0}, "linear Elman cell: the gain is 1 everywhere, nothing saturates"
    return {}, (f"cell {cell!r} (activation {act!r}): 1 - x^2 is the slope of the step only "
                "when the state is a tanh output (an Elman tanh cell)")


def lyapunov_exponents(model: Dynamics, start: np.ndarray, count: int, rng: np.random.Generator,
                       steps: int = 50, burn_in: int = 10) -> np.ndarray:
    """The top ``count`` exponents (descending; natural log per step) of the zero-input map,
    averaged over the trajectories that start at the rows of ``start`` (``B x state_dim``);
    all NaN when a trajectory, a probe or a stretch factor overflows (states near float64's
    range: the difference quotients are then NaN or infinite, and no exponent can be estimated;
    they must not be read as vanishing stretches, which would report the -700 floor)."""
    B, D = start.shape
    k = min(count, D)
    x = np.asarray(start, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        return np.full(k, np.nan)
    V = np.linalg.qr(rng.standard_normal((B, D, k)))[0]
    total = np.zeros((B, k))
    zeros = np.zeros((B * (2 * k + 1), model.d_in))
    with np.errstate(all="ignore"):  # an overflowing model is reported as NaN, not warned
        for step in range(burn_in + steps):
            eps = FD_STEP * np.maximum(1.0, np.linalg.norm(x, axis=1))  # (B,)
            probes = eps[:, None, None] * np.swapaxes(V, 1, 2)  # (B, k, D)
            batch = np.concatenate([x[:, None], x[:, None] + probes, x[:, None] - probes],
                                   axis=1).reshape(-1, D)
            out = model.step(batch, zeros).reshape(B, 2 * k + 1, D)
            JV = (out[:, 1:k + 1] - out[:, k + 1:]) / (2 * eps[:, None, None])
            if not np.all(np.isfinite(JV)):
                return np.full(k, np.nan)
            Q, R = np.linalg.qr(np.swapaxes(JV, 1, 2))
            stretch = np.abs(np.diagonal(R, axis1=1, axis2=2))
            if step >= burn_in:
                total += np.maximum(np.log(np.where(stretch > 0, stretch, 0.0)), _LOG_FLOOR)
            V, x = Q, out[:, 0]
            if not np.all(np.isfinite(x)):
                return np.full(k, np.nan)
    return np.sort(total.mean(axis=0) / steps)[::-1]

"""Linear-side descriptors: numbers that explain a verdict and never decide one.

* ``matched_modulus_{min,mean,max}``: ``|lambda|`` of W_hh's eigenvalues matched to Phi's
  memory modes (unit gain predicts 1 for signed-copy tasks; a tanh net that compensates with its
  gain ``1 - h^2 < 1`` has them above 1);
* ``cond_psi.{input,output,output-pinv}``: 2-norm condition number of the recovered Psi under
  each grounding (a badly conditioned Psi amplifies every error of Phi_hat and of the loaded
  state, so a failure under one grounding may be the grounding's, not the net's);
* ``state_angle_{max,mean}_deg``: principal angles between W_hh's dominant invariant subspace
  (its ``r`` largest-modulus eigenvalues, ``r`` = Phi's nonzero count) and the span of the
  top ``r`` principal directions of the driven hidden states.  The linear claim puts the states
  in that invariant subspace (angles 0); an effective circuit may embed them elsewhere.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import subspace_angles

from emt.verify.basis import GROUNDINGS, _dominant_subspace, privileged_basis

__all__ = ["matched_moduli", "psi_conditions", "state_subspace_angles", "linear_descriptors"]


def matched_moduli(trained_modes: np.ndarray) -> dict[str, float]:
    """min/mean/max of ``|lambda|`` over W_hh's matched memory modes (zeros when none)."""
    m = np.abs(np.asarray(trained_modes).reshape(-1))
    if m.size == 0:
        return {"matched_modulus_min": 0.0, "matched_modulus_mean": 0.0,
                "matched_modulus_max": 0.0}
    return {"matched_modulus_min": float(m.min()), "matched_modulus_mean": float(m.mean()),
            "matched_modulus_max": float(m.max())}


def psi_conditions(weights, task) -> dict[str, float]:
    """cond(Psi) for every grounding (``inf`` -- reported as the largest float -- when the
    basis cannot be built, e.g. overflowing powers)."""
    out = {}
    for ground in GROUNDINGS:
        try:
            out[f"cond_psi.{ground}"] = float(privileged_basis(weights, task, ground).condition)
        except ValueError:
            out[f"cond_psi.{ground}"] = float("inf")
    return out


def state_subspace_angles(w_hh: np.ndarray, states: np.ndarray, r: int) -> dict[str, float]:
    """Principal angles (degrees) between W_hh's dominant ``r``-dimensional invariant subspace
    and the top-``r`` left singular subspace of ``states`` (``samples x N_h``, centred on 0: the
    circuit is linear, not affine).  Empty when ``r`` is 0 or the states have rank below ``r``.
    """
    states = np.asarray(states, dtype=np.float64).reshape(-1, w_hh.shape[0])
    n = w_hh.shape[0]
    if r <= 0 or r > n or states.shape[0] < r:
        return {}
    if r == n:
        return {"state_angle_max_deg": 0.0, "state_angle_mean_deg": 0.0}
    V = _dominant_subspace(w_hh, r, np.random.default_rng(0).standard_normal((n, r)))
    U = np.linalg.svd(states.T, full_matrices=False)[0][:, :r]
    angles = np.degrees(subspace_angles(V, U))
    return {"state_angle_max_deg": float(np.max(angles)),
            "state_angle_mean_deg": float(np.mean(angles))}


def linear_descriptors(ctx) -> dict[str, float]:
    """All of the above for a `verify.checks.Context` (uses its driven states and spectrum)."""
    c = ctx.spectral
    out = matched_moduli(c.trained[[q for _, q in c.matching]])
    out.update(psi_conditions(ctx.weights, ctx.task))
    ctx.driven  # noqa: B018  -- computes ctx.driven_h
    states = ctx.driven_h[:, ctx.task.s - 1:]  # output phase: every slot is live
    out.update(state_subspace_angles(ctx.weights.W_hh, states, c.n_theory))
    return out

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
  in that invariant subspace (angles 0); an effective circuit may embed them elsewhere.  Absent
  when W_hh's spectrum has no clear gap (`verify.spectra.count_modes`): then it has no dominant
  subspace of that size to compare with.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigh, subspace_angles
from scipy.sparse.linalg import svds

from emt.verify.basis import GROUNDINGS, privileged_basis

__all__ = ["matched_moduli", "psi_conditions", "state_subspace_angles", "linear_descriptors"]


def matched_moduli(trained_modes: np.ndarray) -> dict[str, float]:
    """min/mean/max of ``|lambda|`` over W_hh's matched memory modes (zeros when none)."""
    m = np.abs(np.asarray(trained_modes).reshape(-1))
    if m.size == 0:
        return {"matched_modulus_min": 0.0, "matched_modulus_mean": 0.0,
                "matched_modulus_max": 0.0}
    return {"matched_modulus_min": float(m.min()), "matched_modulus_mean": float(m.mean()),
            "matched_modulus_max": float(m.max())}


def psi_conditions(weights, task, known=None) -> dict[str, float]:
    """cond(Psi) for every grounding (``inf`` -- reported as null -- when the basis cannot be
    built, e.g. overflowing powers).  ``known``: a `PrivilegedBasis` already built for these
    weights; it is reused, and so is its W_hh projector (which no grounding changes)."""
    out = {}
    projector = None if known is None else known.w_projector
    for ground in GROUNDINGS:
        if known is not None and known.grounding == ground:
            out[f"cond_psi.{ground}"] = float(known.condition)
            continue
        try:
            basis = privileged_basis(weights, task, ground, w_projector=projector)
            out[f"cond_psi.{ground}"] = float(basis.condition)
        except ValueError:
            out[f"cond_psi.{ground}"] = float("inf")
    return out


ANGLE_SUBSPACE_TOL = 1e-6  # relative residual: angles to ~1e-4 degrees, all a descriptor needs
ANGLE_SUBSPACE_MAX_ITER = 60  # at the smallest clear gap (ratio 1.5), 1.5^-35 < 1e-6


def _invariant_subspace(A: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Orthonormal basis of A's dominant invariant subspace by subspace iteration, stopped at
    the descriptor's accuracy (`ANGLE_SUBSPACE_TOL`), not at rounding level."""
    V = np.linalg.qr(start)[0]
    for step in range(ANGLE_SUBSPACE_MAX_ITER):
        AV = A @ V
        if step % 4 == 0 and np.linalg.norm(AV - V @ (V.T @ AV)) <= \
                ANGLE_SUBSPACE_TOL * max(float(np.linalg.norm(AV)), 1e-300):
            break
        V = np.linalg.qr(AV)[0]
    return V


def state_subspace_angles(w_hh: np.ndarray, states: np.ndarray, r: int,
                          projector: np.ndarray | None = None) -> dict[str, float]:
    """Principal angles (degrees) between W_hh's dominant ``r``-dimensional invariant subspace
    and the top-``r`` principal subspace of ``states`` (``samples x N_h``, not centred: the
    circuit is linear, not affine).  ``projector``: W_hh's spectral projector onto that
    subspace when already known (`verify.basis.PrivilegedBasis.w_projector`), which saves the
    subspace iteration.  Empty when ``r`` is 0 or there are fewer samples than ``r``."""
    states = np.asarray(states, dtype=np.float64).reshape(-1, w_hh.shape[0])
    n = w_hh.shape[0]
    if r <= 0 or r > n or states.shape[0] < r:
        return {}
    if r == n:
        return {"state_angle_max_deg": 0.0, "state_angle_mean_deg": 0.0}
    start = np.random.default_rng(0).standard_normal((n, r))
    V = (np.linalg.qr(projector @ start)[0] if projector is not None
         else _invariant_subspace(w_hh, start))
    # the states' principal subspace: top-r right singular vectors, by Lanczos when r is well
    # below the matrix size (a few products with the states instead of the N x N Gram
    # matrix and its eigendecomposition: 3.4 GFLOP at N_h = 1024), else the Gram matrix
    if 3 * r < min(states.shape):
        v0 = np.random.default_rng(0).standard_normal(min(states.shape))  # deterministic
        U = svds(states, k=r, v0=v0, tol=1e-10)[2].T
    else:
        U = eigh(states.T @ states, subset_by_index=[n - r, n - 1])[1]
    angles = np.degrees(subspace_angles(V, U))
    return {"state_angle_max_deg": float(np.max(angles)),
            "state_angle_mean_deg": float(np.mean(angles))}


def linear_descriptors(ctx) -> dict[str, float]:
    """All of the above for a `verify.checks.Context` (uses its driven states and spectrum)."""
    c = ctx.spectral
    out = matched_moduli(c.trained[[q for _, q in c.matching]])
    out.update(psi_conditions(ctx.weights, ctx.task, known=ctx.basis))
    ctx.driven  # noqa: B018  -- computes ctx.driven_h
    states = ctx.driven_h[:, ctx.task.s - 1:]  # output phase: every slot is live
    if ctx.basis.w_projector is None and c.count_rule != "gap":
        return out  # no clear spectral gap: W_hh has no dominant subspace to compare with
    out.update(state_subspace_angles(ctx.weights.W_hh, states, c.n_theory,
                                     projector=ctx.basis.w_projector))
    return out

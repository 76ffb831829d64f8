"""The linear claim for a diagonal complex linear recurrence (LRU: ``h(t) = Lambda h(t-1) +
B u(t)``, ``y = Re(C h)``), a linear time-invariant system, and what explains its verdicts.

* ``linear.solvable`` (the theorem): an LTI system started at ``h = 0`` responds to each input
  through its lag alone, so it cannot solve a task that `theory.solvability.
  is_linearly_solvable` rejects.
* ``linear.lru_spectrum``: the trained LRU's Markov parameters ``Re(C Lambda^(k+1) B)``,
  reduced by Ho-Kalman to the task's minimal order
  (`theory.cell_linearisation.ho_kalman_spectrum`), against
  the eigenvalues of the exact minimal realisation of the task's kernel, matched one to one; the
  bound is never above half the smallest gap between distinct predicted eigenvalues.  An LRU
  with no such reduction (no impulse response, or one that overflows) fails it.
* ``lru_mode_distance`` (descriptor, `lru_mode_descriptors`): how far its own modes sit from
  the predicted spectrum, weighted by their share of the state.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment

from emt.numerics.cell_models import CellWeights
from emt.theory.cell_linearisation import ho_kalman_spectrum, minimal_realisation
from emt.theory.solvability import is_linearly_solvable
from emt.theory.taskspec import TaskSpec
from emt.verify.checks import CheckResult, finite

__all__ = ["lru_linear_checks", "lru_mode_descriptors", "distinct_gap", "LRU_MARKOV_LAGS"]

# Markov parameters used for the LRU's Ho-Kalman reduction: 2 L + 1 lags with L = s d + 2 block
# rows, a little beyond the s d that reach the full rank of any realisable task.
LRU_MARKOV_LAGS = 2


def lru_linear_checks(weights: CellWeights, task: TaskSpec, tols: Mapping[str, float],
                      subject: str) -> tuple[list[CheckResult], dict[str, float]]:
    """``linear.solvable`` and ``linear.lru_spectrum`` (module docstring) of an LRU, and its
    descriptors ``lru_max_modulus`` and ``lru_mode_distance``."""
    verdict = is_linearly_solvable(task)
    checks = [CheckResult("linear.solvable", subject, 1.0 if verdict.solvable else 0.0, 1.0,
                          ">=", verdict.solvable,
                          "task linearly solvable" if verdict.solvable else
                          f"an LTI system cannot solve this task: {verdict.reason}")]
    if not verdict.solvable:
        checks.append(CheckResult("linear.lru_spectrum", subject, None,
                                  tols["linear.lru_spectrum"], "<=", None,
                                  "skipped: no LTI realisation of the task exists"))
        return checks, {}
    real = minimal_realisation(task)
    lam = weights.lam
    B = weights.arrays["B_re"] + 1j * weights.arrays["B_im"]
    C = weights.arrays["C_re"] + 1j * weights.arrays["C_im"]
    L = task.n_slots + LRU_MARKOV_LAGS
    pred = real.eigenvalues
    # as for spectrum.phase: never above half the smallest distance between distinct predicted
    # eigenvalues, or an eigenvalue matched to the wrong neighbour could pass
    tol = min(tols["linear.lru_spectrum"], distinct_gap(pred) / 2)
    with np.errstate(all="ignore"):  # an exploding LRU is judged, not warned about
        markov = [np.real((C * lam ** (k + 1)) @ B) for k in range(2 * L + 1)]
        descriptors = {"lru_max_modulus": float(np.max(np.abs(lam))),
                       **lru_mode_descriptors(lam, B, pred, task.s)}
    try:
        if not all(np.all(np.isfinite(m)) for m in markov):
            raise ValueError(f"its impulse response overflows within {2 * L + 1} lags (max "
                             f"|lambda| {descriptors['lru_max_modulus']:.3g})")
        eig = ho_kalman_spectrum(markov, real.order)
    except (ValueError, np.linalg.LinAlgError) as exc:
        # a model that has no order-n realisation fails the check; it is not bad input
        checks.append(CheckResult(
            "linear.lru_spectrum", subject, finite(float("inf")), tol, "<=", False,
            f"no order-{real.order} Ho-Kalman reduction of the trained LRU: {exc}"))
        return checks, descriptors
    cost = np.abs(eig[:, None] - pred[None, :])
    rows, cols = linear_sum_assignment(cost)
    err = float(cost[rows, cols].max())
    checks.append(CheckResult(
        "linear.lru_spectrum", subject, finite(err), tol, "<=", bool(err <= tol),
        f"max distance between the {real.order} eigenvalues of the trained LRU's order-"
        f"{real.order} Ho-Kalman reduction and the task's minimal realisation (matched); bound "
        f"min({tols['linear.lru_spectrum']:g}, half the smallest gap between distinct predicted "
        f"eigenvalues)",
        {"max_modulus": finite(float(np.max(np.abs(eig))))}))
    return checks, descriptors


def lru_mode_descriptors(lam: np.ndarray, B: np.ndarray, predicted: np.ndarray,
                         s: int) -> dict[str, float]:
    """How far the LRU's own modes sit from the predicted spectrum (a descriptor: it explains an
    effective-claim verdict, never gates one).

    ``lru_mode_distance``: the mean over the modes of the diagonal ``Lambda`` of the distance
    from ``lambda_i`` to the nearest predicted eigenvalue or its conjugate (``y = Re(C h)`` lets
    one complex mode serve a conjugate pair), weighted by the mode's expected output-phase state
    power for i.i.d. +-1 inputs: ``||B_i||^2 sum_{k<s} |lambda_i|^(2k)`` after the input phase,
    ``|lambda_i|^(2t)`` of it ``t`` steps later, summed over ``t = 1 .. 2 s`` (the span the
    embedding is fitted on).  The Ho-Kalman reduction judges the input-output map, and a cluster
    of modes around one predicted eigenvalue can realise it over the task's horizon; the state
    holds the modes one by one, and a mode ``delta`` off its eigenvalue drifts by about ``delta``
    per step against the window, so over the fitted ``2 s`` steps the state leaves any fixed
    linear image of the window by about ``2 s delta`` of its size (more over the loaded state's
    ``H`` steps).

    ``lru_mode_radial_share``: the part of that distance that is radial, ``sum power
    ||lambda_i| - |mu_i|| / sum power |lambda_i - mu_i|`` (``mu_i`` the nearest predicted
    eigenvalue): near 1, the modes sit at the predicted phases with a smaller modulus -- the
    memory leaks rather than rotates."""
    mags = np.abs(lam) ** 2
    power = np.sum(np.abs(B) ** 2, axis=1) * np.array(
        [np.sum(m ** np.arange(s)) * np.sum(m ** np.arange(1, 2 * s + 1)) for m in mags])
    gaps = np.minimum(np.abs(lam[:, None] - predicted[None, :]),
                      np.abs(lam[:, None] - np.conj(predicted)[None, :]))
    nearest = predicted[np.argmin(gaps, axis=1)]
    distance = gaps.min(axis=1)
    # the radial part of each mode's distance: ||lambda| - |mu||, a decay (or growth) of the
    # mode's memory, against the angular part, a rotation of it relative to the window
    radial = np.abs(np.abs(lam) - np.abs(nearest))
    total = float(np.sum(power))
    # no state power at all (B = 0): the state holds nothing, and no distance is defined; an
    # exploding LRU (infinite power) has none either
    with np.errstate(all="ignore"):
        value = float(np.sum(power * distance) / total) if total > 0 else float("nan")
        share = float(np.sum(power * radial) / np.sum(power * distance)) \
            if total > 0 and np.sum(power * distance) > 0 else float("nan")
    return {"lru_mode_distance": value if np.isfinite(value) else float("nan"),
            "lru_mode_radial_share": share if np.isfinite(share) else float("nan")}


def distinct_gap(eigenvalues: np.ndarray, same: float = 1e-9) -> float:
    """The smallest distance in the complex plane between two distinct eigenvalues (repeated
    ones, closer than ``same``, count once); ``inf`` when there are fewer than two."""
    ev = np.asarray(eigenvalues, dtype=complex).ravel()
    d = np.abs(ev[:, None] - ev[None, :])
    d = d[d > same]
    return float(d.min()) if d.size else float("inf")

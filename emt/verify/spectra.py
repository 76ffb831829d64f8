"""Comparing the eigenvalues of a trained W_hh with the theory's (docs/science.md).

Two measures:

* ours (`compare_modes`) -- the theory's memory modes are Phi's nonzero eigenvalues, counted
  exactly (``r``); the trained ones are W_hh's eigenvalues above a clear spectral gap
  (`count_modes`), or above the threshold when its spectrum has no clear gap; the two sets are
  matched one to one by an optimal assignment (`scipy.optimize.linear_sum_assignment`) on the
  wrapped angle, and the count mismatch, the phase error and the modulus error are separate
  numbers (never NaN: with no pair to compare the errors are 0 and the count mismatch carries
  the failure).  `phase_bound` caps the phase tolerance at half the smallest angular gap
  between Phi's distinct eigenvalues, so a pairing within the bound is the right pairing;
* the paper's -- ``|lambda| > 0.9`` on both sides, projected to the unit circle, each trained
  eigenvalue greedily matched to the nearest unmatched theory eigenvalue by angle, mean absolute
  angle difference; ``None`` (shown as "---") where the counts differ, as in its Table 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "SpectralComparison",
    "wrapped_angle",
    "above",
    "compare_spectra",
    "paper_metric",
    "PAPER_THRESHOLD",
    "angular_gap",
    "phase_bound",
    "ModeCount",
    "count_modes",
    "compare_modes",
]

PAPER_THRESHOLD = 0.9  # the paper's modulus cut for its metric


def wrapped_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|arg(a) - arg(b)|`` wrapped into ``[0, pi]`` (elementwise, broadcasting)."""
    diff = np.angle(a) - np.angle(b)
    return np.abs((diff + np.pi) % (2 * np.pi) - np.pi)


def above(eigs: np.ndarray, threshold: float) -> np.ndarray:
    """Eigenvalues with ``|lambda| > threshold``, sorted by angle then modulus (deterministic)."""
    eigs = np.asarray(eigs, dtype=np.complex128).reshape(-1)
    kept = eigs[np.abs(eigs) > threshold]
    order = np.lexsort((np.abs(kept), np.round(np.angle(kept), 12)))
    return kept[order]


@dataclass(frozen=True)
class SpectralComparison:
    """Result of `compare_spectra` (all floats finite).

    ``matching[i] = (p, q)``: theory eigenvalue ``theory[p]`` paired with ``trained[q]``.
    """

    threshold: float
    theory: np.ndarray
    trained: np.ndarray
    n_theory: int
    n_trained: int
    count_mismatch: int
    phase_error_max: float
    phase_error_mean: float
    modulus_error_max: float
    modulus_error_mean: float
    matching: tuple[tuple[int, int], ...]
    count_rule: str = "threshold"  # how n_trained was counted: "gap" or "threshold"
    gap_ratio: float = 0.0  # |lambda_n| / |lambda_(n+1)| of W_hh at the counted position
    angular_gap: float = 2 * np.pi  # smallest angle between distinct theory eigenvalues
    phase_bound: float = np.pi  # the phase tolerance actually applied (<= angular_gap / 2)

    def to_json(self) -> dict:
        return {
            "threshold": self.threshold,
            "count_rule": self.count_rule,
            "gap_ratio": self.gap_ratio,
            "angular_gap": self.angular_gap,
            "phase_bound": self.phase_bound,
            "n_theory": self.n_theory,
            "n_trained": self.n_trained,
            "count_mismatch": self.count_mismatch,
            "phase_error_max": self.phase_error_max,
            "phase_error_mean": self.phase_error_mean,
            "modulus_error_max": self.modulus_error_max,
            "modulus_error_mean": self.modulus_error_mean,
        }


def compare_spectra(
    theory_eigs: np.ndarray, trained_eigs: np.ndarray, threshold: float
) -> SpectralComparison:
    """Optimal one-to-one matching of the eigenvalues above ``threshold``.

    Cost of pairing theory ``l`` with trained ``m``: the wrapped angle ``|arg l - arg m|``, with
    ``1e-6 * ||l| - |m||`` added to break ties between equal angles (repeated roots of unity)
    by modulus.  With unequal counts ``min(n, m)`` pairs are formed (a rectangular assignment);
    the unmatched ones are the count mismatch.  Phase error: max and mean wrapped angle over
    pairs (radians); modulus error: max and mean ``||l| - |m||``.
    """
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"spectral threshold must be finite and >= 0; got {threshold!r}")
    t = above(theory_eigs, threshold)
    m = above(trained_eigs, threshold)
    if t.size and m.size:
        angle = wrapped_angle(t[:, None], m[None, :])
        modulus = np.abs(np.abs(t)[:, None] - np.abs(m)[None, :])
        rows, cols = linear_sum_assignment(angle + 1e-6 * modulus)
        phase = angle[rows, cols]
        mod = modulus[rows, cols]
        phase_max, phase_mean = float(phase.max()), float(phase.mean())
        mod_max, mod_mean = float(mod.max()), float(mod.mean())
        pairs = tuple((int(r), int(c)) for r, c in zip(rows, cols, strict=True))
    else:
        phase_max = phase_mean = mod_max = mod_mean = 0.0
        pairs = ()
    return SpectralComparison(
        threshold=float(threshold),
        theory=t,
        trained=m,
        n_theory=int(t.size),
        n_trained=int(m.size),
        count_mismatch=abs(int(t.size) - int(m.size)),
        phase_error_max=phase_max,
        phase_error_mean=phase_mean,
        modulus_error_max=mod_max,
        modulus_error_mean=mod_mean,
        matching=pairs,
    )


def angular_gap(eigs: np.ndarray, zero: float = 1e-9) -> float:
    """Smallest angle (radians, on the circle) between the distinct arguments of the nonzero
    ``eigs`` (``|lambda| > zero * max|lambda|``); ``2 pi`` when there are fewer than two.

    Eigenvalues with equal argument and different modulus are told apart by modulus, not by
    phase, so they share one argument here."""
    eigs = np.asarray(eigs, dtype=np.complex128).reshape(-1)
    if eigs.size == 0:
        return 2 * np.pi
    nonzero = eigs[np.abs(eigs) > zero * max(float(np.max(np.abs(eigs))), 1e-300)]
    angles = np.unique(np.round(np.mod(np.angle(nonzero), 2 * np.pi), 9))
    if angles.size < 2:
        return 2 * np.pi
    steps = np.diff(np.concatenate([angles, [angles[0] + 2 * np.pi]]))
    return float(np.min(steps))


def phase_bound(theory_eigs: np.ndarray, requested: float) -> tuple[float, float]:
    """``(bound, gap)``: the phase tolerance applied, ``min(requested, gap / 2)``, where ``gap``
    is `angular_gap` of the theory eigenvalues.  Within half the gap each trained eigenvalue is
    nearer its own theory eigenvalue than any other, so a matching that passes is the true
    pairing; a looser bound would let a mode sit next to the wrong eigenvalue and pass (T4: gap
    0.090 rad, so at most 0.045)."""
    gap = angular_gap(theory_eigs)
    return min(float(requested), gap / 2), gap


@dataclass(frozen=True)
class ModeCount:
    """`count_modes`: ``n`` memory modes, counted by ``rule`` ("gap" or "threshold");
    ``ratio``: ``|lambda_n| / |lambda_(n+1)|`` at the count (``inf`` when nothing follows)."""

    n: int
    rule: str
    ratio: float


def count_modes(eigs: np.ndarray, floor: float, gap: float) -> ModeCount:
    """How many eigenvalues of a trained W_hh are memory modes.

    Sort the moduli ``m_1 >= m_2 >= ...``.  Over the positions ``k`` with ``m_k > floor`` find
    the largest ratio ``m_k / m_(k+1)``; when it is at least ``gap`` the spectrum has a clear
    gap there and the count is ``k`` ("gap").  Otherwise there is no clear gap and the count is
    ``#{m_k > floor}`` ("threshold").  Positions below ``floor`` are never gap candidates: the
    ratios between tiny bulk eigenvalues are large and mean nothing."""
    m = np.sort(np.abs(np.asarray(eigs, dtype=np.complex128).reshape(-1)))[::-1]
    above_floor = int(np.sum(m > floor))
    if above_floor == 0:
        return ModeCount(0, "threshold", 0.0)
    nxt = np.append(m[1:], 0.0)[:above_floor]
    with np.errstate(divide="ignore", over="ignore"):  # huge moduli: an infinite ratio
        ratios = np.where(nxt > 0, m[:above_floor] / np.maximum(nxt, 1e-300), np.inf)
    k = int(np.argmax(ratios))
    if ratios[k] >= gap:
        return ModeCount(k + 1, "gap", float(ratios[k]))
    return ModeCount(above_floor, "threshold", float(ratios[above_floor - 1]))


def compare_modes(theory_eigs: np.ndarray, n_theory: int, trained_eigs: np.ndarray,
                  threshold: float, gap: float, phase: float) -> SpectralComparison:
    """Compare the memory modes of Phi and of a trained W_hh (module docstring).

    ``n_theory``: Phi's exact number of nonzero eigenvalues (the theory's count; numerically
    computed zero eigenvalues of a defective Phi can sit far from 0).  The theory modes are the
    ``n_theory`` largest-modulus ``theory_eigs``; the trained count comes from `count_modes`
    with ``floor = threshold * min |theory mode|`` (a mode predicted at 0.618, as for
    fibonacci-2, is still a mode) and the ``gap`` ratio; the trained modes are the
    ``n_trained`` largest-modulus eigenvalues of W_hh.  ``phase`` is the requested phase
    tolerance; the comparison records the applied `phase_bound`."""
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"spectral threshold must be finite and >= 0; got {threshold!r}")
    te = np.asarray(theory_eigs, dtype=np.complex128).reshape(-1)
    me = np.asarray(trained_eigs, dtype=np.complex128).reshape(-1)
    t = te[np.argsort(-np.abs(te), kind="stable")[:n_theory]]
    floor = threshold * (float(np.min(np.abs(t))) if t.size else 1.0)
    count = count_modes(me, floor, gap)
    m = me[np.argsort(-np.abs(me), kind="stable")[:count.n]]
    base = compare_spectra(t, m, 0.0)
    bound, agap = phase_bound(t, phase)
    return SpectralComparison(
        threshold=float(threshold), theory=base.theory, trained=base.trained,
        n_theory=base.n_theory, n_trained=base.n_trained,
        count_mismatch=base.count_mismatch, phase_error_max=base.phase_error_max,
        phase_error_mean=base.phase_error_mean, modulus_error_max=base.modulus_error_max,
        modulus_error_mean=base.modulus_error_mean, matching=base.matching,
        count_rule=count.rule, gap_ratio=count.ratio, angular_gap=agap, phase_bound=bound)


def paper_metric(
    theory_eigs: np.ndarray, trained_eigs: np.ndarray, threshold: float = PAPER_THRESHOLD
) -> float | None:
    """The paper's spectral error: mean absolute angle difference (radians) after a greedy
    nearest-unmatched matching by angle of the unit-circle projections of the eigenvalues with
    ``|lambda| > threshold``; ``None`` when the two counts differ (the paper's "---").

    The trained eigenvalues are visited in order of increasing angle (the paper visits them in
    solver order, which is arbitrary; any fixed order gives the same result when the spectra
    agree).  Two empty lists give 0.0.
    """
    t = above(theory_eigs, threshold)
    m = above(trained_eigs, threshold)
    if t.size != m.size:
        return None
    if t.size == 0:
        return 0.0
    t_unit = t / np.abs(t)
    m_unit = m / np.abs(m)
    free = np.ones(t.size, dtype=bool)
    errors = []
    for mu in m_unit:
        angles = np.where(free, wrapped_angle(t_unit, mu), np.inf)
        j = int(np.argmin(angles))
        free[j] = False
        errors.append(angles[j])
    return float(np.mean(errors))

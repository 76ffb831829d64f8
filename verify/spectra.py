"""Comparing the eigenvalues of a trained W_hh with the theory's (docs/science.md).

Two measures:

* ours -- keep eigenvalues with ``|lambda| > threshold`` on each side, match them one to one by
  an optimal assignment (`scipy.optimize.linear_sum_assignment`) on the wrapped angle, and report
  the count mismatch, the phase error and the modulus error as separate numbers (never NaN:
  with no pair to compare the errors are 0 and the count mismatch carries the failure);
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

    def to_json(self) -> dict:
        return {
            "threshold": self.threshold,
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

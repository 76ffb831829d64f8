"""Percentile bootstrap intervals over windows (sequences) for the figures that decide a verdict.

Every verdict-deciding number of the effective checks and of ``generalisation``/``readout`` is
a function of per-sequence sums (residual and total sums of squares, correct-sign counts,
correlation moments).  Resampling the sequences with replacement and recomputing the number from
the resampled sums gives its sampling distribution over windows without refitting the model's
rollouts; fitted quantities (the embedding ``A``, the readout's gain) are held at their values
(the interval covers the scoring's variation over windows, not the fit's; documented in
docs/tolerances.md).  ``RESAMPLES`` resamples, seeded, percentile interval at ``LEVEL``.

A check whose interval straddles its bar is *inconclusive* (`verify.checks.CheckResult`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["RESAMPLES", "LEVEL", "resample_weights", "interval", "ratio_interval"]

RESAMPLES = 200  # enough for a 95% percentile interval's ends to within about 1% of its width
LEVEL = 0.95
_TAG = 8200  # the bootstrap's own random stream, SeedSequence([seed, _TAG, stream])


def resample_weights(n: int, seed: int, stream: int) -> np.ndarray:
    """``RESAMPLES x n`` counts: how often each of ``n`` sequences is drawn in each resample
    (multinomial, i.e. drawing ``n`` with replacement); a resampled sum is ``counts @ values``."""
    if n < 1:
        return np.ones((RESAMPLES, 0))
    rng = np.random.default_rng(np.random.SeedSequence([seed, _TAG, stream]))
    return rng.multinomial(n, np.full(n, 1.0 / n), size=RESAMPLES).astype(np.float64)


def interval(samples: np.ndarray) -> tuple[float, float]:
    """The percentile interval at ``LEVEL`` of bootstrap ``samples`` (non-finite read as such:
    an infinite sample widens the interval to infinity)."""
    samples = np.asarray(samples, dtype=np.float64).ravel()
    if samples.size == 0:
        return 0.0, 0.0
    samples = np.where(np.isnan(samples), np.inf, samples)
    lo, hi = np.percentile(samples, [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return float(lo), float(hi)


def ratio_interval(per_unit: np.ndarray, seed: int, stream: int,
                   statistic: Callable[[np.ndarray], np.ndarray]) -> tuple[float, float]:
    """Interval of ``statistic(resampled sums)``: ``per_unit`` is ``n x k`` (k per-sequence
    sums), ``statistic`` maps ``RESAMPLES x k`` resampled sums to ``RESAMPLES`` values."""
    per_unit = np.asarray(per_unit, dtype=np.float64)
    counts = resample_weights(per_unit.shape[0], seed, stream)
    with np.errstate(all="ignore"):
        return interval(statistic(counts @ per_unit))

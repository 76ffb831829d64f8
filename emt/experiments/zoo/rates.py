"""Error rates of verifier bars over zoo members, with Wilson 95% intervals.

For one bar (a check, or a claim) and a group of members with a known answer:

* false-positive rate on nulls: the fraction of nulls the bar accepts (check passed / claim
  holds), ``k / n`` over the nulls on which the bar gave a verdict;
* false-negative rate on positives: the fraction of positives the bar rejects.

A skipped check (or a verdict that is neither pass nor fail, e.g. "inconclusive") gives no
verdict: it is counted apart (``no_verdict``), never as a hit or a miss.  The Wilson score
interval (z = 1.96) stays inside [0, 1] and is honest at ``k = 0`` and small ``n``, where the
normal approximation is not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["wilson", "Z95", "bar_rates", "verdict_of"]

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for ``k`` successes in ``n`` trials; ``(0, 1)`` when n = 0."""
    if n < 0 or not 0 <= k <= max(n, 0):
        raise ValueError(f"need 0 <= k <= n; got k = {k}, n = {n}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def verdict_of(result: Mapping) -> bool | None:
    """``True`` (accepts), ``False`` (rejects) or ``None`` (no verdict) from one member's entry
    for a bar: ``{"accepts": bool | None}``."""
    v = result.get("accepts")
    return v if isinstance(v, bool) else None


def _rate(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "rate": (k / n) if n else None, "ci95": [lo, hi]}


def bar_rates(positives: Iterable[Mapping], nulls: Iterable[Mapping]) -> dict:
    """``{"fn": rate on positives, "fp": rate on nulls, "no_verdict": {...}}`` for one bar
    from its per-member results (`verdict_of`)."""
    pos = [verdict_of(r) for r in positives]
    nul = [verdict_of(r) for r in nulls]
    pos_judged = [v for v in pos if v is not None]
    nul_judged = [v for v in nul if v is not None]
    return {"fn": _rate(sum(not v for v in pos_judged), len(pos_judged)),
            "fp": _rate(sum(nul_judged), len(nul_judged)),
            "no_verdict": {"positives": len(pos) - len(pos_judged),
                           "nulls": len(nul) - len(nul_judged)}}

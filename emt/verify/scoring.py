"""What every check returns (`CheckResult`, with its bootstrap interval and the inconclusive
status) and the scoring rules the checks share: the sign accuracy with a zero band, per-sequence
accuracies and the readout's sign margin at a fitted positive gain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from emt.numerics.data import sign_accuracy
from emt.verify.bootstrap import ratio_interval

__all__ = ["CheckResult", "judged", "clears", "finite", "decided_sign_accuracy", "ZERO_BAND",
           "per_sequence_accuracy", "accuracy_interval", "readout_margin", "slot_correlation"]

_BIG = float(np.finfo(np.float64).max)

ZERO_BAND = 1e-9  # relative band around 0 where float noise, not the network, decides a sign


def decided_sign_accuracy(y: np.ndarray, target: np.ndarray) -> float:
    """`numerics.data.sign_accuracy` with ``zero_band = ZERO_BAND``: an output within
    ``ZERO_BAND * max(1, |target|)`` of zero earns no credit for a nonzero target, so an exactly
    cancelling linear net (e.g. the circuit driven on a task it cannot solve) is not scored by
    the sign of its rounding error.  For trained tanh nets, whose outputs sit near +-1, it
    equals the paper's accuracy."""
    return sign_accuracy(y, target, zero_band=ZERO_BAND)


def finite(x: float) -> float:
    """``x`` as a float, with NaN/inf replaced by the largest float (reports never hold NaN)."""
    x = float(x)
    return x if np.isfinite(x) else (-_BIG if x == -np.inf else _BIG)


def clears(value: float, tolerance: float, comparator: str) -> bool:
    """Whether ``value`` is on the passing side of ``tolerance`` (``">="`` or ``"<="``)."""
    return value >= tolerance if comparator == ">=" else value <= tolerance


@dataclass(frozen=True)
class CheckResult:
    """One check.  ``passed`` is ``None`` when skipped (then ``value`` is ``None`` and ``detail``
    says why); ``comparator`` is ``"<="`` or ``">="`` (value against tolerance); ``metrics``
    holds secondary numbers (all finite); ``interval`` the value's bootstrap interval over
    windows (`verify.bootstrap`), when it has one.

    Status: ``skip``; ``inconclusive`` when the interval straddles the bar (one end passes, the
    other does not: the data do not decide; ``passed`` is then ``False``, so nothing reads it
    as a pass); otherwise ``pass``/``fail`` from ``passed``."""

    name: str
    subject: str
    value: float | None
    tolerance: float
    comparator: str
    passed: bool | None
    detail: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    interval: tuple[float, float] | None = None

    @property
    def inconclusive(self) -> bool:
        if self.passed is None or self.interval is None:
            return False
        lo, hi = self.interval
        return clears(lo, self.tolerance, self.comparator) != \
            clears(hi, self.tolerance, self.comparator)

    @property
    def failed(self) -> bool:
        """A decided failure (not skipped, not inconclusive)."""
        return self.passed is False and not self.inconclusive

    @property
    def status(self) -> str:
        if self.passed is None:
            return "skip"
        if self.inconclusive:
            return "inconclusive"
        return "pass" if self.passed else "fail"

    def to_json(self) -> dict:
        return {"name": self.name, "subject": self.subject, "status": self.status,
                "value": self.value, "interval": None if self.interval is None else
                [finite(self.interval[0]), finite(self.interval[1])],
                "tolerance": self.tolerance, "comparator": self.comparator,
                "passed": self.passed, "detail": self.detail, "metrics": dict(self.metrics)}


def judged(name: str, subject: str, value: float, tolerance: float, comparator: str,
           detail: str = "", metrics: Mapping[str, float] | None = None,
           interval: tuple[float, float] | None = None, passed: bool | None = None
           ) -> CheckResult:
    """A `CheckResult` with finite numbers; ``passed`` defaults to the value against the bar
    and is ``False`` whenever the interval straddles the bar (inconclusive)."""
    value = finite(value)
    ok = clears(value, tolerance, comparator) if passed is None else bool(passed)
    clean = {k: finite(v) for k, v in (metrics or {}).items()}
    span = None if interval is None else (finite(interval[0]), finite(interval[1]))
    result = CheckResult(name, subject, value, float(tolerance), comparator, ok, detail, clean,
                         span)
    if result.inconclusive and ok:
        result = CheckResult(name, subject, value, float(tolerance), comparator, False, detail,
                             clean, span)
    return result


def per_sequence_accuracy(y: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`decided_sign_accuracy` of each sequence (leading axis) on its own: the units the
    bootstrap resamples."""
    return np.array([decided_sign_accuracy(y[i], target[i]) for i in range(len(y))])


def accuracy_interval(per_seq: np.ndarray, seed: int, stream: int) -> tuple[float, float]:
    """Bootstrap interval of the mean of per-sequence accuracies (equal-length sequences)."""
    return ratio_interval(per_seq[:, None], seed, stream, lambda sums: sums[:, 0] / len(per_seq))


def readout_margin(y: np.ndarray, target: np.ndarray, margin: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(gain, per-sequence fraction)``: ``gain[j]`` is the least-squares positive gain of
    output ``j`` on its target (``y_j ~ c_j x_j``); an entry with a nonzero target counts when
    ``y_j x_j / (c_j x_j^2) > margin`` (the output, read at the net's own gain, is on the
    target's side and past ``margin`` of the way to it).  A dimension whose gain is not
    positive counts no entry (its outputs do not follow the target's sign)."""
    axes = tuple(range(y.ndim - 1))
    with np.errstate(all="ignore"):
        gain = np.sum(y * target, axis=axes) / np.sum(target**2, axis=axes)
        gain = np.where(np.isfinite(gain), gain, 0.0)
        decided = target != 0
        ratio = y * target / (np.where(gain > 0, gain, 1.0) * np.where(decided, target**2, 1.0))
        ok = decided & (gain > 0) & (ratio > margin) & np.isfinite(ratio)
    n = np.maximum(decided.reshape(len(y), -1).sum(axis=1), 1)
    return gain, ok.reshape(len(y), -1).sum(axis=1) / n


def slot_correlation(truth: np.ndarray, decoded: np.ndarray, seed: int, stream: int
                     ) -> tuple[float, tuple[float, float], int, float]:
    """``(min, interval, live, mean)``: the smallest over live slots (those whose ``truth``
    varies) of the correlation between ``truth`` and ``decoded`` (``B x T x n``: sequences,
    steps, slots), its bootstrap interval over sequences (from per-sequence moment sums), the
    number of live slots and the mean correlation over them."""
    n = truth.shape[-1]
    live = np.std(truth.reshape(-1, n), axis=0) > 1e-9
    a, b = truth[..., live], decoded[..., live]
    k, count = int(live.sum()), a.shape[0] * a.shape[1]
    per = np.concatenate([np.sum(v, axis=1) for v in (a, b, a * a, b * b, a * b)], axis=1)

    def corr(s: np.ndarray) -> np.ndarray:  # resampled moment sums -> correlations per slot
        sa, sb, saa, sbb, sab = (s[:, i * k:(i + 1) * k] for i in range(5))
        cov = sab - sa * sb / count
        den = np.sqrt(np.maximum(saa - sa**2 / count, 0) * np.maximum(sbb - sb**2 / count, 0))
        c = np.where(den > 0, cov / np.where(den > 0, den, 1.0), 0.0)
        return np.where(np.isfinite(c), c, 0.0)

    if k == 0:
        return 0.0, (0.0, 0.0), 0, 0.0
    with np.errstate(all="ignore"):
        point = corr(per.sum(axis=0)[None])[0]
        span = ratio_interval(per, seed, stream, lambda s: corr(s).min(axis=1))
    return float(point.min()), span, k, float(point.mean())

"""Where each check's values fall on positives and nulls, and what a bar read off the
calibration split would do on the test split.

For a check with comparator ``>=`` (``<=`` mirrored) the *data bar* is the worst value any
calibration positive reached (its minimum): the loosest bar that keeps the false-negative rate
on calibration positives at zero.  The harness reports it next to the current bar, with the
false-negative rate on test positives and the false-positive rate on test nulls it would give.
It is a measurement for whoever sets the bars, never applied here; with a dozen calibration
positives it is an optimistic bar (the next positive can fall below it).  It reads the check's
headline value only: a check whose verdict also weighs another number (``effective.loaded_state``
fails on its state-tracking error as well as its accuracy) is described by it only in part.
"""

from __future__ import annotations

from emt.experiments.zoo.members import label
from emt.experiments.zoo.rates import bar_rates

__all__ = ["data_bars"]


def _value(m: dict, name: str) -> float | None:
    v = m.get("bars", {}).get(name, {}).get("value")
    return float(v) if isinstance(v, int | float) else None


def _one(name: str, judged: list[dict]) -> dict | None:
    comparator = judged[0]["bars"][name]["comparator"]
    worst = min if comparator == ">=" else max
    best = max if comparator == ">=" else min
    cal_pos = [v for m in judged if m["split"] == "calibration" and label(m, name) == "positive"
               if (v := _value(m, name)) is not None]
    if not cal_pos:
        return None
    bar = worst(cal_pos)
    hard = [v for m in judged if label(m, name) == "null" and m["accuracy"] >= 0.95
            if (v := _value(m, name)) is not None]

    def verdict(m: dict) -> dict:
        v = _value(m, name)
        if v is None:
            return {"accepts": None}
        return {"accepts": v >= bar if comparator == ">=" else v <= bar}

    test = [m for m in judged if m["split"] == "test"]
    rates = bar_rates([verdict(m) for m in test if label(m, name) == "positive"],
                      [verdict(m) for m in test if label(m, name) == "null"])
    return {"comparator": comparator, "current": judged[0]["bars"][name]["tolerance"],
            "data_bar": bar, "best_solving_null": best(hard) if hard else None, "test": rates}


def data_bars(members: list[dict]) -> dict:
    """``{check: {comparator, current, data_bar, best_solving_null, test}}`` for every check
    with a numeric value on at least one calibration positive (`calibrate` members)."""
    checks = sorted({b for m in members for b, v in m.get("bars", {}).items()
                     if v.get("comparator") in (">=", "<=")})
    out = {}
    for name in checks:
        one = _one(name, [m for m in members if name in m.get("bars", {})])
        if one is not None:
            out[name] = one
    return out

"""Aggregate sweep records into the paper's Table 1 and place ours beside theirs.

The rule, as the authors' notebook computes it (``np.mean(df.groupby('seed')['spectral_error']
.min())`` per (task, N_h, L2) cell, and the same with ``max`` for accuracy):

1. Each run has the paper's greedy spectral error (NaN when the numbers of ``|lambda| > 0.9``
   eigenvalues of ``W_hh`` and ``Phi`` differ) and its test accuracy at ``H = 200``.
2. Per seed, over that seed's runs (the curriculum thresholds): the best (minimum) spectral
   error, skipping NaN -- so a seed is NaN only when *every* one of its runs has mismatched
   counts -- and the best (maximum) accuracy.
3. Per cell, the mean over seeds.  ``np.mean`` of a pandas Series dispatches to
   ``Series.mean``, which skips NaN, so the paper's mean runs over the seeds that have a
   spectral error, and a cell is "---" only when *no* seed has any run with matching counts.
   We reproduce exactly that, and report beside it how many seeds contributed
   (``n_spectral``), so a mean over 1 of 20 seeds is visible as such.

Beside the paper's metric we report our own (optimal matching, never NaN: the matched phase
error, with count mismatch separate), the spread over seeds, and for each check of the verify
report the fraction of seeds with at least one run passing it (over the seeds where it ran; a
skipped check is neither a pass nor a fail).  Failed or unfinished jobs are
left out of every mean and counted (``n_failed``).

Both claims of the verify report (schema ``emt.report/3``): per cell, the fraction of seeds for
which the effective claim holds and for which the linear claim holds (a seed holds a claim when
any of its runs does; None for records written before the claims existed), and the mean over
seeds of the descriptors that explain them (`DESCRIPTORS`: mean gain ``1 - h^2``, fraction of
``|h| > 0.9``, W_hh's matched ``|lambda|``, the top Lyapunov exponent, ``cond(Psi)`` of the
default grounding) -- each seed's value from its most accurate run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from emt.experiments.sweep_record import read_sweep_record

__all__ = [
    "PAPER_TABLE1",
    "run_row",
    "aggregate_rows",
    "aggregate_records",
    "format_cell",
    "table1_markdown",
    "claims_markdown",
    "DESCRIPTORS",
]

# descriptor key in the report -> column heading (explain a verdict, never decide one)
DESCRIPTORS: dict[str, str] = {
    "mean_gain": "mean gain 1-h^2",
    "saturated_fraction": "frac. abs(h)>0.9",
    "matched_modulus_min": "min matched abs(lambda)",
    "matched_modulus_max": "max matched abs(lambda)",
    "lyapunov_1": "top Lyapunov exp.",
    "cond_psi.output": "cond(Psi) output",
    "cond_psi.input": "cond(Psi) input",
}

# The paper's Table 1: (task, N_h, L2) -> (mean best spectral error in rad or None for
# "---", mean best accuracy at H = 200).  The paper's L2 = 0.1 column: every task at 0.50, "---".
PAPER_TABLE1: dict[tuple[str, int, float], tuple[float | None, float]] = {
    ("T1", 64, 0.0): (None, 0.97), ("T1", 64, 1e-3): (None, 0.88),
    ("T1", 128, 0.0): (0.0005, 1.00), ("T1", 128, 1e-3): (None, 0.93),
    ("T2", 64, 0.0): (0.0075, 1.00), ("T2", 64, 1e-3): (None, 0.85),
    ("T2", 128, 0.0): (0.0055, 0.98), ("T2", 128, 1e-3): (0.0031, 0.98),
    ("T3", 64, 0.0): (0.0026, 1.00), ("T3", 64, 1e-3): (0.0010, 0.97),
    ("T3", 128, 0.0): (0.0031, 0.98), ("T3", 128, 1e-3): (0.0005, 1.00),
    ("T4", 64, 0.0): (0.0112, 0.94), ("T4", 64, 1e-3): (0.0011, 1.00),
    ("T4", 128, 0.0): (0.0022, 1.00), ("T4", 128, 1e-3): (0.0006, 1.00),
}
for _t in ("T1", "T2", "T3", "T4"):
    for _h in (64, 128):
        PAPER_TABLE1[(_t, _h, 0.1)] = (None, 0.50)

def _num(value: float | None) -> float:
    """A float, with None (JSON null) as NaN."""
    return math.nan if value is None else float(value)


def run_row(record: dict[str, Any]) -> dict[str, Any]:
    """One flat row per job record: grid coordinates, outcome, and the metrics we aggregate.

    Fields are read by name from the validated record (`experiments.sweep_record`): the accuracy
    is the verify report's ``accuracy_h200``, never the training metrics, and a "done" record
    without a verify summary is refused.  A job with no record yet (``status`` "missing") gives
    a row with no numbers."""
    job = record.get("job", {})
    task = job.get("task", {})
    row: dict[str, Any] = {
        "key": record.get("key"),
        "task": task.get("name") or f"s{task.get('s')}d{task.get('d')}",
        "hidden": job.get("hidden"), "l2": job.get("l2"), "threshold": job.get("threshold"),
        "seed": job.get("seed"), "status": record.get("status", "missing"),
        "accuracy": math.nan, "paper_error": math.nan, "matched_error": math.nan,
        "modulus_error": math.nan, "count_trained": None, "count_theory": None, "checks": {},
        "claims": {}, "descriptors": {},
    }
    if row["status"] == "missing":
        return row
    rec = read_sweep_record(record, f"sweep record {record.get('key')}")
    if rec.verify is None:
        if rec.status == "done":
            raise ValueError(f"sweep record {rec.key}: done but has no verify summary, so it "
                             "has no accuracy at H = 200 to aggregate")
        return row
    m = rec.verify.metrics
    spec = m.spectrum
    if spec is None:  # sweeps train Elman RNNs, whose reports always carry the spectrum
        raise ValueError(f"sweep record {rec.key}: its verify summary has no spectral metrics")
    row.update(accuracy=m.accuracy_h200, paper_error=_num(spec.paper_metric),
               matched_error=spec.phase_error_mean, modulus_error=spec.modulus_error_mean,
               count_trained=spec.n_trained, count_theory=spec.n_theory,
               checks=dict(rec.verify.checks), claims=dict(rec.verify.claims or {}),
               descriptors={k: _num(v) for k, v in (rec.verify.descriptors or {}).items()
                            if not isinstance(v, dict)})  # objects (regime, ...) not averaged
    return row


def _stats(values: list[float]) -> dict[str, float | None]:
    """Mean, sample standard deviation, min and max of the finite values (None if none)."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return {"mean": None, "std": None, "min": None, "max": None}
    arr = np.array(finite, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            "min": float(arr.min()), "max": float(arr.max())}


def _nanmin(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return min(finite) if finite else math.nan


def _nanmax(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return max(finite) if finite else math.nan


def aggregate_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cells of Table 1 from flat run rows (see the module docstring for the rule).

    Each cell: task, hidden, l2, seeds, n_runs, n_failed, spectral (paper rule: mean over seeds
    of each seed's best NaN-skipping paper error; None = "---"), n_spectral, spectral_stats,
    accuracy (mean over seeds of each seed's best accuracy), accuracy_stats, matched (our
    optimal-matching phase error, same per-seed-best rule), modulus (mean ||lambda| - |mu|| over
    the same matching, same rule; the paper's metric projects onto the unit circle and cannot
    see it), check_pass_rate, paper values.
    """
    cells: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["task"], row["hidden"], row["l2"]), []).append(row)
    out = []
    for (task, hidden, l2), cell_rows in sorted(cells.items(), key=lambda kv: (
            str(kv[0][0]), kv[0][1], kv[0][2])):
        ok = [r for r in cell_rows if r["status"] == "done"]
        seeds = sorted({r["seed"] for r in ok})
        best_paper, best_acc, best_matched, best_modulus = [], [], [], []
        check_names = sorted({name for r in ok for name in r["checks"]})
        passes = {name: 0 for name in check_names}
        applicable = {name: 0 for name in check_names}
        all_pass = 0
        claim_holds: dict[str, list[bool]] = {"effective": [], "linear": []}
        seed_descriptors: dict[str, list[float]] = {k: [] for k in DESCRIPTORS}
        for seed in seeds:
            runs = [r for r in ok if r["seed"] == seed]
            for claim, held in claim_holds.items():
                known = [r.get("claims", {})[claim] for r in runs
                         if r.get("claims", {}).get(claim) is not None]
                if known:
                    held.append(any(known))
            best = max(runs, key=lambda r: -1.0 if math.isnan(r["accuracy"]) else r["accuracy"])
            for key, values in seed_descriptors.items():
                values.append(best.get("descriptors", {}).get(key, math.nan))
            best_paper.append(_nanmin([r["paper_error"] for r in runs]))
            best_acc.append(_nanmax([r["accuracy"] for r in runs]))
            best_matched.append(_nanmin([r["matched_error"] for r in runs]))
            best_modulus.append(_nanmin([r["modulus_error"] for r in runs]))
            for name in check_names:
                passes[name] += any(r["checks"].get(name) is True for r in runs)
                applicable[name] += any(r["checks"].get(name) is not None for r in runs)
            all_pass += any(any(v is not None for v in r["checks"].values())
                            and all(v is not False for v in r["checks"].values()) for r in runs)
        spectral = _stats(best_paper)
        accuracy = _stats(best_acc)
        paper_key: Any = (str(task), hidden, float(l2) if l2 is not None else l2)
        paper = PAPER_TABLE1.get(paper_key)
        n = len(seeds)
        out.append({
            "task": task, "hidden": hidden, "l2": l2, "seeds": seeds,
            "n_runs": len(ok), "n_failed": len(cell_rows) - len(ok),
            "spectral": spectral["mean"],
            "n_spectral": sum(not math.isnan(v) for v in best_paper),
            "spectral_stats": spectral,
            "accuracy": accuracy["mean"], "accuracy_stats": accuracy,
            "matched": _stats(best_matched)["mean"], "matched_stats": _stats(best_matched),
            "modulus": _stats(best_modulus)["mean"],
            "check_pass_rate": {name: passes[name] / applicable[name] if applicable[name]
                                else None for name in check_names},
            "all_checks_pass_rate": all_pass / n if n else None,
            "claim_rate": {claim: (sum(held) / len(held) if held else None)
                           for claim, held in claim_holds.items()},
            "claim_seeds": {claim: len(held) for claim, held in claim_holds.items()},
            "descriptors": {key: _stats(values) for key, values in seed_descriptors.items()},
            "paper_spectral": paper[0] if paper else None,
            "paper_accuracy": paper[1] if paper else None,
            "in_paper": paper is not None,
        })
    return out


def aggregate_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """`aggregate_rows` over `run_row` of each record."""
    return aggregate_rows([run_row(r) for r in records])


def format_cell(spectral: float | None, accuracy: float | None) -> str:
    """The paper's cell format: ``0.0005 (1.00)``, or ``--- (0.97)`` without a spectral error."""
    left = "---" if spectral is None else f"{spectral:.4f}"
    right = "" if accuracy is None else f" ({accuracy:.2f})"
    return left + right


def _fmt(value: float | None, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)


def _rate(rate: float | None, n: int) -> str:
    return "n/a" if rate is None else f"{round(rate * n)}/{n}"


def claims_markdown(cells: list[dict[str, Any]]) -> str:
    """Markdown: per cell, how many seeds hold each claim, and the descriptors (mean over
    seeds, min..max) that explain the verdicts."""
    lines = ["| task | N_h | L2 | effective claim holds (seeds) | linear claim holds (seeds) | "
             + " | ".join(DESCRIPTORS.values()) + " |",
             "|---" * (5 + len(DESCRIPTORS)) + "|"]
    for c in cells:
        rates = c.get("claim_rate") or {}
        counts = c.get("claim_seeds") or {}
        cols = []
        for key in DESCRIPTORS:
            st = (c.get("descriptors") or {}).get(key) or {}
            if st.get("mean") is None:
                cols.append("n/a")
            elif st["min"] == st["max"]:
                cols.append(f"{st['mean']:.3g}")
            else:
                cols.append(f"{st['mean']:.3g} ({st['min']:.3g}..{st['max']:.3g})")
        lines.append(f"| {c['task']} | {c['hidden']} | {c['l2']:g} | "
                     f"{_rate(rates.get('effective'), counts.get('effective', 0))} | "
                     f"{_rate(rates.get('linear'), counts.get('linear', 0))} | "
                     + " | ".join(cols) + " |")
    return "\n".join(lines) + "\n"


def table1_markdown(cells: list[dict[str, Any]]) -> str:
    """Markdown: our Table 1 beside the paper's, then spread, our metric and check pass rates."""
    lines = [
        "| task | N_h | L2 | ours: spectral error (acc) | paper | seeds with matched counts "
        "| spread of best error over seeds (sd; min..max) | accuracy sd | ours: optimal-matching "
        "phase error | ours: modulus error | all checks pass (seeds) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        st = c["spectral_stats"]
        spread = ("n/a" if st["mean"] is None
                  else f"{st['std']:.4f}; {st['min']:.4f}..{st['max']:.4f}")
        paper = format_cell(c["paper_spectral"], c["paper_accuracy"]) if c["in_paper"] else "n/a"
        rate = c["all_checks_pass_rate"]
        lines.append(
            f"| {c['task']} | {c['hidden']} | {c['l2']:g} | "
            f"{format_cell(c['spectral'], c['accuracy']) if c['seeds'] else 'no finished run'}"
            f" | {paper} | "
            f"{c['n_spectral']}/{len(c['seeds'])} | {spread} | "
            f"{_fmt(c['accuracy_stats']['std'], '.3f')} | {_fmt(c['matched'])} | "
            f"{_fmt(c['modulus'])} | "
            f"{'n/a' if rate is None else f'{rate:.2f}'} |"
        )
    names = sorted({n for c in cells for n in c["check_pass_rate"]})
    if names:
        lines += ["", "Pass rate of each check over seeds (a seed passes when any of its runs "
                  "does):", "",
                  "| task | N_h | L2 | " + " | ".join(names) + " |",
                  "|---" * (3 + len(names)) + "|"]
        for c in cells:
            rates = [c["check_pass_rate"].get(n) for n in names]
            lines.append(f"| {c['task']} | {c['hidden']} | {c['l2']:g} | " + " | ".join(
                "n/a" if r is None else f"{r:.2f}" for r in rates) + " |")
    return "\n".join(lines) + "\n"

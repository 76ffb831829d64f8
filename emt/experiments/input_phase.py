"""The input-phase finding: a linear RNN solves repeat copy but not a staggered-lag copy task;
a tanh RNN solves both.

Theory (docs/science.md, "Linear solvability"): a linear time-invariant RNN started at
``h(-1) = 0`` outputs ``y(t) = sum_tau M(t - tau) u(tau)`` with Markov parameters
``M(m) = W_hy W_hh^m W_uh`` (our indexing: ``h(t)`` already holds ``u(t)``, so ``M(0)`` is the
response in the step of the input itself), so
it can only produce targets that depend on ``t - tau`` alone;
`emt.theory.solvability.is_linearly_solvable`
decides that exactly.  Repeat copy (T1) passes; T2 (dimension j copied at lag 8 - j) does not.

The experiment trains both activations on both tasks with the same recipe, through the sweep
machinery (so runs are cached and recorded), and compares the test accuracy at H = 200 with the
theory's verdict.  Profiles: ``quick`` uses the small analogues repeat-copy-4 / staggered-4
(s = d = 4, N_h = 64); ``paper`` uses T1 / T2 (s = d = 8, N_h = 128, 20,000 steps).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import IO, Any

from emt.core.atomic import atomic_write_text, write_json
from emt.experiments.aggregate import run_row
from emt.experiments.sweep import collect_records, run_sweep
from emt.experiments.sweep_config import SweepConfig, parse_sweep_config, profile_subset
from emt.experiments.sweep_job import refresh_verify_summary, reverify_job
from emt.theory.registry import get
from emt.theory.solvability import is_linearly_solvable

__all__ = ["INPUT_PHASE_PROFILES", "SOLVED_ACCURACY", "input_phase_configs", "input_phase"]

# A net "solves" a task when its sign accuracy over 200 output steps is at least this: the
# paper's curriculum thresholds are 0.9 and 0.98 and its solved cells report 0.94-1.00, while
# chance is 0.5; 0.95 separates a net that carries every variable from one that does not.
SOLVED_ACCURACY = 0.95

INPUT_PHASE_PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"tasks": ["repeat-copy-4", "staggered-4"], "hidden": 64, "steps": 6000,
              "threshold": 0.96, "seeds": [1, 2, 3]},
    "paper": {"tasks": ["T1", "T2"], "hidden": 128, "steps": 20000, "threshold": 0.96,
              "seeds": [1, 2, 3]},
}


def _profile_settings(profile: str, seeds: list[int] | None) -> dict[str, Any]:
    """The profile's settings, with ``seeds`` (a subset of the profile's seeds) when given."""
    if profile not in INPUT_PHASE_PROFILES:
        raise ValueError(f"unknown input-phase profile {profile!r}; known: "
                         f"{', '.join(INPUT_PHASE_PROFILES)}")
    p = dict(INPUT_PHASE_PROFILES[profile])
    p["seeds"] = profile_subset("seeds", seeds, p["seeds"], profile)
    return p


def input_phase_configs(profile: str, seeds: list[int] | None = None) -> list[SweepConfig]:
    """One sweep per activation (linear, tanh) over the profile's two tasks.  ``seeds``
    restricts the run to some of the profile's seeds (the jobs, and so their keys, are the
    same as in the full profile, so a later full run reuses them)."""
    p = _profile_settings(profile, seeds)
    return [parse_sweep_config({
        "name": f"input-phase-{profile}-{activation}",
        "grid": {"task": p["tasks"], "hidden": [p["hidden"]], "l2": [0.0],
                 "threshold": [p["threshold"]], "seed": p["seeds"]},
        "fixed": {"activation": activation, "steps": p["steps"]},
    }, source=f"input-phase profile {profile}") for activation in ("linear", "tanh")]


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _verdict_rows(configs: list[SweepConfig], out_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for config in configs:
        activation = config.fixed["activation"]
        for record in collect_records(config, out_dir):
            row = run_row(record)
            task = get(row["task"])
            theory = is_linearly_solvable(task)
            acc = row["accuracy"]
            solved = None if math.isnan(acc) or row["status"] != "done" else (
                acc >= SOLVED_ACCURACY)
            expected = bool(theory.solvable) if activation == "linear" else True
            rows.append({
                "task": row["task"], "activation": activation, "seed": row["seed"],
                "status": row["status"], "accuracy_h200": None if math.isnan(acc) else acc,
                "solved": solved, "linearly_solvable": bool(theory.solvable),
                "theory_reason": str(getattr(theory, "reason", "")),
                "expected_solved": expected,
                "agrees_with_theory": None if solved is None else solved == expected,
                "effective_holds": row["claims"].get("effective"),
                "linear_holds": row["claims"].get("linear"),
                "mean_gain": _finite_or_none(row["descriptors"].get("mean_gain")),
            })
    return rows


def _holds(value: bool | None) -> str:
    return "n/a" if value is None else ("holds" if value else "fails")


def input_phase(profile: str, out_dir: str | Path, *, scheduler: str | None = None,
                workers: int | None = None, run: bool = True, seeds: list[int] | None = None,
                reverify: bool = False,
                stream: IO[str] | None = sys.stderr) -> dict[str, Any]:
    """Train (unless ``run=False``), then write ``input_phase.json`` and ``input_phase.md``.
    ``reverify`` verifies every finished run again with the current verifier (no training).
    With ``seeds`` (a subset of the profile's) only those seeds are run and reported, and the
    report says so."""
    configs = input_phase_configs(profile, seeds)
    settings = _profile_settings(profile, seeds)
    all_seeds = INPUT_PHASE_PROFILES[profile]["seeds"]
    out_dir = Path(out_dir)
    if run:
        for config in configs:
            run_sweep(config, out_dir, scheduler=scheduler, workers=workers, stream=stream)
    for config in configs:
        for key in config.keys:
            if reverify:
                reverify_job(out_dir / "runs" / key)
            refresh_verify_summary(out_dir / "runs" / key)
    rows = _verdict_rows(configs, out_dir)
    known = [r for r in rows if r["agrees_with_theory"] is not None]
    doc = {"schema": "emt.input-phase/1", "profile": profile,
           "solved_accuracy": SOLVED_ACCURACY, "settings": settings,
           "seeds_subset": settings["seeds"] != all_seeds,
           "complete": len(known) == len(rows),
           "all_agree": bool(known) and all(r["agrees_with_theory"] for r in known),
           "rows": rows}
    write_json(out_dir / "input_phase.json", doc)  # NaN -> null, never a crash
    s = settings
    subset = (f" (a subset of the profile's seeds {all_seeds}: `--seeds`)"
              if doc["seeds_subset"] else "")
    lines = [
        f"## Input phase: linear vs tanh RNNs (profile `{profile}`)", "",
        f"Tasks {', '.join(s['tasks'])}; N_h = {s['hidden']}, {s['steps']} steps, curriculum "
        f"threshold {s['threshold']}, L2 0, seeds {s['seeds']}{subset}.  'Solved' means sign "
        f"accuracy >= {SOLVED_ACCURACY} at H = 200.  Theory: a linear RNN from h = 0 can only "
        "realise targets that depend on t - tau alone "
        "(emt.theory.solvability.is_linearly_solvable).", "",
        "| task | activation | seed | accuracy (H=200) | solved | linearly solvable (theory) "
        "| expected | agrees | effective claim | linear claim | mean gain 1-h^2 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        acc = "n/a" if r["accuracy_h200"] is None else f"{r['accuracy_h200']:.3f}"
        lines.append(f"| {r['task']} | {r['activation']} | {r['seed']} | {acc} | "
                     f"{r['solved'] if r['status'] == 'done' else r['status']} | "
                     f"{r['linearly_solvable']} | {r['expected_solved']} | "
                     f"{r['agrees_with_theory']} | {_holds(r['effective_holds'])} | "
                     f"{_holds(r['linear_holds'])} | "
                     f"{'n/a' if r['mean_gain'] is None else format(r['mean_gain'], '.3f')} |")
    disagree = [r for r in known if not r["agrees_with_theory"]]
    if disagree:
        verdict = "runs disagreeing with the theory: " + ", ".join(
            f"{r['task']}/{r['activation']}/seed {r['seed']}" for r in disagree)
    elif not doc["complete"]:
        verdict = "incomplete: not every run has finished."
    else:
        verdict = "every run agrees with the theory."
    lines += ["", "Verdict: " + verdict]
    atomic_write_text(out_dir / "input_phase.md", "\n".join(lines) + "\n")
    return doc

"""`emt reproduce table1`: run a profile's sweep, aggregate it, and write the report.

A profile is a sweep TOML shipped in ``experiments/profiles/`` (``paper``: the authors' grid;
``quick``: a reduction that fits one 2-core machine in about an hour, documented in its file).
The output directory holds the sweep (``runs/<key>/``) and, written after every invocation,
``table1.json`` (the aggregated cells plus the keys of the records they were computed from) and
``table1.md`` (our table beside the paper's).  A sweep with unfinished or failed jobs is
reported as PARTIAL with the exact command that finishes it -- never as complete.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import IO, Any

from emt.core.atomic import atomic_write_text, write_json
from emt.experiments.aggregate import (
    aggregate_records,
    claims_markdown,
    run_row,
    table1_markdown,
)
from emt.experiments.sweep import collect_records, run_sweep
from emt.experiments.sweep_config import SweepConfig, parse_sweep_config
from emt.experiments.sweep_job import refresh_verify_summary, reverify_job

__all__ = ["PROFILES", "load_profile", "profile_text", "table1", "write_table1", "AGGREGATION_RULE"]

PROFILES = ("quick", "paper")
TABLE1_SCHEMA = "emt.table1/1"
PROFILE_DIR = Path(__file__).resolve().parent / "profiles"

AGGREGATION_RULE = """\
How the table is computed (as the authors' notebook does): for each (task, N_h, L2) cell and
each seed, the best (smallest) paper spectral error over that seed's runs (its curriculum
thresholds), skipping runs whose numbers of |lambda| > 0.9 eigenvalues differ between W_hh and
Phi (the paper's metric is NaN there), and the best (largest) test accuracy at H = 200; then the
mean over seeds.  The authors' `np.mean` of a pandas Series skips NaN, so a seed with no matched
run drops out of the mean and a cell shows "---" only when no seed has a matched run; the column
"seeds with matched counts" says how many seeds the mean is over.  Our own metric (optimal
assignment of eigenvalues, never NaN, count mismatch reported separately) is aggregated the same
way.  Failed or unfinished jobs enter no mean.
"""


def profile_text(name: str) -> str:
    """The TOML text of a shipped profile (``ValueError`` for an unknown name)."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}")
    # package data (pyproject: "emt.experiments" = ["profiles/*.toml"]), found beside this module
    return (PROFILE_DIR / f"{name}.toml").read_text(encoding="utf-8")


def load_profile(name: str) -> SweepConfig:
    """The validated sweep of a shipped profile."""

    return parse_sweep_config(tomllib.loads(profile_text(name)), source=f"profile {name}")


def runs_markdown(records: list[dict[str, Any]]) -> str:
    """One line per job record: grid point, status, accuracy, both spectral metrics, counts,
    training time (the per-run JSON under runs/<key>/ has everything else)."""
    lines = ["## Runs", "",
             "| key | task | N_h | L2 | threshold | seed | status | accuracy H=200 | paper "
             "metric | our phase error | eigenvalues trained/theory | train min | steps/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for record in records:
        row = run_row(record)
        metrics = (record.get("train") or {}).get("metrics") or {}
        wall, rate = metrics.get("wall_time_s"), metrics.get("steps_per_s")

        def num(v: float, spec: str) -> str:
            return "n/a" if v != v else format(v, spec)

        counts = (f"{row['count_trained']}/{row['count_theory']}"
                  if row["count_trained"] is not None else "n/a")
        lines.append(
            f"| {row['key']} | {row['task']} | {row['hidden']} | {row['l2']:g} | "
            f"{row['threshold']:g} | {row['seed']} | {row['status']} | "
            f"{num(row['accuracy'], '.3f')} | {num(row['paper_error'], '.4f')} | "
            f"{num(row['matched_error'], '.4f')} | {counts} | "
            f"{'n/a' if wall is None else f'{wall / 60:.1f}'} | "
            f"{'n/a' if rate is None else f'{rate:.1f}'} |")
    return "\n".join(lines) + "\n"


def _thresholds_note(records: list[dict[str, Any]]) -> str:
    """Which eigenvalue thresholds the two metrics used (read from the reports' metrics)."""
    ours, paper = set(), set()
    for record in records:
        spectrum = ((record.get("verify") or {}).get("metrics") or {}).get("spectrum") or {}
        if "threshold" in spectrum:
            ours.add(spectrum["threshold"])
        if "paper_threshold" in spectrum:
            paper.add(spectrum["paper_threshold"])
    if not ours and not paper:
        return ""
    return (f"Eigenvalue thresholds: the paper's metric keeps |lambda| > "
            f"{', '.join(f'{t:g}' for t in sorted(paper)) or 'n/a'}; ours (the verifier's "
            f"spectrum.threshold) keeps |lambda| > "
            f"{', '.join(f'{t:g}' for t in sorted(ours)) or 'n/a'}.\n")


def _finish_command(profile: str, out_dir: Path) -> str:
    return f"emt reproduce table1 --profile {profile} --out {out_dir}"


def write_table1(config: SweepConfig, out_dir: str | Path, profile: str,
                 extra_sections: list[str] | None = None) -> dict[str, Any]:
    """Aggregate the records present under ``out_dir/runs`` for ``config``; write the report.

    Returns the JSON document written to ``table1.json``.
    """
    out_dir = Path(out_dir)
    for key in config.keys:
        refresh_verify_summary(out_dir / "runs" / key)
    records = [r for r in collect_records(config, out_dir) if r.get("status") != "missing"]
    cells = aggregate_records(records)
    n_done = sum(r.get("status") == "done" for r in records)
    n_failed = sum(r.get("status") == "failed" for r in records)
    total = len(config.jobs)
    complete = n_done == total
    doc = {
        "schema": TABLE1_SCHEMA,
        "profile": profile,
        "config": config.to_json(),
        "complete": complete,
        "n_jobs": total,
        "n_done": n_done,
        "n_failed": n_failed,
        "n_unfinished": total - n_done - n_failed,
        "keys": sorted(r["key"] for r in records),
        "cells": cells,
    }
    write_json(out_dir / "table1.json", doc)  # NaN -> null, never a crash

    status = ("complete" if complete else
              f"PARTIAL: {n_done} of {total} jobs done, {n_failed} failed, "
              f"{total - n_done - n_failed} not run or unfinished. Finish (resumes, never "
              f"retrains a done job) with:  `{_finish_command(profile, out_dir)}`")
    lines = [
        f"# Table 1 reproduction: profile `{profile}`", "",
        f"Status: **{status}**", "",
        config.description.strip(), "",
        "Each cell: mean over seeds of the best spectral error (radians, the paper's greedy "
        "metric, |lambda| > 0.9) with the mean best test accuracy at H = 200 in brackets; "
        "\"---\" where no seed had matching eigenvalue counts.", "",
        table1_markdown(cells),
        "## Both claims per cell", "",
        "Effective circuit: the states are a linear embedding of the live slots and one step "
        "of the net's own nonlinear map carries them by Phi. Linear circuit: W_hh = Psi Phi "
        "Psi^+ with unit gain. A seed holds a claim when its run passes every check of that "
        "claim (including generalisation and readout). The descriptors (mean over seeds of "
        "each seed's most accurate run, min..max) explain the verdicts and decide none.", "",
        claims_markdown(cells),
        AGGREGATION_RULE,
        _thresholds_note(records),
    ]
    lines += [runs_markdown(records), ""]
    for section in extra_sections or []:
        lines += [section, ""]
    atomic_write_text(out_dir / "table1.md", "\n".join(lines))
    return doc


def table1(profile: str, out_dir: str | Path, *, scheduler: str | None = None,
           workers: int | None = None, run: bool = True, reverify: bool = False,
           stream: IO[str] | None = sys.stderr) -> dict[str, Any]:
    """Run (or, with ``run=False``, only aggregate) a profile's sweep and write the report.
    ``reverify`` verifies every done job again with the current verifier before aggregating."""
    config = load_profile(profile)
    out_dir = Path(out_dir)
    if run:
        run_sweep(config, out_dir, scheduler=scheduler, workers=workers, stream=stream)
    if reverify:
        for key in config.keys:
            reverify_job(out_dir / "runs" / key)
    extra = []
    input_phase = out_dir / "input-phase" / "input_phase.md"
    if input_phase.is_file():
        extra.append(input_phase.read_text(encoding="utf-8"))
    figures = sorted((out_dir / "figures").glob("*.png"))
    if figures:
        extra.append("## Figures\n\n" + "\n".join(
            f"![{p.stem}](figures/{p.name})" for p in figures))
    return write_table1(config, out_dir, profile, extra)

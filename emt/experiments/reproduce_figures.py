"""`emt reproduce figures`: the paper's figures from trained runs of a sweep.

For T1 and one of T2..T4 (the best finished run of each: highest test accuracy at H = 200,
then the smallest seed), the verification report's figures (`verify.plots`, drawn by
`verify.report.Report.figures`): eigenvalues of ``W_hh`` against those of ``Phi`` in the complex
plane beside their moduli, ``Phi_hat = Psi* W_hh Psi`` as a heatmap (the paper's Figure 4), the
hidden state of one sequence in the privileged basis, ``Psi* h(t)`` (Figure 3), and the same in
the effective circuit's fitted basis beside the live slots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emt.core.atomic import atomic_write_bytes
from emt.experiments.aggregate import run_row
from emt.experiments.sweep_job import read_record
from emt.numerics.rundir import load_run
from emt.verify.judge import verify_weights

__all__ = ["SECOND_TASKS", "finished_runs", "best_run", "reproduce_figures"]

SECOND_TASKS = ("T2", "T3", "T4")


def finished_runs(sweep_dir: str | Path) -> dict[str, list[tuple[dict[str, Any], Path]]]:
    """Done records with final weights under ``sweep_dir/runs``, grouped by task label."""
    runs: dict[str, list[tuple[dict[str, Any], Path]]] = {}
    root = Path(sweep_dir) / "runs"
    if not root.is_dir():
        raise FileNotFoundError(f"{sweep_dir}: no runs/ directory (is it a sweep directory?)")
    for job_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        record = read_record(job_dir)
        if record is None or record.get("status") != "done":
            continue
        if not (job_dir / "run" / "weights.npz").is_file():
            continue
        runs.setdefault(run_row(record)["task"], []).append((record, job_dir))
    return runs


def best_run(candidates: list[tuple[dict[str, Any], Path]]) -> tuple[dict[str, Any], Path]:
    """Highest accuracy at H = 200 (NaN counts as lowest), then the smallest seed."""
    def score(item: tuple[dict[str, Any], Path]) -> tuple[float, int]:
        row = run_row(item[0])
        acc = row["accuracy"]
        return (-(acc if acc == acc else -1.0), int(row["seed"] or 0))

    return min(candidates, key=score)


def reproduce_figures(sweep_dir: str | Path, out_dir: str | Path,
                      second_task: str | None = None) -> list[Path]:
    """Write ``<task>-{eigenvalues,phi_hat,trajectory,effective_trajectory}.png`` for T1 and a
    second task."""
    if second_task is not None and second_task not in SECOND_TASKS:
        raise ValueError(f"second task must be one of {', '.join(SECOND_TASKS)}; "
                         f"got {second_task!r}")
    runs = finished_runs(sweep_dir)
    if "T1" not in runs:
        raise ValueError(f"{sweep_dir}: no finished T1 run to draw")
    if second_task is None:
        second_task = next((t for t in SECOND_TASKS if t in runs), None)
        if second_task is None:
            raise ValueError(f"{sweep_dir}: no finished run of any of {', '.join(SECOND_TASKS)}")
    elif second_task not in runs:
        raise ValueError(f"{sweep_dir}: no finished {second_task} run to draw")
    out_dir = Path(out_dir)
    written = []
    for label in ("T1", second_task):
        record, job_dir = best_run(runs[label])
        weights, task, _ = load_run(job_dir / "run")
        job = record["job"]
        report = verify_weights(weights, task, ground=job.get("ground", "output"),
                                seed=job.get("verify_seed", 0),
                                horizon=job.get("verify_horizon", 200),
                                subject=f"{label} seed {job.get('seed')} ({record['key']})")
        for name, png in report.figures().items():
            written.append(atomic_write_bytes(out_dir / f"{label}-{name}.png", png))
    return written

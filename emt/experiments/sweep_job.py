"""One sweep job, as it runs on a Dask worker: train, verify, and keep a provenance record.

Job directory layout (``<sweep_dir>/runs/<key>/``)::

    record.json   status ("running" | "done" | "failed"), the job config, versions, host,
                  timings, attempt count, training metrics, the verify summary or the error
    report.json   the full verification report (schema emt.report/3)
    run/          the training run directory (weights.npz, model.json, checkpoints)

``record.json`` is written atomically at the start (status "running") and at the end, so a job
whose process died mid-way is recognisably unfinished, and a finished one is never retrained.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import socket
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emt.core.atomic import write_json
from emt.core.provenance import versions
from emt.core.safe_io import parse_json, read_text
from emt.core.threads import limit_threads, thread_env
from emt.experiments.sweep_config import job_key, job_task, train_config
from emt.experiments.sweep_record import SWEEP_RECORD_SCHEMA
from emt.numerics.group import train_group
from emt.numerics.rundir import load_run
from emt.numerics.train import train
from emt.verify.entry import judge_any
from emt.verify.report_record import read_report_record

__all__ = [
    "RECORD_SCHEMA",
    "read_record",
    "write_record",
    "limit_threads",
    "train_and_verify",
    "run_job",
    "run_group",
    "train_and_verify_group",
    "summarize_report",
    "refresh_verify_summary",
]

RECORD_SCHEMA = SWEEP_RECORD_SCHEMA
# The environment a worker needs so that TensorFlow (and BLAS) use one core per job: with one
# process per core, more threads per process only oversubscribe the machine.
# EMT_TF_THREADS: a group's step would otherwise take every core (one group per worker).
THREAD_ENV = {**thread_env(1), "EMT_TF_THREADS": "1"}

JobFn = Callable[[dict[str, Any], Path], dict[str, Any]]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def read_record(job_dir: str | Path) -> dict[str, Any] | None:
    """The job's record, or ``None`` when there is none or it cannot be read (unfinished)."""
    path = Path(job_dir) / "record.json"
    try:  # a regular file within the size and nesting limits
        record = parse_json(read_text(path, "sweep record"), str(path))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(job_dir: str | Path, record: dict[str, Any]) -> Path:
    """Write ``record.json`` atomically (never a half-written file after a crash)."""
    # standard JSON: a non-finite metric (a diverged loss) is written as null
    return write_json(Path(job_dir) / "record.json", record, default=_json_default)


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays in metrics
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def summarize_report(report_json: dict[str, Any]) -> dict[str, Any]:
    """The part of a verify report the aggregation needs: per-check outcome (True, False, or
    None for a skipped check), whether every check that ran passed (at least one ran), each
    claim's verdict, the metrics and the descriptors."""
    read_report_record(report_json)  # every field by name (verify.report_record)
    checks = {c["name"]: c["passed"] for c in report_json["checks"]}
    return {
        "passed": any(v is not None for v in checks.values())
        and all(v is not False for v in checks.values()),
        "checks": checks,
        "metrics": report_json["metrics"],
        "claims": {str(k): v["holds"] for k, v in report_json["claims"].items()},
        "descriptors": report_json["descriptors"],
    }


def refresh_verify_summary(job_dir: str | Path) -> dict[str, Any] | None:
    """Re-derive a done record's verify summary from its ``report.json`` (records written by an
    older summariser read skipped checks as failed); rewrites the record only if it changes."""
    path = Path(job_dir)
    record = read_record(path)
    if record is None or record.get("status") != "done":
        return record
    try:
        report_json = json.loads((path / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return record
    summary = summarize_report(report_json)
    if record.get("verify") != summary:
        record["verify"] = summary
        write_record(path, record)
    return record


def _verify_and_write(weights: Any, job: dict[str, Any], job_dir: Path) -> dict[str, Any]:
    """Verify ``weights`` with the job's settings; write ``report.json``; return the summary.
    `verify.entry.judge_any` sends an Elman RNN to `verify.judge.verify_weights` and an LSTM,
    GRU or LRU (a job with a ``cell``) to `verify.cell_subject.verify_cell`, which judges the
    same two claims."""
    report = judge_any(weights, job_task(job), ground=job["ground"], seed=job["verify_seed"],
                       horizon=job["verify_horizon"])
    report_json = report.to_json()
    write_json(job_dir / "report.json", report_json, default=_json_default)
    return summarize_report(report_json)


def reverify_job(job_dir: str | Path) -> dict[str, Any] | None:
    """Verify a done job's trained weights again with the current verifier (no training), so
    that every record of a results directory comes from one version of the checks.  Rewrites
    ``report.json`` and the record's verify summary and notes when; other records untouched."""
    path = Path(job_dir)
    record = read_record(path)
    if record is None or record.get("status") != "done":
        return record
    weights, _task, _meta = load_run(path / "run")
    record["verify"] = _verify_and_write(weights, record["job"], path)
    record["reverified"] = {"at": _now(), "versions": versions()}
    write_record(path, record)
    return record


def train_and_verify(job: dict[str, Any], job_dir: Path) -> dict[str, Any]:
    """The default job: train the RNN the job describes, then verify it against the theory.

    Resumes the training run in ``job_dir/run`` if one was left there by a killed worker.
    Returns the fields to merge into the record (training metrics, verify summary).
    """
    config = train_config(job)
    run_dir, resumable = _prepare_run_dir(job_dir)
    result = train(config, out_dir=run_dir, progress=False, resume=resumable)
    # verified after training: a finished run is kept even if verification raises
    return {
        "train": {"metrics": dict(result.metrics)},
        "verify": _verify_and_write(result.weights, job, job_dir),
    }


def run_job(job_fn: JobFn | None, job: dict[str, Any], job_dir: str, threads: int = 1
            ) -> dict[str, Any]:
    """Run one job under a record: "running" first, then "done" or "failed" with the traceback.

    An exception inside the job is recorded, not raised, so the sweep goes on and Dask's
    ``retries`` are spent only on workers that die.  Returns the final record.
    """
    limit_threads(threads)
    path = Path(job_dir)
    record = _start_record(job, path)
    start = time.perf_counter()
    fields: dict[str, Any] | Exception
    try:
        fields = (job_fn or train_and_verify)(job, path)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, the sweep goes on
        fields = exc
    return _finish_record(path, record, fields, time.perf_counter() - start)


def _start_record(job: dict[str, Any], path: Path) -> dict[str, Any]:
    """Write and return the job's "running" record (its attempt count one up)."""
    path.mkdir(parents=True, exist_ok=True)
    previous = read_record(path) or {}
    record: dict[str, Any] = {
        "schema": RECORD_SCHEMA,
        "key": job_key(job),
        "status": "running",
        "job": job,
        "attempt": int(previous.get("attempt", 0)) + 1,
        "started": _now(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "versions": versions(),
    }
    write_record(path, record)
    return record


def _finish_record(path: Path, record: dict[str, Any], fields: dict[str, Any] | BaseException,
                   elapsed: float, group: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the final record: "done" with ``fields`` merged, or "failed" with the error."""
    if isinstance(fields, BaseException):
        record.update(status="failed", error=f"{type(fields).__name__}: {fields}",
                      traceback="".join(traceback.format_exception(fields)))
    else:
        record.update(fields)
        record["status"] = "done"
    if group is not None:
        record["group"] = group
    record["finished"] = _now()
    record["elapsed_s"] = round(elapsed, 3)
    record["versions"] = versions()  # now including TensorFlow if the job imported it
    write_record(path, record)
    return record


def _prepare_run_dir(job_dir: Path) -> tuple[Path, bool]:
    """``job_dir/run`` and whether it holds a run to resume (a directory left by a worker killed
    before the run was initialised is removed: the job starts over)."""
    run_dir = job_dir / "run"
    resumable = (run_dir / "model.json").is_file()
    if run_dir.exists() and not resumable:
        shutil.rmtree(run_dir)
    return run_dir, resumable


def train_and_verify_group(jobs: list[dict[str, Any]], job_dirs: list[Path], threads: int = 1
                           ) -> list[dict[str, Any] | BaseException]:
    """The default group job: train the jobs' RNNs together (`numerics.group.train_group`,
    one compiled step), then verify each.  Per job: the record fields, or the exception that
    stopped it.  Each run directory resumes from its checkpoint if a killed worker left one.
    If the group as a whole is refused (e.g. one job's directory is corrupt), every job is
    trained alone by the single-run loop instead, so one bad job cannot hold the others back."""
    configs = [train_config(job) for job in jobs]
    prepared = [_prepare_run_dir(d) for d in job_dirs]
    run_dirs = [run_dir for run_dir, _ in prepared]
    # per job: its TrainResult, or the exception that stopped it
    trained: list[Any]
    try:
        # One worker is one core: the group trains on the worker's threads (one 1-thread group
        # per core was the fastest layout measured, benchmarks/RESULTS.md).
        group = train_group(configs, run_dirs, progress=False, threads=threads)
        trained = [result if result is not None else FloatingPointError(error or
                                                                          "training failed")
                   for result, error in zip(group.results, group.errors, strict=True)]
    except ValueError:
        trained = [_train_alone(c, run_dir, resumable)
                   for c, (run_dir, resumable) in zip(configs, prepared, strict=True)]
    out: list[dict[str, Any] | BaseException] = []
    for i, result in enumerate(trained):
        if isinstance(result, BaseException):
            out.append(result)
            continue
        try:
            # verified after training: a finished run is kept even if verification raises
            out.append({"train": {"metrics": dict(result.metrics)},
                        "verify": _verify_and_write(result.weights, jobs[i], job_dirs[i])})
        except Exception as exc:  # noqa: BLE001 - recorded for this job only
            out.append(exc)
    return out


def _train_alone(config: Any, run_dir: Path, resumable: bool) -> Any:
    """One job's single-run training (`numerics.train.train`): the `TrainResult`, or the
    exception that stopped it (recorded for this job only)."""
    try:
        return train(config, out_dir=run_dir, progress=False, resume=resumable)
    except Exception as exc:  # noqa: BLE001 - recorded for this job only
        return exc


def run_group(job_fn: JobFn | None, jobs: list[dict[str, Any]], job_dirs: list[str],
              threads: int = 1) -> list[dict[str, Any]]:
    """Run jobs of one shape as one group under their records (see `run_job`); returns the final
    records.  With the default job (``job_fn`` None) they train together in one compiled step;
    a custom ``job_fn`` (a per-job function) runs them one after the other."""
    if job_fn is not None:
        return [run_job(job_fn, job, d, threads) for job, d in zip(jobs, job_dirs, strict=True)]
    limit_threads(threads)
    paths = [Path(d) for d in job_dirs]
    records = [_start_record(job, p) for job, p in zip(jobs, paths, strict=True)]
    start = time.perf_counter()
    try:
        outcomes = train_and_verify_group(list(jobs), paths, threads)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, the sweep goes on
        outcomes = [exc] * len(jobs)
    elapsed = time.perf_counter() - start
    group = {"size": len(jobs), "keys": [job_key(job) for job in jobs]}
    return [_finish_record(p, r, o, elapsed, group)
            for p, r, o in zip(paths, records, outcomes, strict=True)]

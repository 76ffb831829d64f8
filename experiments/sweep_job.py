"""One sweep job, as it runs on a Dask worker: train, verify, and keep a provenance record.

Job directory layout (``<sweep_dir>/runs/<key>/``)::

    record.json   status ("running" | "done" | "failed"), the job config, versions, host,
                  timings, attempt count, training metrics, the verify summary or the error
    report.json   the full verification report (schema emt.report/2)
    run/          the training run directory (weights.npz, model.json, checkpoints)

``record.json`` is written atomically at the start (status "running") and at the end, so a job
whose process died mid-way is recognisably unfinished, and a finished one is never retrained.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emt.experiments.sweep_config import job_key, job_task, train_config
from emt.numerics.weights import atomic_write_bytes

__all__ = [
    "RECORD_SCHEMA",
    "read_record",
    "write_record",
    "limit_threads",
    "train_and_verify",
    "run_job",
    "summarize_report",
    "refresh_verify_summary",
]

RECORD_SCHEMA = "emt.sweep-record/1"
# The environment a worker needs so that TensorFlow (and BLAS) use one core per job: with one
# process per core, more threads per process only oversubscribe the machine.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}

JobFn = Callable[[dict[str, Any], Path], dict[str, Any]]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def read_record(job_dir: str | Path) -> dict[str, Any] | None:
    """The job's record, or ``None`` when there is none or it cannot be read (unfinished)."""
    path = Path(job_dir) / "record.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(job_dir: str | Path, record: dict[str, Any]) -> Path:
    """Write ``record.json`` atomically (never a half-written file after a crash)."""
    text = json.dumps(record, indent=2, sort_keys=True, default=_json_default)
    return atomic_write_bytes(Path(job_dir) / "record.json", (text + "\n").encode("utf-8"))


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays in metrics
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def versions() -> dict[str, str]:
    """Versions of the pieces that decide a result (TensorFlow only when it was imported)."""
    import numpy

    out = {"python": platform.python_version(), "numpy": numpy.__version__}
    try:
        from importlib.metadata import version

        out["emt-suite"] = version("emt-suite")
    except Exception:  # noqa: BLE001 - an uninstalled checkout has no metadata
        out["emt-suite"] = "unknown"
    for name in ("tensorflow", "keras", "sympy", "dask", "distributed"):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = str(getattr(module, "__version__", "unknown"))
    return out


def limit_threads(threads: int = 1) -> None:
    """Pin TensorFlow and BLAS to ``threads`` threads in this process.

    The environment variables take effect when TensorFlow is first imported; if it already is,
    the runtime setters are tried (they raise once TensorFlow has run an op, which is harmless).
    """
    for key, value in THREAD_ENV.items():
        if key.endswith("_THREADS"):
            os.environ[key] = str(threads)
        else:
            os.environ.setdefault(key, value)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            pass  # already initialised: the env variables above were in place or it is too late


def summarize_report(report_json: dict[str, Any]) -> dict[str, Any]:
    """The part of a verify report the aggregation needs: per-check outcome (True, False, or
    None for a skipped check), overall pass (no check failed, at least one ran), metrics."""
    checks = {str(c.get("name")): (None if c.get("passed") is None else bool(c["passed"]))
              for c in report_json.get("checks", [])}
    return {
        "passed": any(v is not None for v in checks.values())
        and all(v is not False for v in checks.values()),
        "checks": checks,
        "metrics": report_json.get("metrics", {}),
        "claims": {str(k): v.get("holds") for k, v in report_json.get("claims", {}).items()},
        "descriptors": report_json.get("descriptors", {}),
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
    """Verify ``weights`` with the job's settings; write ``report.json``; return the summary."""
    from emt.verify.api import verify_weights

    report = verify_weights(weights, job_task(job), ground=job["ground"],
                            seed=job["verify_seed"], horizon=job["verify_horizon"])
    report_json = report.to_json()
    text = json.dumps(report_json, indent=2, sort_keys=True, default=_json_default)
    atomic_write_bytes(job_dir / "report.json", (text + "\n").encode("utf-8"))
    return summarize_report(report_json)


def reverify_job(job_dir: str | Path) -> dict[str, Any] | None:
    """Verify a done job's trained weights again with the current verifier (no training), so
    that every record of a results directory comes from one version of the checks.  Rewrites
    ``report.json`` and the record's verify summary and notes when; other records untouched."""
    from emt.numerics.rundir import load_run

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
    from emt.numerics.train import train  # imports TensorFlow: only on workers

    config = train_config(job)
    run_dir = job_dir / "run"
    resumable = (run_dir / "model.json").is_file()
    if run_dir.exists() and not resumable:
        shutil.rmtree(run_dir)  # killed before the run directory was initialised: start over
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
    start = time.perf_counter()
    try:
        fields = (job_fn or train_and_verify)(job, path)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, the sweep goes on
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}",
                      traceback=traceback.format_exc())
    else:
        record.update(fields)
        record["status"] = "done"
    record["finished"] = _now()
    record["elapsed_s"] = round(time.perf_counter() - start, 3)
    record["versions"] = versions()  # now including TensorFlow if the job imported it
    write_record(path, record)
    return record

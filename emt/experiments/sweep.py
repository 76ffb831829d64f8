"""Run a sweep of training + verification jobs on Dask (a LocalCluster or an existing cluster).

`run_sweep` skips every job whose ``record.json`` says "done" (a finished run is never
retrained), submits the rest in groups, and records each job's outcome.  Jobs that share the
shape of the training step (`numerics.group.group_key`: task s and d, hidden, activation,
batch, determinism) are trained together in one compiled step, at most ``max_group`` to a group,
and split so that every worker gets a group (`plan_groups`); Dask sends groups, not single jobs,
to the workers.  A job that raises is recorded as "failed" with its traceback and the sweep
goes on; a group whose worker process dies is retried by Dask (``retries``), each member
resuming from its checkpoint; a job left unfinished by a killed sweep (record "running", or a
run directory without a record) is simply submitted again and resumes its training run.

Dask is an optional extra (``pip install 'emt-suite[sweep]'``), imported only here, lazily.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from emt.core.limits import check_at_most
from emt.core.progress import Progress
from emt.core.safe_io import check_output_path
from emt.experiments.sweep_config import SweepConfig, job_key, train_config
from emt.experiments.sweep_job import THREAD_ENV, JobFn, read_record, run_group, write_record
from emt.numerics.group import group_key

__all__ = ["SweepSummary", "run_sweep", "open_client", "default_workers", "collect_records",
           "probe_scheduler", "plan_groups", "MAX_GROUP"]

# How long to wait for an existing scheduler before saying it is unreachable: a live scheduler
# on a cluster answers in well under a second; a wrong address should fail fast, not hang.
CONNECT_TIMEOUT_S = 5.0
# Dask re-runs a job this many times when its worker dies (a job that raises is not retried:
# run_job records the error instead of raising).
WORKER_RETRIES = 2
# The most jobs trained together in one compiled step.  Throughput per core grows with the group
# up to about 16 networks of N_h 128 here and then levels off (benchmarks/RESULTS.md), while a
# bigger group holds more jobs back until its slowest member is done.
MAX_GROUP = 16


@dataclass
class SweepSummary:
    """What a sweep did: counts by outcome and the final record of every job in the grid."""

    sweep_dir: Path
    total: int
    cached: int = 0
    done: int = 0
    failed: int = 0
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @property
    def complete(self) -> bool:
        """True when every job of the grid has a "done" record."""
        return sum(r.get("status") == "done" for r in self.records) == self.total

    def line(self) -> str:
        return (f"{self.done + self.cached} done ({self.cached} cached) / {self.failed} failed "
                f"/ {self.total} total")


def default_workers() -> int:
    """One worker process per usable core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ValueError(
            "sweeps need Dask: install the optional extra with  pip install 'emt-suite[sweep]'"
        ) from None
    return distributed


@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None,
                connect_timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A Dask client: to ``scheduler`` if given, else to a fresh LocalCluster on this machine.

    The LocalCluster has ``workers`` processes (default: one per core) with one thread each, and
    every worker starts with TensorFlow/BLAS limited to one thread (`THREAD_ENV`), so two
    workers on two cores do not oversubscribe them.  An unreachable scheduler raises
    ``ValueError`` after ``connect_timeout`` seconds.
    """
    distributed = _import_distributed()
    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise ValueError(f"scheduler address must be a non-empty string; got {scheduler!r}")
        probe_scheduler(scheduler, connect_timeout)
        try:
            client = distributed.Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler!r} within "
                             f"{connect_timeout:g} s ({type(exc).__name__}: {exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = default_workers() if workers is None else int(workers)
    if n < 1:
        raise ValueError(f"workers must be >= 1; got {workers}")
    check_at_most("--workers", n, "MAX_WORKERS")
    cluster = distributed.LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
        silence_logs=logging.ERROR, env=dict(THREAD_ENV),
    )
    try:
        client = distributed.Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


# A Dask handshake is a few hundred bytes; a length prefix beyond this is not Dask talking
# (an HTTP reply read as a length is ~3 EiB, which Dask would try to allocate).
_MAX_HANDSHAKE_BYTES = 1 << 20


def probe_scheduler(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Check, within ``timeout`` seconds in all, that a ``tcp://`` address is a Dask scheduler,
    before Dask's own connect (whose handshake read has no timeout): connect, then read the
    8-byte length prefix of the handshake message a Dask server sends first.  ``ValueError``
    for a refused or unreachable port, a port that accepts and never answers, a server that
    answers something else (HTTP, say, the dashboard) or closes the connection.  Addresses of
    other schemes (``tls://``, ``ucx://``, ...) are left to Dask."""
    scheme, sep, rest = address.strip().partition("://")
    if not sep:
        scheme, rest = "tcp", address.strip()
    if scheme != "tcp":
        return
    host, colon, port_text = rest.rstrip("/").rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"scheduler address {address!r}: expected tcp://HOST:PORT")
    where = f"the Dask scheduler at {address!r}"
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, int(port_text)), timeout=timeout)
    except OSError as exc:
        raise ValueError(f"cannot reach {where} within {timeout:g} s "
                         f"({type(exc).__name__}: {exc.strerror or exc})") from None
    head = b""
    try:
        with sock:
            while len(head) < 8:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except TimeoutError:
        raise ValueError(f"{where} accepted the connection but sent no Dask handshake within "
                         f"{timeout:g} s: not a Dask scheduler, or it is stuck") from None
    except OSError as exc:
        raise ValueError(f"{where}: the connection failed ({type(exc).__name__}: "
                         f"{exc.strerror or exc})") from None
    if len(head) < 8:
        raise ValueError(f"{where} closed the connection without a Dask handshake")
    (length,) = struct.unpack("<Q", head)
    if head[:4].isascii() and head[:4].decode("ascii").isprintable() or \
            length > _MAX_HANDSHAKE_BYTES:
        text = "HTTP" if head.startswith(b"HTTP") else repr(head)
        raise ValueError(f"{where} answers {text}, not the Dask protocol (is it the dashboard "
                         "port? a scheduler listens on 8786 by default)")


def collect_records(config: SweepConfig, sweep_dir: str | Path) -> list[dict[str, Any]]:
    """The record of every job of ``config`` in grid order (a stub for jobs never started)."""
    runs = Path(sweep_dir) / "runs"
    out = []
    for job in config.jobs:
        key = job_key(job)
        record = read_record(runs / key)
        if record is None or record.get("key") != key:
            record = {"key": key, "status": "missing", "job": job}
        out.append(record)
    return out


def plan_groups(jobs: list[dict[str, Any]], slots: int, max_group: int = MAX_GROUP
                ) -> list[list[dict[str, Any]]]:
    """Split ``jobs`` (kept in their order) into groups that can share one training step.

    Jobs of one step shape (`numerics.group.group_key` of their `TrainConfig`) form a class;
    a class of n jobs is cut into ``max(min(slots, n), ceil(n / max_group))`` contiguous groups
    of near-equal size, so no group exceeds ``max_group`` and, while there are enough jobs,
    every one of the ``slots`` workers gets a group.
    """

    if not isinstance(max_group, int) or isinstance(max_group, bool) or max_group < 1:
        raise ValueError(f"max_group must be an integer >= 1; got {max_group!r}")
    classes: dict[tuple, list[dict[str, Any]]] = {}
    for job in jobs:
        classes.setdefault(group_key(train_config(job)), []).append(job)
    groups = []
    for members in classes.values():
        n = len(members)
        count = max(min(max(1, slots), n), math.ceil(n / max_group))
        bounds = [round(i * n / count) for i in range(count + 1)]
        groups += [members[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    return groups


def run_sweep(config: SweepConfig, sweep_dir: str | Path, *, scheduler: str | None = None,
              workers: int | None = None, job_fn: JobFn | None = None,
              retries: int = WORKER_RETRIES, connect_timeout: float = CONNECT_TIMEOUT_S,
              stream: IO[str] | None = sys.stderr, max_group: int = MAX_GROUP
              ) -> SweepSummary:
    """Run every unfinished job of ``config`` under ``sweep_dir/runs/<key>/``.

    Pending jobs go to the workers in groups (`plan_groups`, at most ``max_group`` each;
    ``max_group=1`` trains every job alone).  ``job_fn(job, job_dir) -> dict`` replaces the
    default grouped training + verification by a per-job function (tests inject small ones; a
    group's jobs then run one after the other).  Jobs already "done" are not submitted (and no
    cluster is started when all are done).
    """
    # Absolute, because workers of a remote cluster do not share our working directory (the
    # sweep directory must be on a filesystem they share, e.g. the cluster's home or scratch).
    sweep_dir = check_output_path(Path(sweep_dir).resolve(), "sweep directory")
    runs = sweep_dir / "runs"
    pending = [job for job, rec in zip(config.jobs, collect_records(config, sweep_dir),
                                       strict=True) if rec.get("status") != "done"]
    # Seed-major order (stable within a seed): a sweep stopped part-way has covered every cell
    # of the grid with its first seeds, instead of finishing some cells and leaving others empty.
    pending.sort(key=lambda job: job["seed"])
    summary = SweepSummary(sweep_dir=sweep_dir, total=len(config.jobs),
                           cached=len(config.jobs) - len(pending))
    if pending:
        with open_client(scheduler, workers, connect_timeout) as client:
            distributed = _import_distributed()
            slots = max(1, sum(client.nthreads().values()))
            runs.mkdir(parents=True, exist_ok=True)
            futures = {}
            for group in plan_groups(pending, slots, max_group):
                keys = [job_key(job) for job in group]
                future = client.submit(run_group, job_fn, group, [str(runs / k) for k in keys],
                                       key=f"emt-{keys[0]}-{len(keys)}", pure=False,
                                       retries=retries)
                futures[future] = group
            with Progress("emt sweep", summary.total, enabled=stream is not None,
                          stream=stream) as progress:
                for future in distributed.as_completed(futures):
                    group = futures[future]
                    try:
                        records = future.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker after retries
                        records = [_record_lost_job(job, runs / job_key(job), exc)
                                   for job in group]
                    for record in records:
                        if record.get("status") == "done":
                            summary.done += 1
                        else:
                            summary.failed += 1
                    finished = summary.cached + summary.done + summary.failed
                    running = min(summary.total - finished, slots)
                    progress.update(finished, f"cached {summary.cached}, running {running}, "
                                    f"failed {summary.failed}")
    summary.records = collect_records(config, sweep_dir)
    return summary


def _record_lost_job(job: dict[str, Any], job_dir: Path, exc: BaseException) -> dict[str, Any]:
    """Record a job whose worker died more often than Dask retries it (the job never returned)."""
    record = read_record(job_dir) or {"key": job_key(job), "job": job}
    record.update(status="failed", error=f"worker lost: {type(exc).__name__}: {exc}",
                  traceback="")
    job_dir.mkdir(parents=True, exist_ok=True)
    write_record(job_dir, record)
    return record

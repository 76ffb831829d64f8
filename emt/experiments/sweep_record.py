"""The schema of a sweep job's ``record.json`` (``emt.sweep-record/1``), read by name.

A record is written when a job starts ("running") and again when it ends ("done" or "failed").
``train`` holds the training metrics (`numerics.train.evaluate`: ``test_accuracy`` at
``test_horizon``, ...); ``verify`` the verify summary: each check's outcome (true, false, null =
skipped), the overall verdict, and the report's metrics (`verify.report_record.ReportMetrics`).
A "done" record of `train_and_verify` has both; job functions injected by tests may leave
``verify`` out, and the aggregation then refuses the record rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from emt.core.records import read_record
from emt.verify.report_record import ReportMetrics

__all__ = ["SWEEP_RECORD_SCHEMA", "JOB_STATUSES", "TrainSummary", "VerifySummary", "SweepRecord",
           "read_sweep_record"]

SWEEP_RECORD_SCHEMA = "emt.sweep-record/1"
JOB_STATUSES = ("running", "done", "failed")


@dataclass(frozen=True)
class TrainSummary:
    metrics: dict


@dataclass(frozen=True)
class VerifySummary:
    """``claims``: each claim's verdict (true/false); ``descriptors``: the report's
    explanatory numbers (both absent in records written before reports had claims)."""

    passed: bool
    checks: dict
    metrics: ReportMetrics
    claims: dict | None = None
    descriptors: dict | None = None


@dataclass(frozen=True)
class SweepRecord:
    SCHEMA: ClassVar[str] = SWEEP_RECORD_SCHEMA

    schema: str
    key: str
    status: str
    job: dict
    attempt: int
    started: str
    host: str
    pid: int
    versions: dict
    finished: str | None = None
    elapsed_s: float | None = None
    train: TrainSummary | None = None
    verify: VerifySummary | None = None
    error: str | None = None
    traceback: str | None = None
    reverified: dict | None = None
    group: dict | None = None  # a job trained in a group: the group's size and member keys


def read_sweep_record(data: Any, where: str = "sweep record") -> SweepRecord:
    """`SweepRecord` from a parsed ``record.json``; ValueError naming what is wrong."""
    record = read_record(SweepRecord, data, where)
    if record.status not in JOB_STATUSES:
        raise ValueError(f"{where}: unknown status {record.status!r}; expected one of "
                         f"{', '.join(JOB_STATUSES)}")
    bad = {k: v for k, v in record.verify.checks.items() if v not in (True, False, None)} \
        if record.verify else {}
    if bad:
        raise ValueError(f"{where}: verify checks must be true, false or null; got {bad}")
    return record

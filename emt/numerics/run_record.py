"""The schema of a run directory's ``model.json`` (format ``emt-run/1``), read by name.

Fields: ``format``; ``task`` (`TaskSpec.to_json`); ``config`` (`TrainConfig.hyper_parameters`);
``seed``; ``versions`` (`core.provenance.versions`); ``status`` ("running", "interrupted",
"finished"); ``steps_done``; ``horizon`` (the curriculum's current H); ``history`` (``{step,
loss, accuracy, H}`` every ``history_every`` steps); ``curriculum_advances`` (``{step, to_H}``);
``metrics`` (null until finished: `numerics.train.evaluate` plus final loss, batch accuracy,
steps and wall time); ``wall_time_s``; ``error`` (why a run stopped early; optional);
``cell`` (optional, default ``"rnn"``: the recurrent cell, ``rnn``, ``lstm``, ``gru`` or
``lru``); ``extension`` (optional: a finished run being extended to more steps keeps its
finished record and weights; this entry tracks the extension's ``status``, ``steps`` and
``steps_done`` until it finishes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from emt.core.records import read_record

__all__ = ["RUN_FORMAT", "RUN_STATUSES", "RunRecord", "read_run_record"]

RUN_FORMAT = "emt-run/1"
RUN_STATUSES = ("running", "interrupted", "finished")


@dataclass(frozen=True)
class RunRecord:
    SCHEMA: ClassVar[str] = RUN_FORMAT
    SCHEMA_FIELD: ClassVar[str] = "format"

    format: str
    task: dict
    config: dict
    seed: int
    versions: dict
    status: str
    steps_done: int
    horizon: int
    history: list
    curriculum_advances: list
    metrics: dict | None
    wall_time_s: float
    error: str | None = None
    extension: dict | None = None
    cell: str = "rnn"


def read_run_record(data: Any, where: str) -> RunRecord:
    """`RunRecord` from a parsed ``model.json``; ValueError naming the field that is wrong."""
    record = read_record(RunRecord, data, where)
    if record.status not in RUN_STATUSES:
        raise ValueError(f"{where}: unknown status {record.status!r}; expected one of "
                         f"{', '.join(RUN_STATUSES)}")
    if record.status == "finished" and record.metrics is None:
        raise ValueError(f"{where}: a finished run must have metrics")
    return record

"""`verify_model`: judge a model held in memory (torch, Keras, a mapping of arrays) in one call.

    report = verify_model(nn.LSTM(3, 32, batch_first=True), "repeat-copy-3",
                          readout=nn.Linear(32, 3))

is ``emt verify`` on the same weights saved to a file: the model is read by
`verify.model_subject.model_subject` through the naming conventions of an ``.npz`` or
``.keras`` subject and judged by `verify.judge.verify_loaded` (an Elman RNN by
`verify_weights`, an LSTM or GRU by `verify.cell_subject.verify_cell`), so the verdicts and
every check value equal those of the file (``tests/verify/test_in_memory.py``).  See
``docs/in_memory.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from emt.theory import task_files
from emt.theory.registry import get, names
from emt.theory.taskspec import TaskSpec
from emt.verify.entry import verify_loaded
from emt.verify.model_subject import model_subject
from emt.verify.report import Report

__all__ = ["verify_model", "resolve_task"]


def resolve_task(task: TaskSpec | str | os.PathLike) -> TaskSpec:
    """A `TaskSpec` from a `TaskSpec`, a registered task name (``emt tasks``) or the path of a
    task file (TOML or JSON); a name that is neither is a ValueError listing the known tasks."""
    if isinstance(task, TaskSpec):
        return task
    if isinstance(task, str) and task in names():
        return get(task)
    if isinstance(task, os.PathLike) or (isinstance(task, str) and Path(task).is_file()):
        return task_files.load(Path(task))
    if isinstance(task, str):
        return get(task)  # raises: unknown task, with the known names
    raise ValueError(f"task must be a TaskSpec, a registered task name or a task file; got "
                     f"{type(task).__name__}")


def verify_model(model: Any, task: TaskSpec | str | os.PathLike, *, readout: Any = None,
                 claim: str = "effective", subject: str | None = None,
                 **options: Any) -> Report:
    """Judge an in-memory ``model`` against ``task`` on both claims of the theory.

    ``model``: a ``torch.nn.RNN`` (tanh) / ``nn.LSTM`` / ``nn.GRU`` with ``readout`` a
    ``torch.nn.Linear(N_h, d)`` (or a module holding one of each), a Keras model of one
    ``SimpleRNN``/``LSTM``/``GRU`` layer and a ``Dense`` readout, or a mapping of named arrays
    (a ``state_dict``, torch tensors or numpy arrays; `verify.subject.CONVENTIONS`).
    ``task``: a `TaskSpec`, a registered name or a task file.  ``claim`` decides
    `Report.passed` ("effective", "linear" or "both"); ``subject`` names the model in the report;
    ``options`` are those of `verify.judge.verify_weights`: ``ground``, ``tolerances``,
    ``seed``, ``horizon``.  Anything it cannot read is a ValueError naming what it found.
    """
    spec = resolve_task(task)
    subj = model_subject(model, spec, readout=readout, name=subject)
    return verify_loaded(subj, claim=claim, **options)

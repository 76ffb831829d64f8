"""Library entry points above loading and judging: a path or weights -> `Report`, whatever the
cell.  `verify_subject` loads (`verify.subject`) and judges; `judge_any` sends an Elman net to
`verify.judge.verify_weights` and an LSTM, GRU or LRU to `verify.cell_subject.verify_cell`;
`assert_emt` is the same for users' own pytest suites.  All validate their input and raise
``ValueError`` naming it."""

from __future__ import annotations

import os
from typing import Any

from emt.numerics.cell_models import CellWeights
from emt.numerics.weights import RNNWeights
from emt.theory.registry import get as get_task
from emt.theory.taskspec import TaskSpec
from emt.verify.cell_subject import verify_cell
from emt.verify.judge import verify_weights
from emt.verify.model_subject import model_subject
from emt.verify.report import Report
from emt.verify.subject import Subject, load_subject

__all__ = ["judge_any", "verify_subject", "verify_loaded", "assert_emt"]


def judge_any(weights: RNNWeights | CellWeights, task: TaskSpec, **kwargs: Any) -> Report:
    """`verify_weights` for an Elman net, `verify_cell` for an LSTM, GRU or LRU (the same
    keyword arguments, the same two claims)."""
    if isinstance(weights, CellWeights):
        return verify_cell(weights, task, **kwargs)
    return verify_weights(weights, task, **kwargs)


def verify_subject(path: str | os.PathLike, task: TaskSpec | str | None = None,
                   cell: str | None = None, **kwargs: Any) -> Report:
    """Load a subject file or run directory (`verify.subject.load_subject`) and verify it;
    ``task`` may be a registered name; a run directory supplies its own task otherwise;
    ``cell`` names the cell the subject must hold."""
    spec = get_task(task) if isinstance(task, str) else task
    subj = load_subject(path, spec, cell)
    if subj.task is None:
        raise ValueError(f"{path}: no task given and the subject does not name one")
    return verify_loaded(subj, **kwargs)


def verify_loaded(subj: Subject, **kwargs: Any) -> Report:
    """Verify a loaded `verify.subject.Subject` (with its task) by its cell type."""
    if subj.task is None:
        raise ValueError(f"{subj.path}: no task given and the subject does not name one")
    return judge_any(subj.weights, subj.task, subject=str(subj.path),
                     subject_sha256=subj.sha256, convention=subj.convention, **kwargs)


def assert_emt(subject: RNNWeights | CellWeights | str | os.PathLike | Any,
               task: TaskSpec | str, *, claim: str = "effective", ground: str = "output",
               seed: int = 0, horizon: int = 200, readout: Any = None,
               **tolerances: float) -> Report:
    """Verify ``subject`` (weights, a path, or an in-memory model with its ``readout`` as for
    `verify.in_memory.verify_model`) against ``task`` and raise ``AssertionError``
    whose message is the verdicts and the report table when the selected ``claim``
    ("effective", "linear" or "both") does not hold; returns the report otherwise.

    Tolerances are keyword arguments with ``_`` for the first ``.``: ``spectrum_phase=0.01``,
    ``effective_loaded_state=0.99``, ``readout_margin=0.8``.
    """
    prefixes = ("spectrum_", "effective_", "binding_", "readout_")
    tols = {name.replace("_", ".", 1) if name.startswith(prefixes) else name: value
            for name, value in tolerances.items()}
    spec = get_task(task) if isinstance(task, str) else task
    options: dict[str, Any] = {"claim": claim, "ground": ground, "tolerances": tols,
                               "seed": seed, "horizon": horizon}
    if isinstance(subject, RNNWeights | CellWeights):
        report = judge_any(subject, spec, **options)
    elif isinstance(subject, str | os.PathLike):
        report = verify_subject(subject, spec, **options)
    else:  # torch, Keras or a mapping of arrays
        report = verify_loaded(model_subject(subject, spec, readout), **options)
    if not report.passed:
        raise AssertionError("\n".join([report.summary_line(), *report.verdict_lines(),
                                        report.table()]))
    return report

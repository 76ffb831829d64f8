"""Sweep configurations: a TOML grid of training + verification jobs, each keyed by a hash.

A sweep file has three tables (unknown tables or keys are an error, never silently ignored)::

    name = "table1-quick"            # optional label
    description = "..."              # optional

    [grid]                           # lists; the sweep is their Cartesian product
    task = ["T1", "T2"]              # registry names, or inline tables {s, d, ids} / {s, d, F}
    hidden = [128]
    l2 = [0.0]
    threshold = [0.96]               # curriculum threshold
    seed = [1, 2, 3]
    cell = ["rnn", "lstm"]           # optional: the recurrent cell (numerics.config.TRAIN_CELLS)

    [fixed]                          # one value for every job
    steps = 20000
    activation = "tanh"
    ground = "output"

A job is the full, explicit configuration of one run (every default filled in), and its key is
``sha256`` of the canonical JSON of that configuration with the task reduced to ``s``, ``d`` and
the exact ``F`` (task labels do not change the key; the composition does).  The key names the
job directory ``<sweep_dir>/runs/<key>/``, so re-running a sweep finds finished jobs by key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from emt.core.limits import check_at_most
from emt.core.safe_io import parse_toml, read_text
from emt.numerics.config import TrainConfig, default_curriculum
from emt.theory import registry
from emt.theory.task_files import parse_task_table
from emt.theory.taskspec import TaskSpec
from emt.verify.basis import GROUNDINGS

__all__ = [
    "GRID_KEYS",
    "OPTIONAL_GRID_KEYS",
    "FIXED_DEFAULTS",
    "SweepConfig",
    "load_sweep_config",
    "parse_sweep_config",
    "job_key",
    "job_task",
    "train_config",
]

GRID_KEYS = ("task", "hidden", "l2", "threshold", "seed")
# Grid keys a sweep may leave out.  A job carries ``cell`` only when the grid names it, so the
# keys (hashes) of sweeps written before cells existed, all Elman RNNs, stay what they were.
OPTIONAL_GRID_KEYS = ("cell",)

# Job keys are built from `TrainConfig`: its field defaults and types are the only statement of
# them.  Every job carries these training fields explicitly, so a job's key is the hash of its
# whole configuration and moves when a library default does (a different run); the other
# TrainConfig fields (lr, batch, clip, history_every, ...) enter a job when [fixed] sets them.
JOB_TRAIN_KEYS = ("activation", "steps", "curriculum", "test_horizon", "test_batches",
                  "checkpoint_every", "deterministic", "stop_when_learned")
# Keys consumed by the verification step (verify_weights), not by TrainConfig.
VERIFY_DEFAULTS: dict[str, Any] = {"ground": "output", "verify_horizon": 200, "verify_seed": 0}
VERIFY_KEYS = tuple(VERIFY_DEFAULTS)
_TOP_KEYS = {"name", "description", "grid", "fixed"}
_TRAIN_FIELDS = {f.name: f for f in fields(TrainConfig) if f.name != "task"}


def _json_default(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


FIXED_DEFAULTS: dict[str, Any] = {
    **{k: _json_default(_TRAIN_FIELDS[k].default) for k in JOB_TRAIN_KEYS},
    **VERIFY_DEFAULTS,
}
# The TOML types accepted for a TrainConfig field, from its annotation (TOML has no tuples:
# a tuple field is a list).  Ranges are TrainConfig's own checks (see `train_config`).
_TOML_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}
_VERIFY_TYPES: dict[str, tuple[type, ...]] = {"ground": (str,), "verify_horizon": (int,),
                                              "verify_seed": (int,)}


def _allowed_types(key: str) -> tuple[type, ...] | None:
    if key in _VERIFY_TYPES:
        return _VERIFY_TYPES[key]
    annotation = str(_TRAIN_FIELDS[key].type)
    if annotation.startswith("tuple"):
        return (list,)
    return _TOML_TYPES.get(annotation)


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: its label, the expanded jobs (full configs) in grid order."""

    name: str
    description: str
    grid: dict[str, list[Any]]
    fixed: dict[str, Any]
    jobs: tuple[dict[str, Any], ...] = field(repr=False)

    @property
    def keys(self) -> list[str]:
        return [job_key(job) for job in self.jobs]

    def to_json(self) -> dict[str, Any]:
        grid = dict(self.grid)
        grid["task"] = [_task_label(t) for t in grid["task"]]
        return {"name": self.name, "description": self.description, "grid": grid,
                "fixed": self.fixed, "n_jobs": len(self.jobs)}


def _task_label(entry: Any) -> str:
    return entry if isinstance(entry, str) else json.dumps(entry, sort_keys=True)


def _check_value(key: str, value: Any, where: str) -> Any:
    """Type-check one value (ranges are TrainConfig's, checked per job); floats as floats."""
    allowed = _allowed_types(key)
    if allowed is not None and (not isinstance(value, allowed)
                                or (isinstance(value, bool) and bool not in allowed)):
        raise ValueError(f"{where}: {key} must be {allowed[0].__name__}; got {value!r}")
    if key == "verify_horizon" and value < 1:
        raise ValueError(f"{where}: {key} must be a positive integer; got {value}")
    if key == "verify_seed" and value < 0:
        raise ValueError(f"{where}: {key} must be non-negative; got {value}")
    if key == "ground" and value not in GROUNDINGS:
        raise ValueError(f"{where}: ground must be one of {', '.join(GROUNDINGS)}; got "
                         f"{value!r}")
    if allowed == _TOML_TYPES["float"]:
        return float(value)
    return value


def job_task(job: dict[str, Any]) -> TaskSpec:
    """The `TaskSpec` a job trains on (rebuilt from its JSON, so workers need no registry)."""
    return TaskSpec.from_json(job["task"])


def _resolve_task(entry: Any, where: str) -> TaskSpec:
    if isinstance(entry, str):
        return registry.get(entry)  # ValueError naming the unknown task
    if isinstance(entry, dict):
        return parse_task_table(entry, where=f"{where}: inline task")  # the task-file rule
    raise ValueError(f"{where}: a task must be a registered name or an inline table; "
                     f"got {entry!r}")


def train_config(job: dict[str, Any]) -> TrainConfig:
    """The `TrainConfig` of a job (``ValueError`` naming the field if TrainConfig rejects it)."""
    kwargs = {k: v for k, v in job.items() if k != "task" and k not in VERIFY_KEYS}
    for key, value in kwargs.items():
        if isinstance(value, list):  # TOML lists stand for TrainConfig's tuples
            kwargs[key] = tuple(value)
    return TrainConfig(task=job_task(job), **kwargs)


def _allowed_fixed_keys() -> set[str]:
    return (set(_TRAIN_FIELDS) - set(GRID_KEYS)) | set(VERIFY_KEYS)


def job_key(job: dict[str, Any]) -> str:
    """``sha256`` (first 16 hex digits) of the canonical JSON of a job's full configuration.

    The task enters as ``s``, ``d`` and ``F`` only (its exact entries as strings), so renaming
    a task keeps its runs, and changing any composition entry makes a new job.
    """
    task = job["task"]
    payload = dict(job)
    payload["task"] = {"s": task["s"], "d": task["d"], "F": task["F"]}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# A sweep's name becomes a directory (sweeps/<name>): one plain path component, no separators,
# no "." or "..", no leading dot or dash, printable ASCII; long enough for any real label.
_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,99}")


def check_sweep_name(name: str, source: str = "sweep config") -> str:
    """``name`` if it is a plain file name (`_NAME_PATTERN`), else ``ValueError``: a name like
    ``"../../x"`` or ``"/etc"`` would place the sweep outside the sweeps directory."""
    if not _NAME_PATTERN.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"{source}: name {name[:120]!r} must be a plain file name: letters, "
                         "digits, '_', '.', '+', '-', at most 100 characters, not starting with "
                         "'.' or '-' (it names the directory sweeps/<name>)")
    return name


def profile_subset(name: str, chosen: list[Any] | None, allowed: list[Any], profile: str
                   ) -> list[Any]:
    """``chosen`` (``--seeds``, ``--cells``, ...) as a subset of a profile's ``allowed`` values, in
    the profile's order; all of them when ``chosen`` is None.  The jobs of a subset are the full
    profile's, so a later full run reuses them.  ``ValueError`` for an empty or outside choice."""
    if chosen is None:
        return list(allowed)
    if not chosen or any(c not in allowed for c in chosen):
        raise ValueError(f"--{name} must be a non-empty subset of the {profile} profile's "
                         f"{name} {allowed}; got {chosen}")
    return [a for a in allowed if a in chosen]


def _check_job_count(grid_in: dict[str, Any], source: str) -> None:
    """Count the jobs (the product of the grid's list lengths) before expanding or validating
    any of them: 10^6 jobs would take tens of minutes just to validate."""
    count = 1
    for key in GRID_KEYS + OPTIONAL_GRID_KEYS:
        values = grid_in.get(key)
        count *= len(values) if isinstance(values, list) else 1
    check_at_most(f"{source}: the number of jobs", count, "MAX_SWEEP_JOBS")


def parse_sweep_config(data: dict[str, Any], source: str = "sweep config") -> SweepConfig:
    """Validate a parsed TOML table and expand it into jobs.

    Raises ``ValueError`` naming the problem: unknown tables or keys, a missing or empty grid
    list, a wrong type or range, an unknown task.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a TOML table")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {sorted(unknown)}; "
                         f"allowed: {sorted(_TOP_KEYS)}")
    grid_in = data.get("grid")
    if not isinstance(grid_in, dict) or not grid_in:
        raise ValueError(f"{source}: missing or empty [grid] table (needs {', '.join(GRID_KEYS)})")
    unknown = set(grid_in) - set(GRID_KEYS) - set(OPTIONAL_GRID_KEYS)
    if unknown:
        raise ValueError(f"{source}: unknown [grid] key(s) {sorted(unknown)}; "
                         f"allowed: {', '.join(GRID_KEYS + OPTIONAL_GRID_KEYS)}")
    fixed_in = data.get("fixed", {})
    if not isinstance(fixed_in, dict):
        raise ValueError(f"{source}: [fixed] must be a table")
    unknown = set(fixed_in) - _allowed_fixed_keys()
    if unknown:
        raise ValueError(f"{source}: unknown [fixed] key(s) {sorted(unknown)}; "
                         f"allowed: {sorted(_allowed_fixed_keys())}")
    # an optional grid key may be fixed instead (e.g. [fixed] cell = "lstm"), not both
    clash = set(fixed_in) & (set(GRID_KEYS) | (set(grid_in) & set(OPTIONAL_GRID_KEYS)))
    if clash:
        raise ValueError(f"{source}: {sorted(clash)} are grid keys: set them in [grid] only, "
                         "not in [fixed]")

    _check_job_count(grid_in, source)
    grid: dict[str, list[Any]] = {}
    for key in GRID_KEYS + OPTIONAL_GRID_KEYS:
        values = grid_in.get(key)
        if values is None and key in OPTIONAL_GRID_KEYS:
            continue
        if values is None:
            raise ValueError(f"{source}: [grid] is missing {key!r}")
        if not isinstance(values, list):
            values = [values]
        if not values:
            raise ValueError(f"{source}: [grid] {key} is empty, so the sweep has no jobs")
        if key == "task":
            grid[key] = list(values)
        else:
            grid[key] = [_check_value(key, v, f"{source} [grid]") for v in values]
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ValueError(f"{source}: [grid] {key} lists a value twice: {values!r}")
    fixed = dict(FIXED_DEFAULTS)
    for key, value in fixed_in.items():
        fixed[key] = _check_value(key, value, f"{source} [fixed]")
    tasks = [_resolve_task(entry, f"{source} [grid] task") for entry in grid["task"]]

    jobs = []
    # the cell varies slowest, so a cell's jobs are contiguous (they train as groups)
    for cell, task, hidden, l2, threshold, seed in itertools.product(
        grid.get("cell", [None]), tasks, grid["hidden"], grid["l2"], grid["threshold"],
        grid["seed"]
    ):
        job = {"task": task.to_json(), "hidden": hidden, "l2": l2, "threshold": threshold,
               "seed": seed}
        if cell is not None:
            job["cell"] = cell
        job.update(fixed)
        if job["curriculum"] is None:  # the task's default, explicit in the job and its key
            batch = job.get("batch", _TRAIN_FIELDS["batch"].default)
            job["curriculum"] = list(default_curriculum(task, batch))
        jobs.append(job)
    for job in jobs:
        try:
            train_config(job)  # TrainConfig checks every range, before anything is written
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
    name = data.get("name", "sweep")
    description = data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise ValueError(f"{source}: name and description must be strings")
    check_sweep_name(name, source)
    return SweepConfig(name=name, description=description, grid=grid, fixed=fixed,
                       jobs=tuple(jobs))


def load_sweep_config(path: str | Path) -> SweepConfig:
    """Read and validate a sweep TOML file (``ValueError`` on malformed TOML or content)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"sweep config {str(path)!r} does not exist")
    # a regular file within MAX_TEXT_FILE_BYTES, nested at most MAX_NESTING deep
    data = parse_toml(read_text(path, "sweep config"), str(path))
    return parse_sweep_config(data, source=str(path))

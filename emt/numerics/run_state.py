"""One training run's state: its run directory, checkpoint, record, resume and curriculum rule.

Single training (`numerics.train`) and group training (`numerics.group`, one `RunState` per
member) keep a run in this one type, so a group member's directory is written, resumed and
extended exactly as ``emt train --seed N`` does it.

The curriculum rule: after a step at stage k (horizon ``curriculum[k]``) whose training batch
has sign accuracy a, the next step uses stage k + 1 if a > ``threshold`` and k is not the last
stage.  The run is done after ``steps`` steps, or (``stop_when_learned``) at the first step of
the last stage whose batch passes ``threshold``.

A run directory is opened (`opened_runs`) in three moves: every directory is checked (a live
lock, the kind of directory, the stored configuration, the checkpoint) before anything is
written; then each is made and locked (`numerics.runlock`); then checked again under the locks,
since another writer may have changed it in between.  A directory made here that never got a
run file is removed again if anything fails.  A finished run that trains again to more steps
(an *extension*) keeps its ``weights.npz`` and its finished record until the extension has
finished; ``model.json`` only gains an ``extension`` entry with the extension's progress.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emt.core.provenance import versions
from emt.numerics import rundir, runlock
from emt.numerics.config import TrainConfig
from emt.theory.taskspec import TaskSpec

__all__ = ["DATA_STREAM", "TEST_STREAM", "TrainResult", "RunState", "check_out_dir",
           "check_runs", "opened_runs", "stored_config", "run_files"]

DATA_STREAM, TEST_STREAM = 0xDA7A, 0x7E57


@dataclass
class TrainResult:
    weights: Any  # RNNWeights for the Elman RNN, numerics.cell_models.CellWeights otherwise
    history: list[dict]
    metrics: dict[str, Any]
    config: TrainConfig
    run_dir: Path | None = None
    advances: list[dict] = field(default_factory=list)


def run_files(out: Path) -> list[Path]:
    """What a directory holds, apart from its lock (and a competing writer's lock file)."""
    return [p for p in out.iterdir() if not runlock.is_lock_file(p.name)]


def check_out_dir(config: TrainConfig, out: Path, resume: bool, fresh: bool = False,
                  extend: bool = True) -> tuple[str, dict | None]:
    """Decide what to do with ``out`` before writing anything: ``("new", None)``,
    ``("resume", meta)`` or ``("done", meta)``; ValueError for a directory we must not touch
    (``fresh``: anything but an absent or empty directory; ``extend=False``: a run that has
    finished at another number of steps)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a directory")
    if not out.exists() or (not resume and not run_files(out)):
        if resume:
            raise FileNotFoundError(f"{out}: no such run directory to resume")
        return "new", None
    if not rundir.is_run_dir(out):
        raise ValueError(f"{out}: exists and is not a run directory (no {rundir.MODEL_JSON}); "
                         "choose a new --out")
    if fresh:
        raise ValueError(f"{out}: holds a run already; continue or extend it with `emt train "
                         f"--resume {out} [--steps N]`, or choose a new --out")
    meta = rundir.read_model_json(out)
    stored = TrainConfig.from_hyper_parameters(TaskSpec.from_json(meta["task"]), meta["config"])
    diff = config.differences(stored)
    if diff:
        raise ValueError(f"{out}: holds a run of a different configuration ({', '.join(diff)} "
                         "differ); choose a new --out")
    if meta["status"] == "finished" and meta.get("steps_done") == config.steps:
        return "done", meta
    if meta["status"] == "finished" and not extend:
        raise ValueError(f"{out}: holds a run finished at step {meta['steps_done']}; extend it "
                         f"to {config.steps} steps with `emt train --resume` (on the group's "
                         "directory for a group), or choose a new --out")
    if not (out / rundir.CHECKPOINT).is_file():
        raise ValueError(f"{out}: no checkpoint to resume from ({rundir.CHECKPOINT} is "
                         "missing); the run cannot continue -- start a new run with a new --out")
    return "resume", meta


def stored_config(run_dir: str | os.PathLike, steps: int | None = None) -> TrainConfig:
    """The configuration stored in ``run_dir``'s ``model.json``, with a new total ``steps``
    if given (by default the stored one, or the target of an interrupted extension)."""
    meta = rundir.read_model_json(run_dir)
    params = dict(meta["config"])
    extension = meta.get("extension")
    if steps is not None:
        params["steps"] = steps
    elif isinstance(extension, dict) and isinstance(extension.get("steps"), int):
        params["steps"] = extension["steps"]
    return TrainConfig.from_hyper_parameters(TaskSpec.from_json(meta["task"]), params)


class RunState:
    """A run's loop state (step, curriculum stage, data generator, history, advances) and,
    with ``out``, its run directory: restored from ``checkpoint``, saved by `save`.
    ``finished``: the record of a finished run being extended (kept until `finish`)."""

    def __init__(self, config: TrainConfig, out: Path | None = None,
                 checkpoint: tuple[dict, dict, np.random.Generator] | None = None,
                 finished: dict | None = None) -> None:
        self.config, self.out, self.finished_record = config, out, finished
        self.rng = np.random.default_rng(np.random.SeedSequence([config.seed, DATA_STREAM]))
        self.step, self.stage, self.history, self.advances = 0, 0, [], []
        self.wall_before = 0.0
        self.arrays: dict[str, np.ndarray] | None = None  # the network's state to load
        self.loss, self.acc = math.nan, math.nan
        if checkpoint is not None:  # its fields' types and ranges: rundir.load_checkpoint
            self.arrays, ck, self.rng = checkpoint
            self.step, self.stage = ck["step"], ck["stage"]
            self.history, self.advances = list(ck["history"]), list(ck.get("advances", []))
            self.wall_before = float(ck.get("wall_time_s", 0.0))
            if self.step > config.steps:
                raise ValueError(f"{out}: the checkpoint is at step {self.step}, beyond "
                                 f"steps = {config.steps}")
            if not self.stage < len(config.curriculum):
                raise ValueError(f"{out}: corrupt checkpoint (curriculum stage {self.stage})")
        self.first_step = self.step
        self.done = self.step >= config.steps
        self.final = False
        self.t_start = time.monotonic()
        self.base_meta: dict[str, Any] = {}

    @property
    def horizon(self) -> int:
        return self.config.curriculum[self.stage]

    def provenance(self) -> dict[str, Any]:
        """The exported weights' provenance."""
        return {"source": "emt train", "task": self.config.task.label, "seed": self.config.seed,
                "run_dir": str(self.out) if self.out else None}

    def after_step(self, loss: float, acc: float, H: int) -> None:
        """The bookkeeping after one update at horizon ``H``: history, the curriculum rule,
        ``done``; FloatingPointError if the loss is not finite."""
        c = self.config
        self.loss, self.acc = loss, acc
        self.step += 1
        if not math.isfinite(loss):
            raise FloatingPointError(f"training diverged: loss {loss} at step {self.step}")
        if self.step % c.history_every == 0:
            self.history.append({"step": self.step, "loss": loss, "accuracy": acc, "H": H})
        last = self.stage == len(c.curriculum) - 1
        if acc > c.threshold and not last:
            self.stage += 1
            self.advances.append({"step": self.step, "to_H": c.curriculum[self.stage]})
        if self.step >= c.steps or (c.stop_when_learned and last and acc > c.threshold):
            self.done = True

    @property
    def checkpoint_due(self) -> bool:
        """Whether to checkpoint now (a finished run's final save is `finish`'s)."""
        return (self.out is not None and not self.done
                and self.step % self.config.checkpoint_every == 0)

    def begin(self, arrays: dict[str, np.ndarray], t_start: float) -> None:
        """Training starts (``t_start``: when its process began): a run that trains again is
        not finished, so stale final weights go, unless a finished run is being extended."""
        self.t_start = t_start
        self.base_meta = {"task": self.config.task.to_json(), "cell": self.config.cell,
                          "config": self.config.hyper_parameters(), "seed": self.config.seed,
                          "versions": versions()}
        if self.out is not None:
            if self.finished_record is None:
                (self.out / rundir.WEIGHTS).unlink(missing_ok=True)
            self.save(arrays, "running")

    def save(self, arrays: dict[str, np.ndarray], status: str, metrics: dict | None = None,
             error: str | None = None) -> None:
        """Write the checkpoint (the network's ``arrays`` and this state), then ``model.json``."""
        if self.out is None:
            return
        wall = self.wall_before + time.monotonic() - self.t_start
        rundir.save_checkpoint(self.out, arrays, self.step, self.stage, self.rng, self.history,
                               {"advances": self.advances, "wall_time_s": wall})
        if self.finished_record is not None and status != "finished" and not self.final:
            # Extending a finished run: its record and weights.npz stay what they were until
            # the extension has finished; model.json only notes the extension's progress.
            extension = {"status": status, "steps": self.config.steps, "steps_done": self.step}
            if error:
                extension["error"] = error
            rundir.write_model_json(self.out, {
                **{k: v for k, v in self.finished_record.items() if k != "format"},
                "extension": extension})
            return
        meta = {**self.base_meta, "status": status, "steps_done": self.step,
                "horizon": self.horizon, "history": self.history,
                "curriculum_advances": self.advances, "metrics": metrics, "wall_time_s": wall}
        if error:
            meta["error"] = error
        rundir.write_model_json(self.out, meta)

    def finish(self, weights: Any, arrays: dict[str, np.ndarray], evaluation: dict[str, Any],
               train_wall: float) -> TrainResult:
        """The run is done: its metrics (``evaluation`` of the exported ``weights`` plus the
        loop's), the final checkpoint (so it can be extended later), ``weights.npz`` and the
        finished record.  An extended run's old record is replaced before its weights: never
        an old record beside new weights."""
        metrics = {**evaluation, "final_loss": self.loss, "final_batch_accuracy": self.acc,
                   "steps_done": self.step, "final_horizon": self.horizon,
                   "wall_time_s": self.wall_before + time.monotonic() - self.t_start,
                   "steps_per_s": ((self.step - self.first_step) / train_wall
                                   if train_wall > 0 else None)}
        if self.out is not None:
            self.final = True
            self.save(arrays, "running")
            rundir.save_final_weights(self.out, weights)
            self.save(arrays, "finished", metrics)
        return TrainResult(weights, self.history, metrics, self.config, self.out, self.advances)


def _open(config: TrainConfig, out: Path | None, resume: bool, fresh: bool, extend: bool
          ) -> RunState | TrainResult:
    """The run in ``out``: a `RunState` to train, or the `TrainResult` of a run finished at
    ``config.steps``.  Reads only."""
    if out is None:
        return RunState(config)
    mode, meta = check_out_dir(config, out, resume, fresh, extend)
    if mode == "done":
        weights, _, meta = rundir.load_run(out)
        return TrainResult(weights, meta.get("history", []), meta["metrics"], config, out,
                           meta.get("curriculum_advances", []))
    checkpoint = rundir.load_checkpoint(out) if mode == "resume" else None
    finished = meta if meta is not None and meta["status"] == "finished" else None
    return RunState(config, out, checkpoint, finished)


def _made_dirs(out: Path) -> list[Path]:
    """Make ``out`` (and missing parents); return what was made, outermost first."""
    missing = [p for p in (out, *out.parents) if not p.exists()]
    out.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


@contextlib.contextmanager
def _claimed(outs: Sequence[Path | None]) -> Iterator[None]:
    """Make and lock every directory of ``outs`` for the block; afterwards release the locks
    and remove the directories made here that hold no run file (nothing was written)."""
    made: list[Path] = []
    held: list[Path] = []
    try:
        for out in outs:
            if out is not None:
                made += _made_dirs(out)
                runlock.acquire(out)
                held.append(out)
        yield
    finally:
        for out in held:
            runlock.release(out)
        for path in reversed(made):  # innermost first
            with contextlib.suppress(OSError):
                if not run_files(path):
                    path.rmdir()


def check_runs(configs: Sequence[TrainConfig], outs: Sequence[Path | None], *,
               resume: bool = False, fresh: bool = False, extend: bool = True) -> list[bool]:
    """Every check of `opened_runs` (a live lock, the directory, the configuration, the
    checkpoint) without writing anything; per run, whether it is finished (nothing to train)."""
    for out in outs:
        if out is not None and out.is_dir() and runlock.holder(out) is not None:
            runlock.acquire(out)  # a live holder: RunLockedError before anything else is said
            runlock.release(out)  # (a stale lock of a dead writer was just cleared)
    # every check (_open reads only); nothing is written yet
    return [isinstance(_open(config, out, resume, fresh, extend), TrainResult)
            for config, out in zip(configs, outs, strict=True)]


@contextlib.contextmanager
def opened_runs(configs: Sequence[TrainConfig], outs: Sequence[Path | None], *,
                resume: bool = False, fresh: bool = False, extend: bool = True
                ) -> Iterator[list[RunState | TrainResult]]:
    """The runs of ``configs`` in ``outs`` (see the module docstring), locked for the block:
    each a `RunState` to train or the `TrainResult` of a finished run.  ``resume``: each must
    hold a run; ``fresh``: none may; ``extend=False``: none may be a finished run to extend."""
    check_runs(configs, outs, resume=resume, fresh=fresh, extend=extend)
    with _claimed(outs):
        yield [_open(config, out, resume, fresh, extend)
               for config, out in zip(configs, outs, strict=True)]

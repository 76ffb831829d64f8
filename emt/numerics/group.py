"""Training a group of same-shape networks at once, each exactly as `numerics.train.train` would.

``train_group(configs, out_dirs)`` trains K `TrainConfig` s that agree on the shape of the step
(``cell``, ``task.s``, ``task.d``, ``hidden``, ``activation``, ``batch``, ``deterministic``:
see `group_key`) with one compiled step: `numerics.group_step_rnn.BatchedRNN` for the Elman RNN,
`numerics.group_step_cell.BatchedCellNet` for the LSTM, GRU and LRU (the same interface).
Everything else is the member's own: seed (initial weights, data stream, test batches), task
composition F, L2, lr, clip, curriculum and its threshold, steps, early stop, checkpoint and
history cadence.

Each member is a `numerics.run_state.RunState`, the single run's state, and follows the
single-run loop of `numerics.train`: a fresh batch at its own horizon
from its own seeded generator, the update with its own Adam state, its own curriculum stage
(members advance independently; members at one horizon are trained by one call of the compiled
step on their rows of the stacked variables, so none computes time steps it does not use), its
own history, checkpoints and run directory, written exactly as ``emt train --seed N`` writes
them (same files, same fields, same checkpoint arrays, so a member's run directory can also be
resumed alone).  A member that finishes (its steps are done, or ``stop_when_learned``) is
evaluated, written, and leaves the group, so it stops costing time; a member whose loss turns
non-finite is recorded as interrupted with the error and leaves the group while the others go
on.  Rerunning a killed group with the same configs and directories resumes every member from
its checkpoint; finished members are returned as they are; a finished member given more
steps keeps its weights until its extension has finished (`resume_group` on the directory of
``emt train --seeds``).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emt.core.limits import check_at_most
from emt.core.progress import Progress
from emt.numerics import rundir
from emt.numerics.cell_models import init_cell_params
from emt.numerics.config import TrainConfig
from emt.numerics.data import make_batches
from emt.numerics.group_step_cell import BatchedCellNet
from emt.numerics.group_step_rnn import BatchedRNN
from emt.numerics.model import init_weights
from emt.numerics.run_state import RunState, TrainResult, opened_runs, stored_config
from emt.numerics.train import evaluate
from emt.numerics.train_setup import StopFlag, setup_tf, threads_from_env

__all__ = ["GroupResult", "group_key", "check_group", "train_group", "resume_group",
           "group_members", "group_threads", "usable_cores"]

# A group's member directories, as `emt train --seeds` names them.
MEMBER_DIR = re.compile(r"seed-(0|[1-9][0-9]{0,17})")


def group_key(config: TrainConfig) -> tuple:
    """What members of one group must share: the shape of the step and op determinism."""
    return (config.cell, config.task.s, config.task.d, config.hidden, config.activation,
            config.batch, config.deterministic)


@dataclass
class GroupResult:
    """Per member (in the order given): its `TrainResult`, or ``None`` and the error that
    stopped it.  ``model_steps``: member-steps the group computed (a finished member adds none);
    ``padded_fraction``: the share of time steps that one call padded to the longest current
    horizon would have spent on padding; the horizon buckets did not compute them (0 when the
    members' horizons never differed)."""

    results: list[TrainResult | None]
    errors: list[str | None]
    model_steps: int = 0
    padded_fraction: float = 0.0
    wall_time_s: float = 0.0
    sizes: list[int] = field(default_factory=list, repr=False)  # K at every group step
    time_steps: int = field(default=0, repr=False)  # member time steps computed (s + H each)
    padding_avoided: int = field(default=0, repr=False)  # padded steps the buckets saved

    @property
    def ok(self) -> bool:
        return all(e is None for e in self.errors)


def check_group(configs: Sequence[TrainConfig], out_dirs: Sequence[Any] | None
                ) -> list[Path | None]:
    """The members' output directories (``None`` each without ``out_dirs``); ValueError for a
    group that cannot train as one (no members, different step shapes, shared or missing
    directories)."""
    if not isinstance(configs, list | tuple) or not configs:
        raise ValueError("train_group needs a non-empty list of TrainConfig")
    check_at_most("members of one group", len(configs), "MAX_GROUP_MEMBERS")
    for c in configs:
        if not isinstance(c, TrainConfig):
            raise ValueError(f"every member must be a TrainConfig; got {type(c).__name__}")
    keys = {group_key(c) for c in configs}
    if len(keys) > 1:
        raise ValueError("members of a group must share the cell, task s and d, hidden, "
                         f"activation, batch and deterministic; got {len(keys)} different shapes")
    if out_dirs is None:
        return [None] * len(configs)
    if len(out_dirs) != len(configs):
        raise ValueError(f"{len(out_dirs)} output directories for {len(configs)} members")
    outs = [Path(o) for o in out_dirs]
    if len({p.resolve() for p in outs}) != len(outs):
        raise ValueError("two members of a group cannot share an output directory")
    return list(outs)


def train_group(configs: Sequence[TrainConfig], out_dirs: Sequence[str | os.PathLike] | None
                = None, progress: bool = True, resume: bool = False, extend: bool = True,
                threads: int | None = None, report: Callable[[int, int], None] | None = None
                ) -> GroupResult:
    """Train every config of a group in one compiled step (see the module docstring).

    ``out_dirs`` (one per member, or ``None`` for no run directories) follow `train`'s rules
    (`numerics.run_state.opened_runs`): each must be new/empty or hold a run of the same
    configuration, which is resumed from its checkpoint or, when finished with the same steps,
    returned as is; a finished run given more steps is extended, keeping its weights until
    its extension finishes.  ``resume=True``: every directory must hold a run;
    ``extend=False``: a finished run to extend is refused (the command line without
    ``--resume``).  Every directory and checkpoint is checked before anything is written, and
    again under the locks, which every member directory holds while the group trains.
    ``threads``: TensorFlow's threads (default `group_threads`); ``report(steps, model_steps)``
    is called after every group step (the members' steps done so far, the model-steps
    computed), e.g. to show a process's progress elsewhere.
    """
    outs = check_group(configs, out_dirs)
    n = len(configs)
    group = GroupResult([None] * n, [None] * n)
    with opened_runs(configs, outs, resume=resume, extend=extend) as runs:
        members: dict[int, RunState] = {}
        for i, run in enumerate(runs):
            if isinstance(run, TrainResult):
                group.results[i] = run
            else:
                members[i] = run
        if members:
            _run(members, group, progress, threads, report)
    return group


def group_members(group_dir: str | os.PathLike) -> list[Path]:
    """The run directories ``seed-N`` directly under ``group_dir`` (as ``emt train --seeds``
    writes them), by N; empty when there are none or ``group_dir`` is itself a run."""
    root = Path(group_dir)
    if not root.is_dir() or rundir.is_run_dir(root):
        return []
    found = [p for p in root.iterdir() if MEMBER_DIR.fullmatch(p.name) and rundir.is_run_dir(p)]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def resume_group(group_dir: str | os.PathLike, steps: int | None = None,
                 progress: bool = True) -> GroupResult:
    """Continue (or, with more ``steps``, extend) every member run of ``group_dir`` as one
    group, each with its stored configuration (see `numerics.run_state.stored_config`)."""
    members = group_members(group_dir)
    if not members:
        raise ValueError(f"{group_dir}: holds no member runs (seed-N/{rundir.MODEL_JSON})")
    configs = [stored_config(m, steps) for m in members]
    return train_group(configs, members, progress=progress, resume=True)


def _run(members: dict[int, RunState], group: GroupResult, progress: bool,
         threads: int | None, report: Callable[[int, int], None] | None) -> None:
    t_start = time.monotonic()
    first = next(iter(members.values())).config
    setup_tf(first.seed, first.deterministic, group_threads() if threads is None else threads)
    order = list(members)  # member index at each position of the net
    net = _group_net([members[i].config for i in order])
    for pos, i in enumerate(order):
        arrays = members[i].arrays
        if arrays is not None:
            try:
                net.load_state_arrays(pos, arrays)
            except ValueError as exc:
                raise ValueError(f"{members[i].out}: corrupt checkpoint ({exc})") from None
            members[i].arrays = None
    for pos, i in enumerate(order):
        members[i].begin(net.state_arrays(pos), t_start)
    tasks: list[Any] = []  # the distinct tasks: members of one task share make_batches
    for m in members.values():
        if m.config.task not in tasks:
            tasks.append(m.config.task)
    task_of = {i: tasks.index(m.config.task) for i, m in members.items()}
    t_loop = time.monotonic()
    total_steps = sum(m.config.steps for m in members.values())
    try:
        with StopFlag() as stop, Progress("emt train (group)", total_steps,
                                          enabled=progress) as bar:
            while order:
                done = [pos for pos, i in enumerate(order) if members[i].done]
                order = _finish(members, order, done, net, group, t_loop)
                if not order:
                    break
                if stop.requested:
                    raise KeyboardInterrupt
                failed = _step(members, order, net, group, tasks, task_of)
                if failed:
                    keep = [p for p in range(len(order)) if p not in failed]
                    order = [order[p] for p in keep]
                    if order:
                        net.keep(keep)
                steps_done = sum(m.step for m in members.values())
                bar.update(steps_done, _progress_status(members, order, group.model_steps,
                                                        time.monotonic() - t_loop))
                if report is not None:
                    report(steps_done, group.model_steps)
    except BaseException as exc:
        error = ("interrupted by the user (Ctrl-C)" if isinstance(exc, KeyboardInterrupt)
                 else f"{type(exc).__name__}: {exc}")
        for pos, i in enumerate(order):
            members[i].save(net.state_arrays(pos), "interrupted", error=error)
        if progress and isinstance(exc, KeyboardInterrupt):
            print("interrupted; every member's checkpoint saved", file=sys.stderr)
        raise
    full = group.time_steps + group.padding_avoided
    group.padded_fraction = group.padding_avoided / full if full else 0.0
    group.wall_time_s = time.monotonic() - t_start


def _step(members: dict[int, RunState], order: list[int], net: Any, group: GroupResult,
          tasks: list[Any], task_of: dict[int, int]) -> list[int]:
    """One step of every member at position ``order``, in horizon buckets: the members at one
    curriculum horizon H are one call of the compiled step on their rows of the net, so no
    member computes a time step it does not use.  Every bucket's data is drawn first (from
    each member's own generator, `make_batches` per task), so an interruption while drawing
    leaves every member at the same step.  Returns the positions whose loss was not finite
    (recorded as interrupted)."""
    buckets: dict[int, list[int]] = {}
    for pos, i in enumerate(order):
        buckets.setdefault(members[i].horizon, []).append(pos)
    first = members[order[0]].config
    data = []
    for H, positions in sorted(buckets.items()):
        # Within a bucket, members of one task are consecutive: one make_batches call each.
        positions.sort(key=lambda p: task_of[order[p]])
        parts = [make_batches(tasks[t], first.batch, H, [members[order[p]].rng for p in ps])
                 for t, ps in _by_task(order, positions, task_of)]
        u, x = (parts[0][j] if len(parts) == 1 else np.concatenate([p[j] for p in parts])
                for j in (0, 1))
        data.append((H, positions, u, np.asarray(x, np.float32)))
    H_max = max(buckets)
    for H, positions in buckets.items():
        group.time_steps += len(positions) * (first.task.s + H)
        group.padding_avoided += len(positions) * (H_max - H)
    failed = []
    for H, positions, u, x in data:
        cfg = [members[order[p]].config for p in positions]
        loss_t, acc_t = net.train_members(
            np.array(positions, np.int32), u, x, np.full(len(positions), H, np.int32),
            np.array([c.lr for c in cfg], np.float32), np.array([c.clip for c in cfg],
                                                                np.float32),
            np.array([c.l2 for c in cfg], np.float32))
        losses, accs = loss_t.numpy(), acc_t.numpy()
        group.model_steps += len(positions)
        for j, pos in enumerate(positions):
            i = order[pos]
            m = members[i]
            try:
                m.after_step(float(losses[j]), float(accs[j]), H)
            except FloatingPointError as exc:
                group.errors[i] = f"{type(exc).__name__}: {exc}"
                m.save(net.state_arrays(pos), "interrupted", error=group.errors[i])
                failed.append(pos)
                continue
            if m.checkpoint_due:
                m.save(net.state_arrays(pos), "running")
    group.sizes.append(len(order))
    return sorted(failed)


def _by_task(order: list[int], positions: list[int], task_of: dict[int, int]
             ) -> list[tuple[int, list[int]]]:
    """``positions`` (sorted by task) cut into runs of one task: ``(task number, positions)``."""
    out: list[tuple[int, list[int]]] = []
    for p in positions:
        if out and out[-1][0] == task_of[order[p]]:
            out[-1][1].append(p)
        else:
            out.append((task_of[order[p]], [p]))
    return out


def _group_net(configs: Sequence[TrainConfig]) -> Any:
    """The compiled K-network step for the group's cell, from each member's initial weights
    (drawn as `numerics.train` draws them for a single run)."""
    first = configs[0]
    if first.cell == "rnn":
        return BatchedRNN([init_weights(c.hidden, c.task.d, c.activation, c.seed)
                           for c in configs], first.task.s)
    return BatchedCellNet(first.cell, [init_cell_params(c.cell, c.hidden, c.task.d, c.seed)
                                       for c in configs], first.task.s)


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def group_threads(processes: int = 1) -> int:
    """TensorFlow threads for each of ``processes`` group processes sharing the machine:
    ``EMT_TF_THREADS`` if set (0 = TensorFlow's default), else its share of the usable cores
    (at least 1).  One process alone takes every core: a group's batched products split over
    the model axis, which threads cannot do for one network; but one 1-thread group per core
    (`numerics.group_layout`, the default of ``emt train --seeds``) was faster still for
    ``--seeds 1 .. 8`` on 2 cores (benchmarks/RESULTS.md)."""
    if "EMT_TF_THREADS" in os.environ:
        return threads_from_env()
    return max(1, usable_cores() // max(1, processes))


def _finish(members: dict[int, RunState], order: list[int], done: list[int], net: Any,
            group: GroupResult, t_loop: float) -> list[int]:
    """Evaluate and write the members at positions ``done``; return the order without them
    (and shrink the net, so finished members stop costing time)."""
    if not done:
        return order
    for pos in done:
        i = order[pos]
        m = members[i]
        train_wall = time.monotonic() - t_loop
        weights = net.weights(pos, m.provenance())
        group.results[i] = m.finish(weights, net.state_arrays(pos),
                                    evaluate(weights, m.config.task, m.config), train_wall)
    keep = [p for p in range(len(order)) if p not in done]
    if keep:
        net.keep(keep)
    return [order[p] for p in keep]


def _progress_status(members: dict[int, RunState], order: list[int], model_steps: int,
                     elapsed: float) -> str:
    """The progress bar's status: members still training, their step and horizon ranges."""
    steps = [members[i].step for i in order] or [0]
    Hs = [members[i].horizon for i in order] or [0]
    return (f"{len(order)}/{len(members)} training, steps {min(steps)}-{max(steps)}, "
            f"H {min(Hs)}-{max(Hs)}, {model_steps / max(elapsed, 1e-9):.1f} model-steps/s")

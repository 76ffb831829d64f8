"""A group's layout on the machine: its members split into one 1-thread group per core, each
group trained by `numerics.group.train_group` in its own process.

Why (benchmarks/RESULTS.md, the paper's model on 2 shared cores): for ``--seeds 1 .. 8``, two
1-thread processes of 4 members ran 2.3x the model-steps/s of one 2-thread process of 8 in the
quietest round measured, 1.12x in the median round under other jobs' load. The batched products
are small (64 x 128 by 128 x 128 per member and time step), so a second thread mostly adds
synchronisation, while a second process runs a second recurrence with no synchronisation at all.

``train_group_layout(configs, out_dirs, processes=P)`` checks the whole group (shapes, every
directory and checkpoint) before anything is written, as `train_group` does, then cuts the
members that still have steps to train into P contiguous sub-groups and trains each in a process
started with ``spawn`` (a fresh interpreter: TensorFlow's threads are limited before it starts).
Members are independent: a member's data, curriculum and updates are its own whatever group it
is in, and its run directory is the one ``emt train --seed N`` writes. Its weights equal the
whole group's to float32 round-off, not always bit for bit: the batched products may sum in
another order for another number of members (measured at N_h 128, T1, 400 steps: one group of 8
against two of 4, max |dW| 2.5e-7 to 6.9e-7, the size of the difference between a member and its
single run; at N_h 16 the tests find equal bits). The parent shows one progress line, forwards
Ctrl-C to every child until each has saved its members' checkpoints, then raises
KeyboardInterrupt (exit 130 from the CLI, as for one process); an error a child raised (a
ValueError found under the locks, say) is raised again in the parent; a child that died without
a word leaves its members failed with its exit status. ``P`` is ``processes`` (``emt train
--group-processes``), else ``EMT_GROUP_PROCESSES``, else the number of usable cores, and never
more than the members to train; ``P = 1`` trains in this process on every core
(`numerics.group.group_threads`).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, cast

from emt.core.limits import env_int
from emt.core.progress import Progress
from emt.core.threads import limit_threads
from emt.numerics import rundir
from emt.numerics.config import TrainConfig
from emt.numerics.group import (
    GroupResult,
    check_group,
    group_members,
    group_threads,
    train_group,
    usable_cores,
)
from emt.numerics.run_state import check_runs, stored_config
from emt.numerics.train_setup import StopFlag

__all__ = ["GROUP_PROCESSES_ENV", "group_processes", "split_members", "train_group_layout",
           "resume_group_layout"]

GROUP_PROCESSES_ENV = "EMT_GROUP_PROCESSES"
# How often a child reports its progress, and how often the parent repeats a Ctrl-C to children
# still starting up (they ignore it until their training loop can stop cleanly).
REPORT_EVERY_S = 0.5
# How long a child may take to stop after the parent itself failed, before it is terminated.
CHILD_STOP_S = 30.0


def group_processes(members: int, requested: int | None = None) -> int:
    """Processes for a group of ``members`` to train: ``requested``, else
    ``EMT_GROUP_PROCESSES``, else the usable cores; at most ``members``, at least 1."""
    if requested is None:
        requested = env_int(GROUP_PROCESSES_ENV, 0, minimum=0) or usable_cores()
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ValueError(f"group processes must be an integer >= 1; got {requested!r}")
    return max(1, min(requested, members))


def split_members(n: int, parts: int) -> list[list[int]]:
    """``0..n-1`` cut into ``parts`` contiguous runs of near-equal size (none empty)."""
    parts = max(1, min(parts, n))
    bounds = [round(i * n / parts) for i in range(parts + 1)]
    return [list(range(a, b)) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def train_group_layout(configs: Sequence[TrainConfig],
                       out_dirs: Sequence[str | os.PathLike] | None = None, *,
                       processes: int | None = None, progress: bool = True,
                       resume: bool = False, extend: bool = True) -> GroupResult:
    """`numerics.group.train_group` of ``configs`` laid out as one group per process (see the
    module docstring); the same arguments, results and errors."""
    outs = check_group(configs, out_dirs)
    finished = check_runs(configs, outs, resume=resume, extend=extend)
    todo = [i for i, done in enumerate(finished) if not done]
    P = group_processes(max(1, len(todo)), processes)
    if P == 1:
        return train_group(configs, _dirs(outs), progress=progress, resume=resume,
                           extend=extend)
    n = len(configs)
    group = GroupResult([None] * n, [None] * n)
    done = [i for i, f in enumerate(finished) if f]
    if done:  # returned as they are, without TensorFlow
        _merge(group, done, train_group([configs[i] for i in done],
                                        _dirs([outs[i] for i in done]), progress=False,
                                        resume=resume, extend=extend))
    parts = [[todo[j] for j in part] for part in split_members(len(todo), P)]
    _run_children(configs, outs, parts, group, progress, resume, extend)
    return group


def resume_group_layout(group_dir: str | os.PathLike, steps: int | None = None,
                        progress: bool = True, processes: int | None = None) -> GroupResult:
    """`numerics.group.resume_group` laid out as `train_group_layout` lays a group out."""
    members = group_members(group_dir)
    if not members:
        raise ValueError(f"{group_dir}: holds no member runs (seed-N/{rundir.MODEL_JSON})")
    return train_group_layout([stored_config(m, steps) for m in members], members,
                              processes=processes, progress=progress, resume=True)


def _dirs(outs: list[Path | None]) -> list[Path] | None:
    """The run directories of `check_group`'s ``outs``; None for a group without them."""
    dirs = [o for o in outs if o is not None]
    return dirs if len(dirs) == len(outs) else None


def _merge(group: GroupResult, indices: list[int], part: GroupResult) -> None:
    """Add a sub-group's results (its members are ``indices`` of the whole group)."""
    for j, i in enumerate(indices):
        group.results[i], group.errors[i] = part.results[j], part.errors[j]
    group.model_steps += part.model_steps
    group.time_steps += part.time_steps
    group.padding_avoided += part.padding_avoided
    full = group.time_steps + group.padding_avoided
    group.padded_fraction = group.padding_avoided / full if full else 0.0
    group.wall_time_s = max(group.wall_time_s, part.wall_time_s)
    group.sizes = [a + b for a, b in _zip_longest(group.sizes, part.sizes)]


def _zip_longest(a: list[int], b: list[int]) -> list[tuple[int, int]]:
    n = max(len(a), len(b))
    return [(a[k] if k < len(a) else 0, b[k] if k < len(b) else 0) for k in range(n)]


def _child(conn: Connection, configs: list[TrainConfig], outs: list[Path | None],
           resume: bool, extend: bool, threads: int) -> None:
    """A child process: train one sub-group on ``threads`` threads and send its outcome."""
    # Ctrl-C is ignored until the training loop's StopFlag takes it (the loop then stops between
    # steps with every checkpoint saved); the parent repeats it until this process has ended.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)  # before TensorFlow starts in this fresh interpreter
    last = [0.0]

    def report(steps: int, model_steps: int) -> None:
        now = time.monotonic()
        if now - last[0] >= REPORT_EVERY_S:
            last[0] = now
            conn.send(("progress", (steps, model_steps)))

    try:
        part = train_group(configs, _dirs(outs),
                           progress=False, resume=resume, extend=extend, threads=threads,
                           report=report)
        conn.send(("done", part))
    except KeyboardInterrupt:
        conn.send(("interrupted", None))
    except BaseException as exc:  # noqa: BLE001 - sent to the parent, which raises it
        conn.send(("error", _portable(exc)))
    finally:
        conn.close()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling between processes, else a RuntimeError naming it."""
    try:
        pickle.loads(pickle.dumps(exc))  # our own bytes, not a user file
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _run_children(configs: Sequence[TrainConfig], outs: list[Path | None],
                  parts: list[list[int]], group: GroupResult, progress: bool, resume: bool,
                  extend: bool) -> None:
    """Train each of ``parts`` in its own process; merge their results into ``group``."""
    ctx = multiprocessing.get_context("spawn")
    threads = group_threads(len(parts))
    children: dict[Connection, tuple[Any, list[int]]] = {}
    interrupted, errors = False, cast(list[BaseException], [])
    total = sum(configs[i].steps for part in parts for i in part)
    t0, last_signal = time.monotonic(), 0.0
    try:
        # Ctrl-C becomes a flag before the first child starts: no child is left behind.
        with StopFlag() as stop, Progress("emt train (group)", total, enabled=progress) as bar:
            for part in parts:
                ours, theirs = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(theirs, [configs[i] for i in part],
                                                        [outs[i] for i in part], resume,
                                                        extend, threads),
                                   name=f"emt-group-{part[0]}")
                proc.start()
                theirs.close()
                children[ours] = (proc, part)
            steps = {conn: (0, 0) for conn in children}
            while children:
                ready = cast(list[Connection], wait(list(children), timeout=REPORT_EVERY_S))
                for conn in ready:
                    proc, part = children[conn]
                    try:
                        kind, payload = conn.recv()
                    except EOFError:  # the child has ended (its outcome, if any, came first)
                        proc.join()
                        if all(group.results[i] is None and group.errors[i] is None
                               for i in part) and not interrupted and proc.exitcode:
                            for i in part:
                                group.errors[i] = (f"its training process exited with status "
                                                   f"{proc.exitcode}")
                        del children[conn]
                        continue
                    if kind == "progress":
                        steps[conn] = payload
                    elif kind == "done":
                        _merge(group, part, payload)
                    elif kind == "interrupted":
                        interrupted = True
                    else:
                        errors.append(payload)
                if stop.requested and time.monotonic() - last_signal >= REPORT_EVERY_S:
                    last_signal = time.monotonic()
                    for proc, _ in children.values():
                        if proc.is_alive():
                            os.kill(proc.pid, signal.SIGINT)
                done_steps = sum(s for s, _ in steps.values())
                rate = sum(m for _, m in steps.values()) / max(time.monotonic() - t0, 1e-9)
                bar.update(done_steps, f"{len(parts)} processes x {threads} thread(s), "
                           f"{len(children)} training, {rate:.1f} model-steps/s")
            interrupted = interrupted or stop.requested
    finally:
        for proc, _ in children.values():  # only after an error of our own (a bug)
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGINT)  # saves its checkpoints if it is training
            proc.join(timeout=CHILD_STOP_S)
            if proc.is_alive():
                proc.terminate()
                proc.join()
    if interrupted:
        if progress:
            print("interrupted; every member's checkpoint saved", file=sys.stderr)
        raise KeyboardInterrupt
    if errors:
        raise errors[0]

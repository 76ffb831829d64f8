"""Training a group of same-shape networks at once, each exactly as `numerics.train.train` would.

``train_group(configs, out_dirs)`` trains K `TrainConfig` s that agree on the shape of the step
(``cell``, ``task.s``, ``task.d``, ``hidden``, ``activation``, ``batch``, ``deterministic``:
see `group_key`) with one compiled step: `numerics.group_step_rnn.BatchedRNN` for the Elman RNN,
`numerics.group_step_cell.BatchedCellNet` for the LSTM, GRU and LRU (the same interface).
Everything else is the member's own: seed (initial weights, data stream, test batches), task
composition F, L2, lr, clip, curriculum and its threshold, steps, early stop, checkpoint and
history cadence.

Each member follows the single-run loop of `numerics.train`: a fresh batch at its own horizon
from its own seeded generator, the update with its own Adam state, its own curriculum stage
(members advance independently; the step pads to the longest current horizon and masks), its
own history, checkpoints and run directory, written exactly as ``emt train --seed N`` writes
them (same files, same fields, same checkpoint arrays, so a member's run directory can also be
resumed alone).  A member that finishes (its steps are done, or ``stop_when_learned``) is
evaluated, written, and leaves the group, so it stops costing time; a member whose loss turns
non-finite is recorded as interrupted with the error and leaves the group while the others go
on.  Rerunning a killed group with the same configs and directories resumes every member from
its checkpoint; finished members are returned as they are.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emt.core.limits import check_at_most
from emt.core.progress import Progress
from emt.core.provenance import versions
from emt.numerics import rundir, runlock
from emt.numerics.cell_models import init_cell_params
from emt.numerics.config import TrainConfig
from emt.numerics.data import make_batch
from emt.numerics.model import init_weights
from emt.numerics.tf_quiet import load_tensorflow
from emt.numerics.train import (
    DATA_STREAM,
    TrainResult,
    _check_out_dir,
    _StopFlag,
    _threads_from_env,
    evaluate,
)

__all__ = ["GroupResult", "group_key", "train_group"]


def group_key(config: TrainConfig) -> tuple:
    """What members of one group must share: the shape of the step and op determinism."""
    return (config.cell, config.task.s, config.task.d, config.hidden, config.activation,
            config.batch, config.deterministic)


@dataclass
class GroupResult:
    """Per member (in the order given): its `TrainResult`, or ``None`` and the error that
    stopped it.  ``model_steps``: member-steps the group computed (a finished member adds none);
    ``padded_fraction``: the share of computed time steps that were padding."""

    results: list[TrainResult | None]
    errors: list[str | None]
    model_steps: int = 0
    padded_fraction: float = 0.0
    wall_time_s: float = 0.0
    sizes: list[int] = field(default_factory=list, repr=False)  # K at every group step

    @property
    def ok(self) -> bool:
        return all(e is None for e in self.errors)


class _Member:
    """One network's loop state and run directory (the single-run loop of `numerics.train`)."""

    def __init__(self, config: TrainConfig, out: Path | None,
                 checkpoint: tuple[dict, dict, np.random.Generator] | None) -> None:
        self.config, self.out = config, out
        self.rng = np.random.default_rng(np.random.SeedSequence([config.seed, DATA_STREAM]))
        self.step, self.stage, self.history, self.advances = 0, 0, [], []
        self.wall_before = 0.0
        self.arrays: dict[str, np.ndarray] | None = None
        self.loss, self.acc = math.nan, math.nan
        if checkpoint is not None:
            arrays, ck, self.rng = checkpoint
            self.arrays = arrays
            self.step, self.stage = int(ck["step"]), int(ck["stage"])
            self.history = list(ck["history"])
            self.advances = list(ck.get("advances", []))
            self.wall_before = float(ck.get("wall_time_s", 0.0))
            if not 0 <= self.stage < len(config.curriculum):
                raise ValueError(f"{out}: corrupt checkpoint (curriculum stage {self.stage})")
        self.first_step = self.step
        self.finished = self.step >= config.steps
        self.base_meta = {"task": config.task.to_json(), "cell": config.cell,
                          "config": config.hyper_parameters(),
                          "seed": config.seed, "versions": versions()}

    @property
    def horizon(self) -> int:
        return self.config.curriculum[self.stage]

    def next_batch(self) -> Any:
        return make_batch(self.config.task, self.config.batch, self.horizon, self.rng)

    def after_step(self, loss: float, acc: float, H: int) -> None:
        """The single-run bookkeeping after one update: history, curriculum, early stop."""
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
            self.finished = True

    def save(self, arrays: dict[str, np.ndarray], elapsed: float, status: str,
             metrics: dict | None = None, error: str | None = None) -> None:
        if self.out is None:
            return
        wall = self.wall_before + elapsed
        rundir.save_checkpoint(self.out, arrays, self.step, self.stage, self.rng, self.history,
                               {"advances": self.advances, "wall_time_s": wall})
        meta = {**self.base_meta, "status": status, "steps_done": self.step,
                "horizon": self.horizon, "history": self.history,
                "curriculum_advances": self.advances, "metrics": metrics, "wall_time_s": wall}
        if error:
            meta["error"] = error
        rundir.write_model_json(self.out, meta)


def _validate(configs: Sequence[TrainConfig], out_dirs: Sequence[Any] | None
              ) -> list[Path | None]:
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
                = None, progress: bool = True) -> GroupResult:
    """Train every config of a group in one compiled step (see the module docstring).

    ``out_dirs`` (one per member, or ``None`` for no run directories) follow `train`'s rules:
    each must be new/empty or hold a run of the same configuration, which is resumed from its
    checkpoint or, when finished with the same steps, returned as is.  Every directory and
    checkpoint is validated before anything is written.
    """
    outs = _validate(configs, out_dirs)
    n = len(configs)
    results: list[TrainResult | None] = [None] * n
    errors: list[str | None] = [None] * n
    members: dict[int, _Member] = {}
    for i, (config, out) in enumerate(zip(configs, outs, strict=True)):
        mode, _ = ("new", None) if out is None else _check_out_dir(config, out, False)
        if mode == "done":
            assert out is not None
            weights, _, meta = rundir.load_run(out)
            results[i] = TrainResult(weights, meta.get("history", []), meta["metrics"], config,
                                     out, meta.get("curriculum_advances", []))
            continue
        checkpoint = None
        if mode == "resume" and out is not None and (out / rundir.CHECKPOINT).exists():
            checkpoint = rundir.load_checkpoint(out)
            if checkpoint[1]["step"] > config.steps:
                raise ValueError(f"{out}: the checkpoint is at step {checkpoint[1]['step']}, "
                                 f"beyond steps = {config.steps}")
        members[i] = _Member(config, out, checkpoint)
    group = GroupResult(results, errors)
    if members:
        with contextlib.ExitStack() as locks:
            # every member directory is held exclusively while the group trains (as `train`
            # holds its one directory), so a second writer is refused naming this process
            for m in members.values():
                if m.out is not None:
                    m.out.mkdir(parents=True, exist_ok=True)
                    locks.enter_context(runlock.locked(m.out))
            _run(members, group, progress)
    return group


def _run(members: dict[int, _Member], group: GroupResult, progress: bool) -> None:
    t_start = time.monotonic()
    first = next(iter(members.values())).config
    _setup_group_tf(first)
    stamp = versions()  # now with TensorFlow's, as a single run records
    for m in members.values():
        m.base_meta["versions"] = stamp
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
        m = members[i]
        if m.out is not None:
            # A run that trains again is not finished: drop old final weights first.
            m.out.mkdir(parents=True, exist_ok=True)
            (m.out / rundir.WEIGHTS).unlink(missing_ok=True)
            m.save(net.state_arrays(pos), time.monotonic() - t_start, "running")
    s, B, d = first.task.s, first.batch, first.task.d
    t_loop, padded, computed = time.monotonic(), 0, 0
    total_steps = sum(m.config.steps for m in members.values())
    try:
        with _StopFlag() as stop, Progress("emt train (group)", total_steps,
                                           enabled=progress) as bar:
            while order:
                done = [pos for pos, i in enumerate(order) if members[i].finished]
                order = _finish(members, order, done, net, group, t_start, t_loop)
                if not order:
                    break
                if stop.requested:
                    raise KeyboardInterrupt
                batches = [members[i].next_batch() for i in order]
                Hs = np.array([b.targets.shape[1] for b in batches], np.int32)
                H_max = int(Hs.max())
                # The step takes the input windows (the output phase's inputs are zero) and
                # the targets padded to the longest horizon (masked in the step).
                u = np.stack([b.inputs[:, :s] for b in batches])
                x = np.zeros((len(order), B, H_max, d), np.float32)
                for pos, b in enumerate(batches):
                    x[pos, :, : b.targets.shape[1]] = b.targets
                cfg = [members[i].config for i in order]
                loss_t, acc_t = net.train_step(
                    u, x, Hs, np.array([c.lr for c in cfg], np.float32),
                    np.array([c.clip for c in cfg], np.float32),
                    np.array([c.l2 for c in cfg], np.float32))
                losses, accs = loss_t.numpy(), acc_t.numpy()
                group.model_steps += len(order)
                group.sizes.append(len(order))
                computed += len(order) * (s + H_max)
                padded += int(np.sum(H_max - Hs))
                failed = []
                for pos, i in enumerate(order):
                    m = members[i]
                    try:
                        m.after_step(float(losses[pos]), float(accs[pos]), int(Hs[pos]))
                    except FloatingPointError as exc:
                        group.errors[i] = f"{type(exc).__name__}: {exc}"
                        m.save(net.state_arrays(pos), time.monotonic() - t_start,
                               "interrupted", error=group.errors[i])
                        failed.append(pos)
                        continue
                    if (m.out is not None and not m.finished
                            and m.step % m.config.checkpoint_every == 0):
                        m.save(net.state_arrays(pos), time.monotonic() - t_start, "running")
                if failed:
                    keep = [p for p in range(len(order)) if p not in failed]
                    order = [order[p] for p in keep]
                    if order:
                        net.keep(keep)
                bar.update(sum(m.step for m in members.values()),
                           _progress_status(members, order, group.model_steps,
                                            time.monotonic() - t_loop))
    except BaseException as exc:
        error = ("interrupted by the user (Ctrl-C)" if isinstance(exc, KeyboardInterrupt)
                 else f"{type(exc).__name__}: {exc}")
        for pos, i in enumerate(order):
            members[i].save(net.state_arrays(pos), time.monotonic() - t_start, "interrupted",
                            error=error)
        if progress and isinstance(exc, KeyboardInterrupt):
            print("interrupted; every member's checkpoint saved", file=sys.stderr)
        raise
    group.padded_fraction = padded / computed if computed else 0.0
    group.wall_time_s = time.monotonic() - t_start


def _group_net(configs: Sequence[TrainConfig]) -> Any:
    """The compiled K-network step for the group's cell, from each member's initial weights
    (drawn as `numerics.train` draws them for a single run)."""
    first = configs[0]
    if first.cell == "rnn":
        from emt.numerics.group_step_rnn import BatchedRNN

        return BatchedRNN([init_weights(c.hidden, c.task.d, c.activation, c.seed)
                           for c in configs], first.task.s)
    from emt.numerics.group_step_cell import BatchedCellNet

    return BatchedCellNet(first.cell, [init_cell_params(c.cell, c.hidden, c.task.d, c.seed)
                                       for c in configs], first.task.s)


def group_threads() -> int:
    """TensorFlow threads for a group: ``EMT_TF_THREADS`` if set (0 = TensorFlow's default),
    else every usable core.  Unlike one network's step (fastest on one thread), a group's
    batched products split over the model axis: on the 2 shared cores here one process with
    2 threads ran a group of 16-32 1.1-1.7x faster than one thread, and faster than two
    1-thread processes with half the group each (benchmarks/RESULTS.md)."""
    if "EMT_TF_THREADS" in os.environ:
        return _threads_from_env()
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _setup_group_tf(config: TrainConfig) -> None:
    load_tensorflow()  # first import of TensorFlow: without its start-up lines
    import keras
    import tensorflow as tf

    from emt.core.threads import limit_threads

    limit_threads(group_threads())
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()


def _finish(members: dict[int, _Member], order: list[int], done: list[int], net: Any,
            group: GroupResult, t_start: float, t_loop: float) -> list[int]:
    """Evaluate and write the members at positions ``done``; return the order without them
    (and shrink the net, so finished members stop costing time)."""
    if not done:
        return order
    for pos in done:
        i = order[pos]
        m = members[i]
        c = m.config
        elapsed = time.monotonic() - t_start
        train_wall = time.monotonic() - t_loop
        weights = net.weights(pos, {"source": "emt train", "task": c.task.label, "seed": c.seed,
                                    "run_dir": str(m.out) if m.out else None})
        metrics = {**evaluate(weights, c.task, c), "final_loss": m.loss,
                   "final_batch_accuracy": m.acc, "steps_done": m.step,
                   "final_horizon": m.horizon, "wall_time_s": m.wall_before + elapsed,
                   "steps_per_s": ((m.step - m.first_step) / train_wall
                                   if train_wall > 0 else None)}
        if m.out is not None:
            arrays = net.state_arrays(pos)
            m.save(arrays, elapsed, "running")  # the final checkpoint, so it can be extended
            rundir.save_final_weights(m.out, weights)
            m.save(arrays, elapsed, "finished", metrics)
        group.results[i] = TrainResult(weights, m.history, metrics, c, m.out, m.advances)
    keep = [p for p in range(len(order)) if p not in done]
    if keep:
        net.keep(keep)
    return [order[p] for p in keep]


def _progress_status(members: dict[int, _Member], order: list[int], model_steps: int,
                     elapsed: float) -> str:
    """The progress bar's status: members still training, their step and horizon ranges."""
    steps = [members[i].step for i in order] or [0]
    Hs = [members[i].horizon for i in order] or [0]
    return (f"{len(order)}/{len(members)} training, steps {min(steps)}-{max(steps)}, "
            f"H {min(Hs)}-{max(Hs)}, {model_steps / max(elapsed, 1e-9):.1f} model-steps/s")

"""Training the paper's way (docs/science.md, "Training"), with run directories that resume exactly.

One step: a fresh batch at the current horizon H from the seeded data generator, the compiled
step of `numerics.step_rnn.RawRNN` (MSE on the output phase, global-norm clip, coupled L2 after
the clip, PyTorch's Adam), then the curriculum rule: when the training batch's sign accuracy
exceeds ``threshold`` the next step uses the next H of ``curriculum``.  After ``steps`` steps the
exported `RNNWeights` are tested at ``test_horizon`` on ``test_batches`` fresh batches (numpy
rollout in float64: exactly what verification will see).

Seeds: ``seed`` gives the initial weights (`numerics.model.init_weights`), the data stream
(``SeedSequence([seed, 0xDA7A])``), the test batches (``SeedSequence([seed, 0x7E57])``) and
Keras/TF's global seeds.  With ``deterministic`` the TF ops are deterministic, and a run of 2N
steps equals a run of N steps resumed for N more, bit for bit (the checkpoint holds the weights,
Adam's moments and step count, the stage, the generator's state and the history).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emt.core.limits import env_int
from emt.core.progress import Progress
from emt.core.provenance import versions
from emt.core.threads import limit_threads
from emt.numerics import rundir, runlock
from emt.numerics.cell_models import cell_dynamics, init_cell_params
from emt.numerics.config import TrainConfig
from emt.numerics.data import make_batch, sign_accuracy
from emt.numerics.dynamics import rollout_dynamics
from emt.numerics.model import init_weights
from emt.numerics.simulate import rollout
from emt.numerics.tf_quiet import load_tensorflow
from emt.numerics.weights import RNNWeights
from emt.theory.taskspec import TaskSpec

__all__ = ["TrainConfig", "TrainResult", "train", "resume_run", "DATA_STREAM",
           "TEST_STREAM"]

DATA_STREAM, TEST_STREAM = 0xDA7A, 0x7E57


@dataclass
class TrainResult:
    weights: Any  # RNNWeights for the Elman RNN, numerics.cell_models.CellWeights otherwise
    history: list[dict]
    metrics: dict[str, Any]
    config: TrainConfig
    run_dir: Path | None = None
    advances: list[dict] = field(default_factory=list)


class _StopFlag:
    """Ctrl-C sets a flag; the loop stops between steps, so the saved state is consistent."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: Any = None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _run_files(out: Path) -> list[Path]:
    """What a directory holds, apart from its lock (and a competing writer's lock file)."""
    return [p for p in out.iterdir() if not runlock.is_lock_file(p.name)]


def _check_out_dir(config: TrainConfig, out: Path, resume: bool, fresh: bool = False
                   ) -> tuple[str, dict | None]:
    """Decide what to do with ``out`` before writing anything: ``("new", None)``,
    ``("resume", meta)`` or ``("done", meta)``; ValueError for a directory we must not touch
    (``fresh``: anything but an absent or empty directory)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a directory")
    if not out.exists() or (not resume and not _run_files(out)):
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
    if not (out / rundir.CHECKPOINT).is_file():
        raise ValueError(f"{out}: no checkpoint to resume from ({rundir.CHECKPOINT} is "
                         "missing); the run cannot continue -- start a new run with a new --out")
    return "resume", meta


def train(config: TrainConfig, out_dir: str | os.PathLike | None = None, progress: bool = True,
          resume: bool = False, fresh: bool = False) -> TrainResult:
    """Train one RNN; with ``out_dir`` write/continue a run directory (see `numerics.rundir`).

    An existing ``out_dir`` must be empty or hold a run of the same configuration (fields in
    ``RESUMABLE_FIELDS`` may differ): that run is continued from its checkpoint (or returned as
    is, if it has finished with the same number of steps).  ``resume=True`` requires such a run;
    ``fresh=True`` refuses one (the command line's ``--out``).  A finished run that is extended
    (more ``steps``) keeps its ``weights.npz`` and its record in ``model.json`` (which gains an
    ``extension`` entry) until the extension finishes.

    The directory is locked while this runs (`numerics.runlock`): a second writer gets a
    ``RunLockedError`` naming the holder.  Validation happens before anything is written, and
    again under the lock (another writer may have changed the directory in between).
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig; got {type(config).__name__}")
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir")
    if out_dir is None:
        return _run(config, None, progress, None)
    out = Path(out_dir)
    if out.is_dir() and runlock.holder(out) is not None:
        runlock.acquire(out)  # a live holder: RunLockedError before anything else is said
        runlock.release(out)  # (a stale lock of a dead writer was just cleared)
    _check_out_dir(config, out, resume, fresh)  # nothing is written if this refuses
    try:
        out.mkdir(parents=True)
        created = True
    except FileExistsError:
        created = False
    try:
        runlock.acquire(out)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    try:
        try:
            mode, meta = _check_out_dir(config, out, resume, fresh)
        except BaseException:
            runlock.release(out)
            if created and not _run_files(out):
                with contextlib.suppress(OSError):
                    out.rmdir()
            raise
        if mode == "done":
            weights, _, meta = rundir.load_run(out)
            return TrainResult(weights, meta.get("history", []), meta["metrics"], config, out,
                               meta.get("curriculum_advances", []))
        checkpoint = rundir.load_checkpoint(out) if mode == "resume" else None
        if checkpoint is not None and checkpoint[1]["step"] > config.steps:
            raise ValueError(f"{out}: the checkpoint is at step {checkpoint[1]['step']}, beyond "
                             f"steps = {config.steps}")
        finished = meta if meta is not None and meta["status"] == "finished" else None
        return _run(config, out, progress, checkpoint, finished)
    finally:
        runlock.release(out)


def resume_run(run_dir: str | os.PathLike, steps: int | None = None, progress: bool = True
               ) -> TrainResult:
    """Continue the run in ``run_dir`` from its checkpoint with its stored configuration
    (optionally a new total ``steps``; by default the stored one, or the target of an
    interrupted extension of a finished run)."""
    meta = rundir.read_model_json(run_dir)
    params = dict(meta["config"])
    extension = meta.get("extension")
    if steps is not None:
        params["steps"] = steps
    elif isinstance(extension, dict) and isinstance(extension.get("steps"), int):
        params["steps"] = extension["steps"]
    config = TrainConfig.from_hyper_parameters(TaskSpec.from_json(meta["task"]), params)
    return train(config, run_dir, progress=progress, resume=True)


def _setup_tf(config: TrainConfig) -> Any:
    load_tensorflow()  # first import of TensorFlow: without its start-up lines
    import keras
    import tensorflow as tf

    limit_threads(_threads_from_env())
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    return tf


def _threads_from_env() -> int:
    """``EMT_TF_THREADS`` (default 1; 0 = TensorFlow's own default)."""
    return env_int("EMT_TF_THREADS", 1, minimum=0)


def _run(config: TrainConfig, out: Path | None, progress: bool,
         checkpoint: tuple[dict, dict, np.random.Generator] | None,
         finished: dict | None = None) -> TrainResult:
    from emt.numerics.step_rnn import RawRNN

    task = config.task
    t_start = time.monotonic()
    _setup_tf(config)
    if config.cell == "rnn":
        net: Any = RawRNN(init_weights(config.hidden, task.d, config.activation, config.seed),
                          task.s, lr=config.lr, clip=config.clip, l2=config.l2)
    else:
        from emt.numerics.step_cell import CellNet

        net = CellNet(config.cell, init_cell_params(config.cell, config.hidden, task.d,
                                                    config.seed),
                      task.s, lr=config.lr, clip=config.clip, l2=config.l2)
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, DATA_STREAM]))
    step, stage, history, advances, wall_before = 0, 0, [], [], 0.0
    if checkpoint is not None:
        arrays, ck, rng = checkpoint
        try:
            net.load_state_arrays(arrays)
        except ValueError as exc:
            raise ValueError(f"{out}: corrupt checkpoint ({exc})") from None
        step, stage, history = int(ck["step"]), int(ck["stage"]), list(ck["history"])
        advances, wall_before = list(ck.get("advances", [])), float(ck.get("wall_time_s", 0.0))
        if not 0 <= stage < len(config.curriculum):
            raise ValueError(f"{out}: corrupt checkpoint (curriculum stage {stage})")
    base_meta = {"task": task.to_json(), "cell": config.cell,
                 "config": config.hyper_parameters(),
                 "seed": config.seed, "versions": versions()}

    def save(status: str, metrics: dict | None = None, error: str | None = None) -> None:
        if out is None:
            return
        wall = wall_before + time.monotonic() - t_start
        rundir.save_checkpoint(out, net.state_arrays(), step, stage, rng, history,
                               {"advances": advances, "wall_time_s": wall})
        if finished is not None and status != "finished" and not final:
            # Extending a finished run: its record and weights.npz stay what they were until
            # the extension has finished; model.json only notes the extension's progress.
            extension = {"status": status, "steps": config.steps, "steps_done": step}
            if error:
                extension["error"] = error
            rundir.write_model_json(out, {**{k: v for k, v in finished.items()
                                             if k != "format"}, "extension": extension})
            return
        meta = {**base_meta, "status": status, "steps_done": step,
                "horizon": config.curriculum[stage], "history": history,
                "curriculum_advances": advances, "metrics": metrics, "wall_time_s": wall}
        if error:
            meta["error"] = error
        rundir.write_model_json(out, meta)

    final = False
    if out is not None:
        if finished is None:
            # A run that trains again is not finished: drop stale final weights first.
            (out / rundir.WEIGHTS).unlink(missing_ok=True)
        save("running")
    first_step, t_loop, loss, acc = step, time.monotonic(), math.nan, math.nan
    try:
        with _StopFlag() as stop, Progress("emt train", config.steps, enabled=progress) as bar:
            while step < config.steps:
                if stop.requested:
                    raise KeyboardInterrupt
                H = config.curriculum[stage]
                batch = make_batch(task, config.batch, H, rng)
                loss_t, acc_t = net.train_step(batch.inputs, batch.targets)
                loss, acc = float(loss_t), float(acc_t)
                step += 1
                if not math.isfinite(loss):
                    raise FloatingPointError(f"training diverged: loss {loss} at step {step}")
                if step % config.history_every == 0:
                    history.append({"step": step, "loss": loss, "accuracy": acc, "H": H})
                last = stage == len(config.curriculum) - 1
                if acc > config.threshold and not last:
                    stage += 1
                    advances.append({"step": step, "to_H": config.curriculum[stage]})
                rate = (step - first_step) / max(time.monotonic() - t_loop, 1e-9)
                bar.update(step, f"loss {loss:.4g}  acc {acc:.4f}  H {H}  {rate:.1f} steps/s")
                if config.stop_when_learned and last and acc > config.threshold:
                    break
                if out is not None and step % config.checkpoint_every == 0:
                    save("running")
    except KeyboardInterrupt:
        save("interrupted", error="interrupted by the user (Ctrl-C)")
        if progress:
            print(f"interrupted at step {step}; checkpoint saved in {out}", file=sys.stderr)
        raise
    except BaseException as exc:
        save("interrupted", error=f"{type(exc).__name__}: {exc}")
        raise
    train_wall = time.monotonic() - t_loop
    weights = net.weights({"source": "emt train", "task": task.label, "seed": config.seed,
                           "run_dir": str(out) if out else None})
    metrics = {**evaluate(weights, task, config), "final_loss": loss, "final_batch_accuracy": acc,
               "steps_done": step, "final_horizon": config.curriculum[stage],
               "wall_time_s": wall_before + time.monotonic() - t_start,
               "steps_per_s": (step - first_step) / train_wall if train_wall > 0 else None}
    if out is not None:
        # The final checkpoint, so the run can be extended later.  An extended run's old record
        # is replaced here, before its weights: never an old record beside new weights.
        final = True
        save("running")
        rundir.save_final_weights(out, weights)
        save("finished", metrics)
    return TrainResult(weights, history, metrics, config, out, advances)


def evaluate(weights: Any, task: TaskSpec, config: TrainConfig) -> dict[str, Any]:
    """Sign accuracy and MSE at ``config.test_horizon`` on ``config.test_batches`` fresh batches
    of ``config.batch`` from the test stream (float64 numpy rollout of the exported weights)."""
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, TEST_STREAM]))
    accs, mses = [], []
    for _ in range(config.test_batches):
        batch = make_batch(task, config.batch, config.test_horizon, rng)
        if isinstance(weights, RNNWeights):
            y = rollout(weights, batch.inputs)[1][:, task.s:]
        else:  # any other cell through its numpy Dynamics
            y = rollout_dynamics(cell_dynamics(weights), batch.inputs, keep=(0, 0))[1][:, task.s:]
        accs.append(sign_accuracy(y, batch.targets))
        mses.append(float(np.mean((y - batch.targets) ** 2)))
    return {"test_accuracy": float(np.mean(accs)), "test_mse": float(np.mean(mses)),
            "test_horizon": config.test_horizon, "test_batches": config.test_batches}

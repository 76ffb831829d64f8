"""Training the paper's way (SPEC section 3), with run directories that resume exactly.

One step: a fresh batch at the current horizon H from the seeded data generator, the compiled
step of `numerics.tf_rnn.RawRNN` (MSE on the output phase, global-norm clip, coupled L2 after
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

from emt.numerics import rundir
from emt.numerics.cells import cell_dynamics, init_cell_params
from emt.numerics.config import TrainConfig
from emt.numerics.data import make_batch, sign_accuracy
from emt.numerics.dynamics import rollout_dynamics
from emt.numerics.model import init_weights
from emt.numerics.simulate import rollout
from emt.numerics.weights import RNNWeights
from emt.theory.tasks import TaskSpec

__all__ = ["TrainConfig", "TrainResult", "train", "resume_run", "DATA_STREAM",
           "TEST_STREAM"]

DATA_STREAM, TEST_STREAM = 0xDA7A, 0x7E57
PROGRESS_EVERY_S = 2.0  # at most one progress line per this many seconds


@dataclass
class TrainResult:
    weights: Any  # RNNWeights for the Elman RNN, numerics.cells.CellWeights otherwise
    history: list[dict]
    metrics: dict[str, Any]
    config: TrainConfig
    run_dir: Path | None = None
    advances: list[dict] = field(default_factory=list)


class _Progress:
    """One throttled line on stderr: step, loss, batch accuracy, H, steps/s."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.last = 0.0

    def update(self, step: int, loss: float, acc: float, H: int, rate: float,
               force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < PROGRESS_EVERY_S):
            return
        self.last = now
        print(f"step {step}/{self.total}  loss {loss:.4g}  acc {acc:.4f}  H {H}  "
              f"{rate:.1f} steps/s", file=sys.stderr, flush=True)


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


def _check_out_dir(config: TrainConfig, out: Path, resume: bool) -> tuple[str, dict | None]:
    """Decide what to do with ``out`` before writing anything: ``("new", None)``,
    ``("resume", meta)`` or ``("done", meta)``; ValueError for a directory we must not touch."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a directory")
    if not out.exists() or (not resume and not any(out.iterdir())):
        if resume:
            raise FileNotFoundError(f"{out}: no such run directory to resume")
        return "new", None
    if not rundir.is_run_dir(out):
        raise ValueError(f"{out}: exists and is not a run directory (no {rundir.MODEL_JSON}); "
                         "choose a new --out")
    meta = rundir.read_model_json(out)
    stored = TrainConfig.from_hyper_parameters(TaskSpec.from_json(meta["task"]), meta["config"])
    diff = config.differences(stored)
    if diff:
        raise ValueError(f"{out}: holds a run of a different configuration ({', '.join(diff)} "
                         "differ); choose a new --out")
    if meta["status"] == "finished" and meta.get("steps_done") == config.steps:
        return "done", meta
    return "resume", meta


def train(config: TrainConfig, out_dir: str | os.PathLike | None = None, progress: bool = True,
          resume: bool = False) -> TrainResult:
    """Train one RNN; with ``out_dir`` write/continue a run directory (see `numerics.rundir`).

    An existing ``out_dir`` must be empty or hold a run of the same configuration (fields in
    ``RESUMABLE_FIELDS`` may differ): that run is continued from its checkpoint (or returned as
    is, if it has finished with the same number of steps).  ``resume=True`` requires such a run.
    Validation happens before anything is written.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig; got {type(config).__name__}")
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir")
    out = Path(out_dir) if out_dir is not None else None
    mode, meta = ("new", None) if out is None else _check_out_dir(config, out, resume)
    if mode == "done":
        assert out is not None
        weights, _, meta = rundir.load_run(out)
        return TrainResult(weights, meta.get("history", []), meta["metrics"], config, out,
                           meta.get("curriculum_advances", []))
    checkpoint = rundir.load_checkpoint(out) if mode == "resume" and out is not None and (
        out / rundir.CHECKPOINT).exists() else None
    if checkpoint is not None and checkpoint[1]["step"] > config.steps:
        raise ValueError(f"{out}: the checkpoint is at step {checkpoint[1]['step']}, beyond "
                         f"steps = {config.steps}")
    return _run(config, out, progress, checkpoint)


def resume_run(run_dir: str | os.PathLike, steps: int | None = None, progress: bool = True
               ) -> TrainResult:
    """Continue the run in ``run_dir`` from its checkpoint with its stored configuration
    (optionally a new total ``steps``)."""
    meta = rundir.read_model_json(run_dir)
    params = dict(meta["config"])
    if steps is not None:
        params["steps"] = steps
    config = TrainConfig.from_hyper_parameters(TaskSpec.from_json(meta["task"]), params)
    return train(config, run_dir, progress=progress, resume=True)


def _setup_tf(config: TrainConfig) -> Any:
    import keras
    import tensorflow as tf

    from emt.numerics.tf_rnn import configure_threads

    configure_threads(_threads_from_env())
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    return tf


def _threads_from_env() -> int:
    """``EMT_TF_THREADS`` (default 1; 0 = TensorFlow's own default)."""
    raw = os.environ.get("EMT_TF_THREADS", "1")
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"EMT_TF_THREADS must be an integer; got {raw!r}") from None
    if n < 0:
        raise ValueError(f"EMT_TF_THREADS must be >= 0; got {n}")
    return n


def _run(config: TrainConfig, out: Path | None, progress: bool,
         checkpoint: tuple[dict, dict, np.random.Generator] | None) -> TrainResult:
    from emt.numerics.tf_rnn import RawRNN

    task = config.task
    t_start = time.monotonic()
    _setup_tf(config)
    if config.cell == "rnn":
        net: Any = RawRNN(init_weights(config.hidden, task.d, config.activation, config.seed),
                          task.s, lr=config.lr, clip=config.clip, l2=config.l2)
    else:
        from emt.numerics.cell_tf import CellNet

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
                 "seed": config.seed, "versions": rundir.library_versions()}

    def save(status: str, metrics: dict | None = None, error: str | None = None) -> None:
        if out is None:
            return
        wall = wall_before + time.monotonic() - t_start
        rundir.save_checkpoint(out, net.state_arrays(), step, stage, rng, history,
                               {"advances": advances, "wall_time_s": wall})
        meta = {**base_meta, "status": status, "steps_done": step,
                "horizon": config.curriculum[stage], "history": history,
                "curriculum_advances": advances, "metrics": metrics, "wall_time_s": wall}
        if error:
            meta["error"] = error
        rundir.write_model_json(out, meta)

    if out is not None:
        # A run that trains again is not finished: drop old final weights first.
        out.mkdir(parents=True, exist_ok=True)
        (out / rundir.WEIGHTS).unlink(missing_ok=True)
        save("running")
    bar = _Progress(config.steps, progress)
    first_step, t_loop, loss, acc = step, time.monotonic(), math.nan, math.nan
    try:
        with _StopFlag() as stop:
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
                bar.update(step, loss, acc, H, rate)
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
    bar.update(step, loss, acc, config.curriculum[stage],
               metrics["steps_per_s"] or 0.0, force=True)
    if out is not None:
        save("running")  # the final checkpoint, so the run can be extended later
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

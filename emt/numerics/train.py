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
Adam's moments and step count, the stage, the generator's state and the history).  That state,
the run directory and the curriculum rule are `numerics.run_state.RunState`, which group
training (`numerics.group`) shares.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from emt.core.progress import Progress
from emt.numerics.cell_models import cell_dynamics, init_cell_params
from emt.numerics.config import TrainConfig
from emt.numerics.data import make_batch, sign_accuracy
from emt.numerics.dynamics import rollout_dynamics
from emt.numerics.model import init_weights
from emt.numerics.run_state import (
    DATA_STREAM,
    TEST_STREAM,
    RunState,
    TrainResult,
    opened_runs,
    stored_config,
)
from emt.numerics.simulate import rollout
from emt.numerics.step_cell import CellNet
from emt.numerics.step_rnn import RawRNN
from emt.numerics.train_setup import StopFlag, setup_tf, threads_from_env
from emt.numerics.weights import RNNWeights
from emt.theory.taskspec import TaskSpec

__all__ = ["TrainConfig", "TrainResult", "train", "resume_run", "evaluate", "DATA_STREAM",
           "TEST_STREAM"]


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
    again under the lock (another writer may have changed the directory in between:
    `numerics.run_state.opened_runs`).
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig; got {type(config).__name__}")
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir")
    if out_dir is None:
        return _run(RunState(config), progress)
    with opened_runs([config], [Path(out_dir)], resume=resume, fresh=fresh) as (run,):
        return run if isinstance(run, TrainResult) else _run(run, progress)


def resume_run(run_dir: str | os.PathLike, steps: int | None = None, progress: bool = True
               ) -> TrainResult:
    """Continue the run in ``run_dir`` from its checkpoint with its stored configuration
    (optionally a new total ``steps``; by default the stored one, or the target of an
    interrupted extension of a finished run)."""
    return train(stored_config(run_dir, steps), run_dir, progress=progress, resume=True)


def _run(state: RunState, progress: bool) -> TrainResult:
    config, out = state.config, state.out
    task = config.task
    t_start = time.monotonic()
    setup_tf(config.seed, config.deterministic, threads_from_env())
    if config.cell == "rnn":
        net: Any = RawRNN(init_weights(config.hidden, task.d, config.activation, config.seed),
                          task.s, lr=config.lr, clip=config.clip, l2=config.l2)
    else:
        net = CellNet(config.cell, init_cell_params(config.cell, config.hidden, task.d,
                                                    config.seed),
                      task.s, lr=config.lr, clip=config.clip, l2=config.l2)
    if state.arrays is not None:
        try:
            net.load_state_arrays(state.arrays)
        except ValueError as exc:
            raise ValueError(f"{out}: corrupt checkpoint ({exc})") from None
        state.arrays = None
    state.begin(net.state_arrays(), t_start)
    t_loop = time.monotonic()
    try:
        with StopFlag() as stop, Progress("emt train", config.steps, enabled=progress) as bar:
            while not state.done:
                if stop.requested:
                    raise KeyboardInterrupt
                H = state.horizon
                batch = make_batch(task, config.batch, H, state.rng)
                loss_t, acc_t = net.train_step(batch.inputs, batch.targets)
                state.after_step(float(loss_t), float(acc_t), H)
                rate = (state.step - state.first_step) / max(time.monotonic() - t_loop, 1e-9)
                bar.update(state.step, f"loss {state.loss:.4g}  acc {state.acc:.4f}  H {H}  "
                           f"{rate:.1f} steps/s")
                if state.checkpoint_due:
                    state.save(net.state_arrays(), "running")
    except KeyboardInterrupt:
        state.save(net.state_arrays(), "interrupted",
                   error="interrupted by the user (Ctrl-C)")
        if progress:
            print(f"interrupted at step {state.step}; checkpoint saved in {out}",
                  file=sys.stderr)
        raise
    except BaseException as exc:
        state.save(net.state_arrays(), "interrupted", error=f"{type(exc).__name__}: {exc}")
        raise
    train_wall = time.monotonic() - t_loop
    weights = net.weights(state.provenance())
    return state.finish(weights, net.state_arrays(), evaluate(weights, task, config),
                        train_wall)


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

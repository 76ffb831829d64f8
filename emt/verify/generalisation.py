"""The generalisation check's batches and score, one definition for every cell.

Any `numerics.dynamics.Dynamics` (an Elman net, an LSTM, a GRU, an LRU) is driven from the zero
state with the same ``N_BATCHES x BATCH`` fresh windows of +-1 entries, drawn from one seed
stream ``SeedSequence([seed, GENERALISATION_STREAM])``, followed by ``H`` silent steps; the score
is the sign accuracy of ``y(t)`` against the task's continuation ``x(t)`` over the output phase
(the paper's test at H = 200).  The targets stay in float64: tasks with growing solutions
(fibonacci-2) overflow float32 long before H = 200.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emt.numerics.data import continue_sequence, sign_accuracy
from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.theory.taskspec import TaskSpec

__all__ = ["N_BATCHES", "BATCH", "GENERALISATION_STREAM", "ZERO_BAND", "Driven", "drive",
           "decided_sign_accuracy", "generalisation_score"]

# The paper's generalisation test: 10 fresh batches of 64 (about 3 s of the ~6 s that
# `emt verify` takes at N_h = 1024 on one core).
N_BATCHES, BATCH = 10, 64
# The second entry of the batches' SeedSequence: 200 since the first committed Elman verdicts
# (the gated cells used 0 until both moved to this one stream).
GENERALISATION_STREAM = 200
ZERO_BAND = 1e-9  # relative band around 0 where float noise, not the network, decides a sign


def decided_sign_accuracy(y: np.ndarray, target: np.ndarray) -> float:
    """`numerics.data.sign_accuracy` with ``zero_band = ZERO_BAND``: an output within
    ``ZERO_BAND * max(1, |target|)`` of zero earns no credit for a nonzero target, so an exactly
    cancelling linear net (e.g. the circuit driven on a task it cannot solve) is not scored by
    the sign of its rounding error.  For trained tanh nets, whose outputs sit near +-1, it
    equals the paper's accuracy.  A NaN output earns no credit either."""
    return sign_accuracy(y, target, zero_band=ZERO_BAND)


@dataclass(frozen=True, eq=False)
class Driven:
    """The seeded batches driven through a model: ``inputs`` ``(B, s + H, d)``, ``targets`` and
    ``outputs`` over the output phase ``(B, H, d)``, and the states kept by ``keep``."""

    inputs: np.ndarray
    targets: np.ndarray
    outputs: np.ndarray
    states: np.ndarray


def drive(model: Dynamics, task: TaskSpec, seed: int, horizon: int,
          keep: tuple[int, int] = (0, 0)) -> Driven:
    """Drive ``model`` with the generalisation batches of ``seed`` (module docstring); ``keep =
    (sequences, steps)`` stores the states of the first sequences over the first steps."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, GENERALISATION_STREAM]))
    s, d, B = task.s, task.d, N_BATCHES * BATCH
    window = rng.choice(np.array([-1.0, 1.0]), size=(B, s, d))
    inputs = np.concatenate([window, np.zeros((B, horizon, d))], axis=1)
    targets = continue_sequence(task, window, horizon)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging net is scored, not raised
        states, y = rollout_dynamics(model, inputs, keep=keep)
    return Driven(inputs, targets, y[:, s:], states)


def generalisation_score(y: np.ndarray, targets: np.ndarray
                         ) -> tuple[float, dict[str, float], str]:
    """``(accuracy, {"max_rel_error": ...}, detail)`` of a `drive`'s outputs ``y`` against its
    targets: the sign accuracy and the largest ``|y - x| / max(1, |x|)`` over the output
    phase."""
    with np.errstate(over="ignore", invalid="ignore"):
        err = float(np.max(np.abs(y - targets) / np.maximum(1.0, np.abs(targets))))
    horizon = targets.shape[1]
    return (decided_sign_accuracy(y, targets), {"max_rel_error": err},
            f"{N_BATCHES} x {BATCH} sequences, H = {horizon}, driven from h(-1) = 0")

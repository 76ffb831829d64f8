"""The generalisation check's batches and score, one definition for every cell.

Any `numerics.dynamics.Dynamics` (an Elman net, an LSTM, a GRU, an LRU) is driven from the zero
state with the same ``N_BATCHES x BATCH`` fresh windows of +-1 entries, drawn from one seed
stream ``SeedSequence([seed, GENERALISATION_STREAM])``, followed by ``H`` silent steps; the score
is the sign accuracy of ``y(t)`` against the task's continuation ``x(t)`` over the output phase
(the paper's test at H = 200), with a bootstrap interval over sequences.  The targets stay in
float64: tasks with growing solutions (fibonacci-2) overflow float32 long before H = 200.

Sequential test: given the bar, the first ``FIRST_LOOK`` sequences are run first, and the rest
of the paper's ``N_BATCHES x BATCH`` only when the first look's interval straddles the bar (the
windows are drawn for all of them first, so both looks see the same stream).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emt.numerics.data import continue_sequence
from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.theory.taskspec import TaskSpec
from emt.verify.scoring import accuracy_interval, clears, per_sequence_accuracy

__all__ = ["N_BATCHES", "BATCH", "FIRST_LOOK", "GENERALISATION_STREAM", "Driven", "drive",
           "generalisation_score"]

# The paper's generalisation test: 10 fresh batches of 64 (about 3 s of the ~6 s that
# `emt verify` takes at N_h = 1024 on one core).
N_BATCHES, BATCH = 10, 64
# The second entry of the batches' SeedSequence: 200 since the first committed Elman verdicts
# (the gated cells used 0 until both moved to this one stream).
GENERALISATION_STREAM = 200
FIRST_LOOK = 32  # sequences run first; the rest only when their interval does not decide


@dataclass(frozen=True, eq=False)
class Driven:
    """The seeded batches driven through a model: ``inputs`` ``(B, s + H, d)``, ``targets`` and
    ``outputs`` over the output phase ``(B, H, d)``, and the states kept by ``keep``."""

    inputs: np.ndarray
    targets: np.ndarray
    outputs: np.ndarray
    states: np.ndarray


def drive(model: Dynamics, task: TaskSpec, seed: int, horizon: int,
          keep: tuple[int, int] = (0, 0), bar: float | None = None) -> Driven:
    """Drive ``model`` with the generalisation batches of ``seed`` (module docstring); ``keep =
    (sequences, steps)`` stores the states of the first sequences over the first steps.  With a
    ``bar``, the sequential test: the first `FIRST_LOOK` sequences, and all only when their
    accuracy's interval straddles ``bar``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, GENERALISATION_STREAM]))
    s, d, B = task.s, task.d, N_BATCHES * BATCH
    window = rng.choice(np.array([-1.0, 1.0]), size=(B, s, d))
    inputs = np.concatenate([window, np.zeros((B, horizon, d))], axis=1)
    targets = continue_sequence(task, window, horizon)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging net is scored, not raised
        if bar is None:
            states, y = rollout_dynamics(model, inputs, keep=keep)
            return Driven(inputs, targets, y[:, s:], states)
        states, y = rollout_dynamics(model, inputs[:FIRST_LOOK], keep=keep)
        lo, hi = accuracy_interval(per_sequence_accuracy(y[:, s:], targets[:FIRST_LOOK]), seed, 1)
        if clears(lo, bar, ">=") == clears(hi, bar, ">="):
            return Driven(inputs[:FIRST_LOOK], targets[:FIRST_LOOK], y[:, s:], states)
        _, rest = rollout_dynamics(model, inputs[FIRST_LOOK:], keep=(0, 0))
    return Driven(inputs, targets, np.concatenate([y, rest])[:, s:], states)


def generalisation_score(y: np.ndarray, targets: np.ndarray, seed: int
                         ) -> tuple[float, dict[str, float], str, tuple[float, float]]:
    """``(accuracy, {"max_rel_error": ...}, detail, interval)`` of a `drive`'s outputs ``y``
    against its targets: the sign accuracy (the mean of per-sequence accuracies), the largest
    ``|y - x| / max(1, |x|)`` over the output phase and the accuracy's bootstrap interval over
    sequences."""
    per_seq = per_sequence_accuracy(y, targets)
    with np.errstate(over="ignore", invalid="ignore"):
        err = float(np.max(np.abs(y - targets) / np.maximum(1.0, np.abs(targets))))
    return (float(np.mean(per_seq)), {"max_rel_error": err},
            f"{len(y)} sequences, H = {targets.shape[1]}, driven from h(-1) = 0",
            accuracy_interval(per_seq, seed, 1))

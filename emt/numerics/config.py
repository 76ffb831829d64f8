"""`TrainConfig`: every hyper-parameter of one training run (docs/science.md), validated."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from emt.core.limits import check_at_most
from emt.numerics.data import FLOAT32_MAX, target_bounds
from emt.numerics.weights import ACTIVATIONS
from emt.theory.taskspec import TaskSpec

__all__ = ["TrainConfig", "RESUMABLE_FIELDS", "TRAIN_CELLS", "MAX_SEED", "check_seed",
           "PAPER_CURRICULUM", "default_curriculum"]

# The trainable recurrent cells: the paper's Elman RNN and those of `numerics.cell_models`.
TRAIN_CELLS = ("rnn", "lstm", "gru", "lru")

# Fields a resumed run may change without becoming a different run: how long to train and how
# often to save.  Everything else fixes the trajectory and must match the stored run.
RESUMABLE_FIELDS = frozenset({"steps", "checkpoint_every", "history_every", "stop_when_learned"})

# The paper's curriculum of output-phase horizons H.
PAPER_CURRICULUM = (10, 20, 40, 60, 100)

# The largest seed: Keras' set_random_seed seeds numpy's legacy generator, which takes 32-bit
# seeds only (a larger one fails when TensorFlow starts, after the run directory is made).
MAX_SEED = 2**32 - 1


def _float32_safe(task: TaskSpec, batch: int, longest: int) -> np.ndarray:
    """``ok[H - 1]`` for ``H = 1..longest``: whether the squared errors of a batch at horizon
    ``H`` stay within float32 (every target below ``sqrt(float32_max / (batch H d))``, the rule
    of `TrainConfig`)."""
    horizons = np.arange(1, longest + 1)
    reach = np.maximum.accumulate(target_bounds(task, longest))
    return reach <= np.sqrt(FLOAT32_MAX / (batch * horizons * task.d))


def default_curriculum(task: TaskSpec, batch: int = 64) -> tuple[int, ...]:
    """The curriculum a run gets when none is given: the paper's `PAPER_CURRICULUM`, cut at the
    longest horizon whose squared errors stay within float32 for ``task`` (its last stage
    becomes that horizon).  Bounded tasks (every signed copy) keep the paper's curriculum; a
    growing one (fibonacci-2: targets ~1.618^H) gets (10, 20, 40, 60, 82).  A task that
    overflows even at H = 1 keeps the paper's, which `TrainConfig` then refuses."""
    ok = _float32_safe(task, batch, max(PAPER_CURRICULUM))
    if ok.all() or not ok[0]:
        return PAPER_CURRICULUM
    longest = int(np.argmin(ok))  # ok[:longest] hold: horizons 1..longest are safe
    return (*(h for h in PAPER_CURRICULUM if h < longest), longest)


def check_seed(seed: Any, what: str = "seed") -> int:
    """``seed`` if it is an integer in ``0 .. MAX_SEED``; else ValueError naming ``what``."""
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{what} must be an integer from 0 to 2**32 - 1 = {MAX_SEED} (the "
                         f"seed range of numpy's generator); got {seed!r}")
    return int(seed)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool) and math.isfinite(float(value))


@dataclass(frozen=True)
class TrainConfig:
    """The paper's recipe by default: Adam lr 1e-3, batch 64, global-norm clip 1.0, coupled L2,
    curriculum H = 10, 20, 40, 60, 100 advanced when the training-batch sign accuracy exceeds
    ``threshold``, ``steps`` = 20,000, test at H = 200 on 10 fresh batches of 64.  A task
    whose targets grow too fast for float32 at H = 100 gets its `default_curriculum` instead
    (``curriculum=None``, the default, stands for it; an explicit one is used as given).

    ``cell``: "rnn" (the paper's Elman RNN, ``activation`` tanh or linear) or "lstm", "gru",
    "lru" (`numerics.cell_models`, bias-free).
    ``seed`` sets everything (initial weights, data stream, test batches, Keras/TF seeds);
    ``deterministic`` turns on TF op determinism.  ``stop_when_learned`` ends the run early once
    the last curriculum stage is reached and a training batch passes ``threshold`` (default off:
    the paper's fixed budget).  ``history_every``: steps between history records.
    """

    task: TaskSpec
    cell: str = "rnn"
    hidden: int = 128
    activation: str = "tanh"
    l2: float = 0.0
    threshold: float = 0.96
    steps: int = 20000
    lr: float = 1e-3
    batch: int = 64
    clip: float = 1.0
    seed: int = 1
    # None (the default) becomes default_curriculum(task, batch) on construction
    curriculum: tuple[int, ...] = None  # type: ignore[assignment]
    test_horizon: int = 200
    test_batches: int = 10
    checkpoint_every: int = 1000
    deterministic: bool = True
    stop_when_learned: bool = False
    history_every: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.task, TaskSpec):
            raise ValueError(f"task must be a TaskSpec; got {type(self.task).__name__}")
        for name in ("hidden", "steps", "batch", "test_horizon", "test_batches",
                     "checkpoint_every", "history_every"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
        check_seed(self.seed)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; "
                             f"got {self.activation!r}")
        if self.cell not in TRAIN_CELLS:
            raise ValueError(f"cell must be one of {', '.join(TRAIN_CELLS)}; got {self.cell!r}")
        if self.cell != "rnn" and self.activation != "tanh":
            raise ValueError(f"--linear applies to the Elman RNN only; the {self.cell} cell has "
                             "its own nonlinearities")
        if not _is_real(self.l2) or self.l2 < 0:
            raise ValueError(f"l2 must be a finite number >= 0; got {self.l2!r}")
        if not _is_real(self.threshold) or not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be strictly between 0 and 1; got {self.threshold!r}")
        for name in ("lr", "clip"):
            value = getattr(self, name)
            if not _is_real(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
        if self.curriculum is None:  # batch is a valid integer by now
            check_at_most("batch", self.batch, "MAX_BATCH")
            object.__setattr__(self, "curriculum", default_curriculum(self.task, int(self.batch)))
        curriculum = tuple(self.curriculum) if isinstance(self.curriculum, list | tuple) else ()
        if not curriculum or not all(_is_int(h) and h >= 1 for h in curriculum):
            raise ValueError("curriculum must be a non-empty sequence of horizons >= 1; got "
                             f"{self.curriculum!r}")
        object.__setattr__(self, "curriculum", tuple(int(h) for h in curriculum))
        for name in ("deterministic", "stop_when_learned"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False; got {getattr(self, name)!r}")
        check_at_most("hidden", self.hidden, "MAX_HIDDEN")
        check_at_most("steps", self.steps, "MAX_STEPS")
        check_at_most("batch", self.batch, "MAX_BATCH")
        check_at_most("test_horizon", self.test_horizon, "MAX_HORIZON")
        check_at_most("the longest curriculum horizon", max(curriculum), "MAX_HORIZON")
        self._check_target_range(max(curriculum))
        for name in ("hidden", "steps", "batch", "seed", "test_horizon", "test_batches",
                     "checkpoint_every", "history_every"):
            object.__setattr__(self, name, int(getattr(self, name)))
        for name in ("l2", "threshold", "lr", "clip"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def _check_target_range(self, longest: int) -> None:
        """Training computes in float32 and its MSE sums ``batch * H * d`` squared errors
        before dividing: every target of the curriculum must stay below
        ``sqrt(float32_max / (batch H d))`` or the loss can be infinite.  The test runs in
        float64 with the same sum.  A growing task (fibonacci-2: ~1.618^H) fails this at long
        horizons; the refusal says up to which horizon it can train."""
        d = self.task.d
        checks = ((longest, FLOAT32_MAX, "float32 (training)", "curriculum horizons"),
                  (self.test_horizon, float(np.finfo(np.float64).max), "float64 (the test)",
                   "test_horizon"))
        for horizon, top, where, what in checks:
            bound = target_bounds(self.task, horizon)
            cap = float(np.sqrt(top / (self.batch * horizon * d)))
            if not np.max(bound) <= cap:
                ok = int(np.argmax(~(bound <= cap)))  # horizons 1..ok stay below the cap
                raise ValueError(
                    f"task {self.task.label}: its targets grow to {np.max(bound):.3g} by H = "
                    f"{horizon}, and the squared errors of a batch overflow {where}; use "
                    f"{what} <= {ok}")

    def hyper_parameters(self) -> dict[str, Any]:
        """Every field except the task, JSON-ready."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "task"}
        out["curriculum"] = list(self.curriculum)
        return out

    @classmethod
    def from_hyper_parameters(cls, task: TaskSpec, params: dict[str, Any]) -> TrainConfig:
        """Inverse of `hyper_parameters`; unknown keys are a ValueError naming them."""
        known = {f.name for f in fields(cls)} - {"task"}
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"unknown training parameter(s): {', '.join(sorted(unknown))}")
        params = dict(params)
        if "curriculum" in params and isinstance(params["curriculum"], list):
            params["curriculum"] = tuple(params["curriculum"])
        return cls(task=task, **params)

    def differences(self, other: TrainConfig, ignore: frozenset[str] = RESUMABLE_FIELDS
                    ) -> list[str]:
        """Names of the fields (``task`` compared by `TaskSpec.same_task`) that differ."""
        diff = [] if self.task.same_task(other.task) else ["task"]
        mine, theirs = self.hyper_parameters(), other.hyper_parameters()
        diff += [k for k in mine if k not in ignore and mine[k] != theirs[k]]
        return diff

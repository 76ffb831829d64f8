"""The zoo's own task arithmetic, written from the task definition alone (no `emt.numerics`,
no `emt.theory.circuit`): Phi, windows, sequences, a rollout and sign accuracy.

A task (`emt.theory.registry.get(name)`) emits ``x(t) = F^T [x(t-s); ...; x(t-1)]`` after its
``s`` given steps.  The window ``w(t) = [x(t-s+1); ...; x(t)]`` (oldest first, ``s d`` slots)
moves by the block companion matrix

    Phi[block(k), block(k+1)] = I   (k < s - 1),     Phi[block(s-1), :] = F^T,

so ``w(t+1) = Phi w(t)`` in the output phase.  In the input phase a net started at zero sees the
window filled from the newest end: ``w(t+1) = S w(t) + E_new u(t+1)`` with ``S`` the shift
(Phi with its last block row zeroed).
"""

from __future__ import annotations

import itertools

import numpy as np

from emt.theory.registry import get as get_task
from emt.theory.taskspec import TaskSpec

__all__ = ["get_task", "F_of", "phi_of", "shift_of", "newest", "hypercube", "full_windows",
           "partial_windows", "sequences", "states", "rollout", "sign_accuracy", "task_accuracy",
           "state_linear_r2", "SOLVES_ACCURACY", "MAX_WINDOW_SLOTS"]

SOLVES_ACCURACY = 0.95  # the task's own success bar: sign accuracy at H = 200 (the paper's)
MAX_WINDOW_SLOTS = 16  # enumerate at most 2^16 windows (s d <= 16: every task the zoo uses)


def F_of(task: TaskSpec) -> np.ndarray:
    """``F`` (``s d x d``) as float64, read from the task's exact matrix."""
    return np.array(task.F.tolist(), dtype=np.float64)


def newest(task: TaskSpec) -> slice:
    """The newest step's ``d`` slots."""
    return slice((task.s - 1) * task.d, task.s * task.d)


def phi_of(task: TaskSpec) -> np.ndarray:
    """The block companion matrix Phi (module docstring)."""
    n, d = task.s * task.d, task.d
    phi = np.zeros((n, n))
    phi[: n - d, d:] = np.eye(n - d)
    phi[n - d :, :] = F_of(task).T
    return phi


def shift_of(task: TaskSpec) -> np.ndarray:
    """The input phase's shift: Phi with its composition row zeroed."""
    shift = phi_of(task)
    shift[newest(task)] = 0.0
    return shift


def hypercube(n: int) -> np.ndarray:
    """Every point of ``{-1, +1}^n`` as a row (``2^n x n``), in a fixed order."""
    return np.array(list(itertools.product((-1.0, 1.0), repeat=n)))


def full_windows(task: TaskSpec) -> np.ndarray:
    """Every ``+-1`` window (rows, ``2^(s d) x s d``): the output phase of a signed-copy task
    never leaves this set."""
    n = task.s * task.d
    if n > MAX_WINDOW_SLOTS:
        raise ValueError(f"task {task.label}: s d = {n} slots; the zoo enumerates windows only "
                         f"up to {MAX_WINDOW_SLOTS} slots")
    return hypercube(n)


def partial_windows(task: TaskSpec) -> np.ndarray:
    """The input phase's windows after ``1..s-1`` steps from zero: the newest ``k d`` slots
    ``+-1``, the older ones zero (rows)."""
    s, d = task.s, task.d
    rows = []
    for k in range(1, s):
        filled = hypercube(k * d)
        block = np.zeros((len(filled), s * d))
        block[:, (s - k) * d :] = filled
        rows.append(block)
    return np.concatenate(rows) if rows else np.zeros((0, s * d))


def sequences(task: TaskSpec, batch: int, horizon: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs (B, s+H, d), targets (B, H, d))``: ``+-1`` inputs for ``s`` steps, then zeros;
    targets continue the window by Phi (float64)."""
    s, d = task.s, task.d
    given = rng.choice(np.array([-1.0, 1.0]), size=(batch, s, d))
    inputs = np.zeros((batch, s + horizon, d))
    inputs[:, :s] = given
    phi = phi_of(task)
    w = given.reshape(batch, s * d).T
    targets = np.empty((batch, horizon, d))
    for t in range(horizon):
        w = phi @ w
        targets[:, t] = w[newest(task)].T
    return inputs, targets


def states(weights: dict[str, np.ndarray], inputs: np.ndarray) -> np.ndarray:
    """Hidden states ``h(t) = act(W_hh h(t-1) + W_uh u(t) + b_h)``, ``h(-1) = 0`` (``b_h``
    when the net has one), for ``inputs`` ``(B, T, d)``; returns ``(B, T, N_h)``."""
    act = np.tanh if str(weights.get("activation", "tanh")) == "tanh" else (lambda a: a)
    W_uh, W_hh = weights["W_uh"], weights["W_hh"]
    b_h = np.asarray(weights.get("b_h", np.zeros(W_hh.shape[0])), dtype=np.float64)
    h = np.zeros((inputs.shape[0], W_hh.shape[0]))
    hs = []
    for t in range(inputs.shape[1]):
        h = act(h @ W_hh.T + inputs[:, t] @ W_uh.T + b_h)
        hs.append(h)
    return np.stack(hs, axis=1)


def rollout(weights: dict[str, np.ndarray], inputs: np.ndarray) -> np.ndarray:
    """Outputs ``y(t) = W_hy h(t)`` (`states`); returns ``(B, T, d_out)``."""
    return states(weights, inputs) @ np.asarray(weights["W_hy"]).T


def sign_accuracy(y: np.ndarray, target: np.ndarray) -> float:
    """Fraction of entries with matching sign (``>= 0`` read as ``+``)."""
    return float(np.mean((y >= 0) == (target >= 0)))


def task_accuracy(weights: dict[str, np.ndarray], task: TaskSpec, seed: int,
                  horizon: int = 200, batches: int = 10, batch: int = 64) -> float:
    """Mean sign accuracy over the output phase of ``batches`` fresh batches (the task's own
    measure, H = 200 by default), from the zoo's own rollout."""
    rng = np.random.default_rng(seed)
    acc = []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(batches):
            inputs, targets = sequences(task, batch, horizon, rng)
            y = rollout(weights, inputs)
            acc.append(sign_accuracy(y[:, task.s :], targets))
    return float(np.mean(acc))


def state_linear_r2(weights: dict[str, np.ndarray], task: TaskSpec, seed: int,
                    batch: int = 256) -> float:
    """How linear the net's code is: ``1 - |H - W A|^2 / |H|^2`` for the least-squares ``A``
    (no intercept) of the hidden states ``h(t)`` on the windows ``w(t)``, over the first ``2 s``
    output-phase steps of ``batch`` fresh sequences (in-sample; a descriptor of the zoo
    member, not a verdict)."""
    s, d = task.s, task.d
    inputs, targets = sequences(task, batch, 2 * s, np.random.default_rng(seed))
    x = np.concatenate([inputs[:, :s], targets], axis=1)  # x(0..3s-1)
    hs = states(weights, inputs)
    H = hs[:, s:].reshape(-1, hs.shape[2])
    W = np.concatenate([x[:, t - s + 1 : t + 1].reshape(batch, 1, s * d)
                        for t in range(s, 3 * s)], axis=1).reshape(-1, s * d)
    A = np.linalg.lstsq(W, H, rcond=None)[0]
    total = float(np.sum(H**2))
    return 1.0 - float(np.sum((H - W @ A) ** 2)) / total if total > 0 else 0.0

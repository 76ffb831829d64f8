"""Task data (docs/science.md): input sequences and output-phase targets for any `TaskSpec`.

Input phase ``t = 0..s-1``: ``u(t)`` i.i.d. uniform on ``{-1, +1}^d``; output phase
``t = s..s+H-1``: ``u(t) = 0``.  Ground truth ``x(t) = u(t)`` for ``t < s`` and
``x(t) = F^T [x(t-s); ...; x(t-1)]`` afterwards.  The network's target is ``x(s..s+H-1)``.
F is read from the task (never re-derived), so data and theory cannot drift apart.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from emt.theory.recurrence import task_continuation
from emt.theory.taskspec import TaskSpec

__all__ = ["Batch", "as_generator", "make_batch", "make_batches", "continue_sequence",
           "sign_accuracy", "target_bounds", "FLOAT32_MAX"]

FLOAT32_MAX = float(np.finfo(np.float32).max)
# Integers up to 2^53 are exact in float64: below it any summation order gives the same bits.
EXACT_FLOAT64 = 2.0 ** 53


@dataclass(frozen=True)
class Batch:
    """``inputs``: ``(B, s + H, d)`` (float32); ``targets``: ``(B, H, d)``, float32 when every
    target fits in float32, else float64 (a growing task such as fibonacci-2 passes 3.4e38
    near H = 185; casting would turn its targets into infinities)."""

    inputs: np.ndarray
    targets: np.ndarray


def as_generator(seed_or_rng: int | np.random.Generator) -> np.random.Generator:
    """An explicit ``np.random.Generator`` from an integer seed (or the generator itself)."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if isinstance(seed_or_rng, bool) or not isinstance(seed_or_rng, int | np.integer):
        raise ValueError(f"seed must be an integer or a numpy Generator; got {seed_or_rng!r}")
    if seed_or_rng < 0:
        raise ValueError(f"seed must be non-negative; got {seed_or_rng}")
    return np.random.default_rng(int(seed_or_rng))


def continue_sequence(task: TaskSpec, window: np.ndarray, horizon: int) -> np.ndarray:
    """Run the task's composition forward from the ``s`` given steps.

    ``window`` has shape ``(B, s, d)`` holding ``x(0..s-1)``; returns ``(B, horizon, d)``
    holding ``x(s..s+horizon-1)`` (float64): `theory.recurrence.task_continuation` in the
    batch-first layout of the data.
    """
    s, d = task.s, task.d
    window = np.asarray(window, dtype=np.float64)
    if window.ndim != 3 or window.shape[1:] != (s, d):
        raise ValueError(f"window must have shape (B, {s}, {d}); got {window.shape}")
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 0:
        raise ValueError(f"horizon must be a non-negative integer; got {horizon!r}")
    # (B, s, d) -> columns (s d, B): a C-order reshape puts dimension i of step k at slot k d + i.
    columns = window.reshape(window.shape[0], s * d).T
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, once
        x = np.transpose(task_continuation(task, columns, int(horizon)), (2, 0, 1))
    if not np.all(np.isfinite(x)):
        raise ValueError(f"task {task.label}: its sequence overflows float64 within H = "
                         f"{horizon} steps (the composition grows geometrically); use a "
                         "shorter horizon")
    return x


def target_bounds(task: TaskSpec, horizon: int) -> np.ndarray:
    """``b[t]`` (``t = 0..horizon-1``) bounds ``|x_j(s + t)|`` for every ``j`` and every input
    in ``{-1, +1}^(s d)``: the task's recurrence run on ``|F|`` from an all-ones window
    (triangle inequality; exact when F has no cancelling signs, as for signed copies and
    fibonacci-2).  Costs ``O(H s d^2)``, no batch; values past float64 are ``inf``."""
    F = np.abs(task.F_numeric())
    s, d = task.s, task.d
    a = np.ones((s + horizon, d))
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(s, s + horizon):
            a[t] = a[t - s : t].reshape(s * d) @ F
    return np.max(a[s:], axis=1)


def _check_sizes(batch_size: int, horizon: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}")
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon H must be a positive integer; got {horizon!r}")


def make_batch(
    task: TaskSpec, batch_size: int, horizon: int, rng: int | np.random.Generator
) -> Batch:
    """A batch of ``batch_size`` sequences with an output phase of ``horizon`` steps."""
    _check_sizes(batch_size, horizon)
    gen = as_generator(rng)
    s, d = task.s, task.d
    window = _draw_window(gen, batch_size, s, d)
    inputs = np.zeros((batch_size, s + horizon, d), dtype=np.float32)
    inputs[:, :s] = window
    targets = continue_sequence(task, window, horizon)
    if np.max(np.abs(targets), initial=0.0) <= FLOAT32_MAX:
        targets = targets.astype(np.float32)
    return Batch(inputs=inputs, targets=targets)


def _draw_window(gen: np.random.Generator, batch_size: int, s: int, d: int) -> np.ndarray:
    """The input window of one batch: the data stream's only draw per step."""
    return gen.choice(np.array([-1.0, 1.0]), size=(batch_size, s, d))


# Above this many nonzeros in a column of F, one dense product per step beats the gathers.
SPARSE_DEPTH = 4


@functools.lru_cache(maxsize=256)
def _exact_recurrence(task: TaskSpec, horizon: int) -> tuple | None:
    """The recurrence in a form for `make_batches` when it is exact in float64 on {-1, +1}
    windows up to ``horizon`` (integer F and `target_bounds` below 2^53: every product and
    partial sum is an integer below 2^53, so any summation order gives the same bits), else
    None.  The form: ``("sparse", layers)`` with ``layers[j] = (rows, coef)`` the j-th nonzero
    of each column of F (``coef`` 0 where a column has fewer), when no column has more than
    `SPARSE_DEPTH` nonzeros (the signed-copy tasks have one); else ``("dense", F^T)``."""
    F = task.F_numeric()
    if not np.array_equal(F, np.round(F)):
        return None
    if not np.max(target_bounds(task, horizon), initial=0.0) < EXACT_FLOAT64:
        return None
    nonzero = [np.flatnonzero(F[:, i]) for i in range(task.d)]
    depth = max(len(rows) for rows in nonzero)
    if depth > SPARSE_DEPTH:
        return "dense", np.ascontiguousarray(F.T)
    layers = []
    for j in range(depth):
        rows = np.array([r[j] if j < len(r) else 0 for r in nonzero])
        coef = np.array([F[r[j], i] if j < len(r) else 0.0 for i, r in enumerate(nonzero)])
        layers.append((rows, coef[:, None]))
    return "sparse", layers


def make_batches(task: TaskSpec, batch_size: int, horizon: int,
                 rngs: list[np.random.Generator]) -> tuple[np.ndarray, np.ndarray]:
    """The input windows ``(K, B, s, d)`` (float32) and targets ``(K, B, H, d)`` of
    ``make_batch(task, batch_size, horizon, rngs[k])`` for each of the K generators, bit for
    bit (each generator draws exactly what `make_batch` draws), in one computation.

    When the recurrence is exact in float64 (`_exact_recurrence`), the K B sequences are
    continued together, ``x(t) = 0 + F^T [x(t-s); ...; x(t-1)]`` over all K B columns at once
    (the leading +0.0 makes an exact zero +0.0, as `continue_sequence`'s sum does): exact, so
    equal to `continue_sequence` of each batch whatever the summation order.  Otherwise each
    batch is continued by `continue_sequence` (the rounding of a non-integer F is then that of
    `make_batch`).  Targets are float32 when every target fits in float32, else float64 (as
    `make_batch` decides per batch)."""
    if not rngs:
        raise ValueError("make_batches needs at least one generator")
    _check_sizes(batch_size, horizon)
    s, d, B, K, H = task.s, task.d, batch_size, len(rngs), int(horizon)
    windows = np.stack([_draw_window(as_generator(r), B, s, d) for r in rngs])  # (K, B, s, d)
    form = _exact_recurrence(task, H)
    if form is None:
        targets = np.stack([continue_sequence(task, w, H) for w in windows])
        if np.max(np.abs(targets), initial=0.0) <= FLOAT32_MAX:
            targets = targets.astype(np.float32)
        return windows.astype(np.float32), targets
    kind, rule = form
    N = K * B
    xs = np.empty((s + H, d, N))  # time-major: x(t) is (d, N), one column per sequence
    xs[:s] = windows.reshape(N, s, d).transpose(1, 2, 0)
    for t in range(s, s + H):
        window = xs[t - s:t].reshape(s * d, N)
        if kind == "dense":
            np.matmul(rule, window, out=xs[t])
            xs[t] += 0.0
        else:
            xs[t] = 0.0
            for rows, coef in rule:
                xs[t] += coef * window[rows]
    targets = xs[s:].transpose(2, 0, 1).reshape(K, B, H, d)
    return windows.astype(np.float32), targets.astype(np.float32)  # exact: below 2^53


def sign_accuracy(prediction: np.ndarray, target: np.ndarray, zero_band: float = 0.0) -> float:
    """Fraction of entries whose signs agree, with ``>= 0`` read as ``+1`` on both sides
    (chance is 0.5 on the +-1 signed-copy tasks): the paper's accuracy when ``zero_band = 0``.

    ``zero_band > 0`` widens the boundary: a prediction must clear ``zero_band * max(1, |x|)``
    on the target's side (a zero target accepts anything above ``-band``).  The checks use it
    so that an exactly cancelling linear net is not scored by the sign of its rounding error.
    """
    prediction = np.asarray(prediction, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if prediction.shape != target.shape:
        raise ValueError(f"prediction shape {prediction.shape} != target shape {target.shape}")
    if prediction.size == 0:
        raise ValueError("cannot score an empty prediction")
    if not zero_band >= 0:
        raise ValueError(f"zero_band must be >= 0; got {zero_band!r}")
    band = zero_band * np.maximum(1.0, np.abs(target))
    correct = np.where(target < 0, prediction < -band, prediction >= np.where(target > 0, band,
                                                                                -band))
    return float(np.mean(correct))

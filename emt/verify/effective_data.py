"""The data the effective checks are fitted and judged on: seeded input windows, the task's
windows along a sequence, the model driven through them, and the *odd and even parts* of its
states.

The tasks are odd: negating the input window negates every target (``x(t)`` is linear in the
window).  So the claim speaks about the odd part of the state,

    x_odd(w) = (x(w) - x(-w)) / 2,    x_even(w) = (x(w) + x(-w)) / 2,

computed by driving the model on ``w`` and on ``-w``.  A bias-free Elman net is odd (``tanh``
is odd and there is no constant), so its even part is exactly zero; a gated cell's need not be
(products of inputs, e.g. ``w_i w_j``, are even and not constant beyond one bit).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emt.numerics.data import continue_sequence
from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.numerics.simulate import ElmanDynamics
from emt.theory.taskspec import TaskSpec

__all__ = ["random_windows", "sequence_windows", "drive", "probe_dynamics", "SymmetricRun",
           "drive_symmetric", "is_odd"]


def random_windows(task: TaskSpec, batch: int, seed: int, tag: int) -> np.ndarray:
    """``batch`` random +-1 input windows (``batch x s x d``) from the stream ``(seed, tag)``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, tag]))
    return rng.choice(np.array([-1.0, 1.0]), size=(batch, task.s, task.d))


def sequence_windows(task: TaskSpec, window: np.ndarray, steps: int) -> np.ndarray:
    """Windows ``w(t)`` for ``t = s-1 .. s-1+steps`` (``B x (steps+1) x n``) of the sequences
    that start with ``window`` (``B x s x d``)."""
    B, s, d = window.shape
    x = np.concatenate([window, continue_sequence(task, window, steps)], axis=1)
    view = np.lib.stride_tricks.sliding_window_view(x, s, axis=1)  # (B, steps+1, d, s)
    return np.ascontiguousarray(np.swapaxes(view, 2, 3)).reshape(B, steps + 1, s * d)


def drive(model: Dynamics, window: np.ndarray, steps: int) -> np.ndarray:
    """States ``x(0) .. x(s-1+steps)`` (``B x (s+steps) x state_dim``) for the input phase
    ``window`` followed by ``steps`` zero inputs."""
    B, s, d = window.shape
    inputs = np.concatenate([window, np.zeros((B, steps, d))], axis=1)
    with np.errstate(all="ignore"):  # an overflowing model is judged, not warned about
        states, _ = rollout_dynamics(model, inputs)
    return states


def probe_dynamics(model: Dynamics, subject: str) -> None:
    """Call the model once on a 2-sequence batch and check the shapes it returns, so that a
    model that does not keep the `Dynamics` contract is one clear ``ValueError``."""
    for name in ("d_in", "d_out", "state_dim"):
        value = getattr(model, name)
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{subject}: model.{name} must be a positive integer; got {value!r}")
    D = int(model.state_dim)
    try:
        x = np.asarray(model.initial_state(2), dtype=np.float64)
        if x.shape != (2, D):
            raise ValueError(f"initial_state(2) has shape {x.shape}, expected (2, {D})")
        nxt = np.asarray(model.step(x, np.zeros((2, model.d_in))), dtype=np.float64)
        if nxt.shape != (2, D):
            raise ValueError(f"step returns shape {nxt.shape}, expected (2, {D})")
        y = np.asarray(model.readout(nxt), dtype=np.float64)
        if y.shape != (2, model.d_out):
            raise ValueError(f"readout returns shape {y.shape}, expected (2, {model.d_out})")
    except Exception as exc:  # a user's model: report what went wrong in one line
        raise ValueError(f"{subject}: the model does not keep the Dynamics contract: "
                         f"{exc}") from None
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(nxt)) and np.all(np.isfinite(y))):
        raise ValueError(f"{subject}: the model's initial state, first step or readout is not "
                         "finite")


@dataclass(frozen=True, eq=False)
class SymmetricRun:
    """States of ``B`` sequences driven on their windows and on the negated windows, over the
    output steps ``t = first .. first + T - 1``: ``odd``/``even`` (``B x T x D``) and the
    readout's ``y_odd``/``y_even`` (``B x T x d_out``, the readout applied to the states on
    ``w`` and ``-w``); ``windows`` (``B x T x n``): the task window ``w(t)``."""

    odd: np.ndarray
    even: np.ndarray
    y_odd: np.ndarray
    y_even: np.ndarray
    windows: np.ndarray
    first: int

    @property
    def finite(self) -> bool:
        return bool(np.all(np.isfinite(self.odd)) and np.all(np.isfinite(self.even)))


def is_odd(model: Dynamics) -> bool:
    """Whether ``model`` is odd by construction: a bias-free Elman net with an odd activation
    (tanh or the identity) maps ``-w`` to ``-x(w)`` exactly, step by step."""
    if not isinstance(model, ElmanDynamics):
        return False
    w = model.weights
    return w.activation in ("tanh", "linear") and all(
        b is None or not np.any(b) for b in (w.b_h, w.b_y))


def drive_symmetric(model: Dynamics, task: TaskSpec, window: np.ndarray, first: int,
                    last: int) -> SymmetricRun:
    """Drive ``model`` on ``window`` (``B x s x d``) and on ``-window`` through the input phase
    and zero inputs up to ``t = last``; keep ``t = first .. last`` (``first >= s - 1``).  An odd
    model (`is_odd`) is driven once: its run on ``-window`` is ``-x(window)`` exactly."""
    s = task.s
    B = len(window)
    w = sequence_windows(task, window, last - s + 1)[:, first - s + 1:]
    if is_odd(model):
        plus = drive(model, window, last - s + 1)[:, first:]
        with np.errstate(all="ignore"):
            y = model.readout(plus.reshape(-1, model.state_dim)).reshape(B, -1, model.d_out)
        return SymmetricRun(plus, np.zeros_like(plus), y, np.zeros_like(y), w, first)
    states = drive(model, np.concatenate([window, -window]), last - s + 1)[:, first:]
    with np.errstate(all="ignore"):
        y = model.readout(states.reshape(-1, model.state_dim)).reshape(2 * B, -1, model.d_out)
        plus, minus = states[:B], states[B:]
        return SymmetricRun((plus - minus) / 2, (plus + minus) / 2, (y[:B] - y[B:]) / 2,
                            (y[:B] + y[B:]) / 2, w, first)

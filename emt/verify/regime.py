"""Descriptors of how a model holds its embedding over time (they never decide a verdict).

``A`` is the fitted embedding ``x ~ A z`` (`verify.embedding`), ``z = Q^T Pi_Phi w`` the live
coordinates, ``A^+`` its least-squares read-out.

* `regime`: load ``x(s-1) = c A z`` for fresh windows and ``c`` in ``LOADS`` (0.25 .. 1.5), run
  ``H`` steps with zero input and measure the *amplitude*: the RMS of the image coordinates
  ``A^+ x(t)`` over the last ``L = min(max(2 s, 4), H // 2)`` steps.  ``amplitude_ratio`` is the
  amplitude reached from ``c = 0.5`` over the one from ``c = 1``; ``decay`` the amplitude from
  ``c = 1`` over its last ``L`` steps divided by that over its first ``L``.  ``class``:

  - ``divergent``: some amplitude is not finite (the states overflowed);
  - ``leaky``: ``decay < 0.5`` (the loaded amplitude at least halves over ``H`` steps), or
    ``amplitude_ratio < 0.35`` (well below 0.5: a smaller load fades more);
  - ``attractor``: ``amplitude_ratio >= 0.75`` (nearer 1 than 0.5: the amplitude is the
    dynamics', not the load's, as for a saturating net);
  - ``linear``: otherwise, ``0.35 <= amplitude_ratio < 0.75`` (near 0.5: the amplitude scales
    with the load, as for the linear circuit, where it is exactly 0.5).

* `long_horizon`: driven from the zero state through the input phase, ``H = 1000`` output
  steps, in ``LONG_BLOCKS`` blocks of equal length: the decided sign accuracy, the magnitude
  ``RMS(y) / RMS(target)`` and the time-resolved fit, the R^2 ``1 - |x - A z|^2 /
  |x - mean x|^2`` of the states against the embedding fitted on the first steps (how far the
  states drift off it; reported no lower than ``R2_FLOOR = -1``, which also stands for states
  that vanish or overflow).  Windows are drawn from ``seed`` and private tags.

**Precision.**  Both run in float64, although they decide nothing.  Float32 runs (half the
memory traffic of the ``W_hh`` read every step, about 0.2 s of the 1.1 s these runs cost at
N_h = 1024) matched float64 to 2.6e-6 on the benchmark's circuits and initialisations, but are
not faithful in general (measured 2026-12-06, benchmarks/RESULTS.md): both descriptors read
the image coordinates ``A^+ x``, which for a net whose states grow out of the fitted image are
a small part of a large state, so float32's 1e-6 relative state error becomes ``1e-6 |x| /
|A^+ x|`` (a random 8-unit linear net: regime amplitudes off by up to 13 %); a saturating tanh
net near the boundary between two attractors ends in the other one (fit_over_time -0.31
instead of -0.24); and an output that cancels exactly (1e-16 in float64, 1e-7 in float32) is
scored past the sign score's 1e-9 zero band.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emt.numerics.data import continue_sequence
from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.theory.effective import live_coordinates
from emt.theory.taskspec import TaskSpec
from emt.verify.effective_data import drive, random_windows, sequence_windows
from emt.verify.embedding import held_out_r2
from emt.verify.scoring import decided_sign_accuracy

__all__ = ["regime", "regime_class", "long_horizon", "LOADS", "CLASSES", "LONG_HORIZON"]

LOADS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
CLASSES = ("linear", "attractor", "leaky", "divergent")
LINEAR_LOW, ATTRACTOR_LOW, LEAK_DECAY = 0.35, 0.75, 0.5  # the class rule (module docstring)
REGIME_WINDOWS = 4  # windows per load: 24 loaded states
LONG_HORIZON = 1000
LONG_SEQUENCES = 8  # 8 x 100 x d signs per block
LONG_BLOCKS = 10
R2_FLOOR = -1.0  # states further from the embedding than their own spread (or vanishing ones)
_REGIME_TAG, _LONG_TAG = 8301, 8302


def regime_class(ratio: float, decay: float) -> str:
    """The class of `regime` from ``amplitude_ratio`` and ``decay`` (module docstring)."""
    if not (np.isfinite(ratio) and np.isfinite(decay)):
        return "divergent"
    if decay < LEAK_DECAY or ratio < LINEAR_LOW:
        return "leaky"
    return "attractor" if ratio >= ATTRACTOR_LOW else "linear"


def _rms(a: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.mean(a**2)))


def regime(model: Dynamics, task: TaskSpec, A: np.ndarray, A_pinv: np.ndarray, seed: int,
           horizon: int) -> dict[str, Any]:
    """``{amplitude_ratio, class, decay, amplitude: {c: ...}, gain: {c: amplitude / (c x the
    loaded amplitude)}, measure, horizon, last_steps}`` (module docstring)."""
    live = live_coordinates(task)
    s, d, B = task.s, task.d, REGIME_WINDOWS
    z0 = live.of_windows(random_windows(task, B, seed, _REGIME_TAG).reshape(B, s * d))
    start = np.concatenate([c * z0 @ A.T for c in LOADS])
    with np.errstate(all="ignore"):  # an overflowing model is classed, not warned about
        states, _ = rollout_dynamics(model, np.zeros((len(start), horizon, d)),
                                     state_init=start)
        z = (states @ A_pinv.T).reshape(len(LOADS), B, horizon, -1)
    L = max(1, min(max(2 * s, 4), horizon // 2))
    end = {c: _rms(z[i, :, -L:]) for i, c in enumerate(LOADS)}
    first = _rms(z[LOADS.index(1.0), :, :L])
    loaded = _rms(z0)
    with np.errstate(all="ignore"):
        ratio = end[0.5] / end[1.0] if end[1.0] > 0 else float("nan")
        decay = end[1.0] / first if first > 0 else float("nan")
    return {"amplitude_ratio": ratio, "class": regime_class(ratio, decay), "decay": decay,
            "amplitude": {f"{c:g}": v for c, v in end.items()},
            "gain": {f"{c:g}": v / (c * loaded) if loaded > 0 else float("nan")
                     for c, v in end.items()},
            "measure": f"RMS of the image coordinates A^+ x over the last {L} of {horizon} "
                       f"steps from x(s-1) = c A z, {B} windows per load",
            "horizon": horizon, "last_steps": L}


def long_horizon(model: Dynamics, task: TaskSpec, A: np.ndarray, seed: int,
                 horizon: int = LONG_HORIZON) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(long_horizon, fit_over_time)`` descriptors (module docstring); each block's numbers
    are listed in time order, ``block_starts`` the output step (0 = ``t = s``) each starts at.
    A task whose sequence overflows float64 within ``horizon`` gets a ``note`` instead."""
    d, B = task.d, LONG_SEQUENCES
    window = random_windows(task, B, seed, _LONG_TAG)
    try:
        target = continue_sequence(task, window, horizon)
    except ValueError as exc:
        return {"note": str(exc)}, {"note": str(exc)}
    live = live_coordinates(task)
    w = sequence_windows(task, window, horizon)[:, 1:]  # w(t), t = s .. s + horizon - 1
    x = drive(model, window, 0)[:, -1]  # x(s-1)
    size = max(1, horizon // LONG_BLOCKS)
    starts = list(range(0, horizon, size))
    acc, mag, r2 = [], [], []
    ys = []
    for a in starts:
        b = min(a + size, horizon)
        with np.errstate(all="ignore"):
            states, y = rollout_dynamics(model, np.zeros((B, b - a, d)), state_init=x)
            x = states[:, -1]
            ys.append(y)
            ok = bool(np.all(np.isfinite(states)))
            pred = live.of_windows(w[:, a:b]) @ A.T
            flat = states.reshape(-1, states.shape[-1])
            r2.append(max(held_out_r2(flat - pred.reshape(flat.shape), flat), R2_FLOOR) if ok
                      else R2_FLOOR)
        acc.append(decided_sign_accuracy(np.nan_to_num(y), target[:, a:b]))
        mag.append(_rms(y) / max(_rms(target[:, a:b]), 1e-300))
    y_all = np.nan_to_num(np.concatenate(ys, axis=1))
    lh = {"horizon": horizon, "sign_accuracy": decided_sign_accuracy(y_all, target),
          "sign_accuracy_by_block": acc, "rms_ratio_by_block": mag, "block_starts": starts,
          "sequences": B}
    fit = {"r2_by_block": r2, "block_starts": starts, "horizon": horizon, "sequences": B}
    return lh, fit

"""The binding claim's checks and the regime descriptors of one model: the one call a judge makes.

`binding_part` draws ``WINDOWS`` windows from ``seed``, drives them through the input phase to
``t0``, the first step of the fitted embedding's span (after the transient, by the effective
claim's rule; ``s - 1 + max(nu, 1)``, the first reachable step, when the fit is not finite),
once, and uses

* the first ``2 PAIRS`` of them for the interchange interventions and the ablation
  (`verify.interventions`: checks ``binding.interchange``, ``binding.ablation``);
* all of them and their negatives (antithetic pairs) for the Walsh spectrum of ``x(t0)`` in
  the input window's entries (`verify.walsh`: descriptor ``walsh``); an odd model
  (`verify.effective_data.is_odd`) is driven on the drawn half only, its states on the
  negatives being exactly the negated states;

and adds the descriptors ``regime``, ``long_horizon`` and ``fit_over_time``
(`verify.regime`; an Elman net's long runs with row-major copies of its matrices).  The
model is seen only through `numerics.dynamics.Dynamics`, the embedding through its matrix ``A``
and read-out ``A^+`` (`verify.embedding.EmbeddingFit`), so every cell gets the same treatment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from emt.numerics.dynamics import Dynamics
from emt.numerics.simulate import ElmanDynamics
from emt.theory.effective import nilpotent_index
from emt.theory.taskspec import TaskSpec
from emt.verify.checks import CheckResult
from emt.verify.effective_data import drive, is_odd, random_windows, sequence_windows
from emt.verify.interventions import binding_checks, interchange_and_ablation
from emt.verify.regime import long_horizon, regime
from emt.verify.walsh import walsh_spectrum

__all__ = ["binding_part", "PAIRS", "WINDOWS"]

PAIRS = 32  # window pairs: 32 x (variables + 2) states for s steps in one rollout
WINDOWS = 512  # Walsh spectrum: 256 windows and their negatives (halves of 128 >> n = 64)
_WINDOW_TAG = 8201


class Fit(Protocol):
    """What `binding_part` reads of the fitted embedding (`verify.embedding.EmbeddingFit`)."""

    @property
    def A(self) -> np.ndarray: ...

    @property
    def A_pinv(self) -> np.ndarray: ...

    @property
    def finite(self) -> bool: ...

    @property
    def t0(self) -> int: ...


def _row_major(model: Dynamics) -> Dynamics:
    """An Elman net with row-major copies of its matrices for the descriptors' 1,200 zero-input
    steps (`numerics.simulate.ElmanDynamics`'s ``contiguous``: 10-15 % faster at N_h = 1024,
    the same numbers to float64's rounding); any other model as it is."""
    return ElmanDynamics(model.weights, contiguous=True) if isinstance(model, ElmanDynamics) \
        else model


def binding_part(model: Dynamics, task: TaskSpec, fit: Fit, tol: Mapping[str, float],
                 seed: int, *, horizon: int = 200, subject: str = "model",
                 projection: str = "oblique",
                 coordinates: str = "h") -> tuple[list[CheckResult], dict[str, Any]]:
    """``(checks, descriptors)``: the binding claim's two checks and the descriptors
    ``regime``, ``long_horizon``, ``fit_over_time``, ``walsh`` (module docstring).  A fit that
    is not finite fails both checks and leaves the descriptors out.  ``model`` must be in the
    coordinates the fit was made in (``coordinates``: "h", or "a" for an Elman net's
    pre-activation view, `verify.preactivation`): the edits act on that state."""
    s, d = task.s, task.d
    # the edits act where the embedding was fitted: before the transient rule's start the
    # state still holds decaying modes outside the live image, which carry the window too (two
    # PyTorch staggered-4 solvers kept 40-50 % of their state's norm, and decided, wrong-signed
    # outputs, after the live image was projected out at the first reachable step)
    t0 = int(fit.t0) if fit.finite else s - 1 + max(nilpotent_index(task), 1)
    half = max(WINDOWS // 2, 2 * PAIRS)
    drawn = random_windows(task, half, seed, _WINDOW_TAG)
    if is_odd(model):  # its run on -w is exactly -x(w): drive the drawn half only
        states = drive(model, drawn, t0 - s + 1)[:, t0]
        states = np.concatenate([states, -states])
    else:  # antithetic pairs for the Walsh spectrum
        states = drive(model, np.concatenate([drawn, -drawn]), t0 - s + 1)[:, t0]
    w = sequence_windows(task, drawn[:2 * PAIRS], t0 - s + 1)[:, -1]
    A, A_pinv = (fit.A, fit.A_pinv) if fit.finite else (np.full_like(fit.A, np.nan),
                                                        np.full_like(fit.A_pinv, np.nan))
    a, b = slice(0, PAIRS), slice(PAIRS, 2 * PAIRS)
    iv = interchange_and_ablation(model, task, A, A_pinv, states[a], states[b], w[a], w[b],
                                  t0, projection, margin=float(tol["readout.margin"]))
    checks = binding_checks(iv, tol, subject, coordinates)
    if not fit.finite:
        return checks, {}
    runner = _row_major(model)
    lh, over_time = long_horizon(runner, task, A, seed)
    descriptors: dict[str, Any] = {"regime": regime(runner, task, A, A_pinv, seed, horizon),
                                   "long_horizon": lh, "fit_over_time": over_time}
    spectrum = walsh_spectrum(drawn.reshape(half, s * d), states[:half], states[half:])
    if spectrum:
        descriptors["walsh"] = spectrum
    return checks, descriptors

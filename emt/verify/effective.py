"""The effective-circuit claim: does a recurrent model implement Phi through its own step?

The checks see the model only through `numerics.dynamics.Dynamics` (``step`` and ``readout`` on
the full state), so they apply to any cell.  Notation: ``w(t) = [x(t-s+1); ...; x(t)]`` is the
task window at time ``t`` (slot ``k = 0`` oldest), ``Pi = Pi_Phi`` the spectral projector of Phi
(`theory.effective`), ``z = Q^T Pi w`` the orthonormal live-slot coordinates (``r`` numbers) and
``Phi_r`` the task's map on them.

**The claim.**  The tasks are odd (``w -> -w`` flips every target), so the claim speaks about the
odd part ``x_odd(w) = (x(w) - x(-w)) / 2`` of the state (`verify.effective_data`): after the
transient, on the reachable output-phase states,

    x_odd(t) = Psi_eff Pi w(t),

loaded states ``Psi_eff Pi w`` run the task through the model's own step, and the even part
``(x(w) + x(-w)) / 2`` is constant over windows or invisible to the readout.  It is judged in two
coordinate systems, the state ``h`` and, for an Elman net, the pre-activation ``a`` (`verify.
preactivation`); it holds when it holds in either, and the report says which
(`EffectiveAnalysis.coordinates`).

**No step check.**  The embedding already implies one step against Phi: if ``x(t) = A z(t)`` on
consecutive reachable states and the window obeys ``z(t+1) = Phi_r z(t)``, then
``step(A z(t), 0) = x(t+1) = A Phi_r z(t)``, so ``A^+ step(A z, 0) = Phi_r z`` on every reachable
window, and any full-rank time-invariant linear code of the window is similar to ``Phi_r``
(Kalman: minimal realisations of one input-output map are similar).  Its error measures ``A``'s
conditioning times the embedding's residual, so it is a descriptor (``effective_step_error``).

Checks (`verify.effective_checks`; each value with a bootstrap interval over sequences; a check
whose interval straddles its bar is inconclusive): ``effective.embedding`` (held-out R^2 of the
odd part on the live slots, fitted from the transient rule's start), ``effective.rank`` (the
fitted map's smallest whitened singular value over the residual's random-matrix edge),
``effective.even``, ``effective.loaded_state`` (sign accuracy of the free run from
``x(s-1) = Psi_eff Pi x``), ``effective.tracking`` (its state's distance from ``Psi_eff Pi w(t)``)
and ``effective.trajectory`` (the paper's Figure 3 in the fitted basis).

Descriptors (never gate a verdict; `verify.dynamics_descriptors`): the mean gain ``1 - x^2`` and
the saturated fraction (Elman tanh cells), the top ``min(8, r)`` Lyapunov exponents, the step
error, the R^2 in each coordinate system, the fit's start.  ``affine``: the circuit read as
``x = A z + b`` on the full state (the claim has no intercept; a window-constant even part is
such a ``b``, but an even part is not constant in general: ``w_i w_j`` is even and varies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from emt.numerics.data import continue_sequence
from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.theory.effective import LiveCoordinates, live_coordinates, nilpotent_index
from emt.theory.taskspec import TaskSpec
from emt.verify.dynamics_descriptors import gain_descriptors, lyapunov_exponents
from emt.verify.effective_checks import EFFECTIVE_CHECKS, LOADED_BATCH, CoordinateAnalysis
from emt.verify.effective_data import (
    SymmetricRun,
    drive,
    probe_dynamics,
    random_windows,
    sequence_windows,
)
from emt.verify.embedding import EmbeddingFit, held_out_r2
from emt.verify.preactivation import PreactivationDynamics, knee_scale, preactivation_view
from emt.verify.scoring import CheckResult, decided_sign_accuracy
from emt.verify.tolerances import resolve

__all__ = ["run_effective", "effective_analysis", "EffectiveAnalysis", "EmbeddingFit",
           "TrajectoryData", "EFFECTIVE_CHECKS", "claim_status"]

PLOT_PERIODS = 3  # output steps shown by the Figure 3 data, in multiples of s
LYAPUNOV_TRAJECTORIES = 2
LYAPUNOV_BURN_IN = 10  # steps that align the frame with the top directions before averaging
LYAPUNOV_STEPS = 50  # finite-time estimate: off by up to log(cond(embedding)) / 50 per step
LYAPUNOV_COUNT = 8  # exponents reported (at most r and the state size)
_LOADED_TAG, _LYAPUNOV_TAG = 8103, 8105


@dataclass(frozen=True)
class TrajectoryData:
    """What the Figure 3 plot needs: one driven sequence, ``times`` ``s-1 .. s-1+PLOT_PERIODS s``,
    ``decoded`` (``T x n``: ``Q A^+ x_odd(t)``, the state read in the fitted slot basis) and
    ``truth`` (``T x n``: ``Pi w(t)``); slot ``k d + i`` is dimension ``i`` of the ``k``-th
    oldest step; ``live``: which slots ``Pi`` keeps nonzero on the data."""

    times: np.ndarray
    decoded: np.ndarray
    truth: np.ndarray
    s: int
    d: int
    live: np.ndarray


def claim_status(checks: list[CheckResult]) -> str:
    """"fails" when a check failed (decided), "inconclusive" when none failed and one is
    inconclusive, "holds" otherwise (`verify.claims` states the same rule for a report)."""
    if any(c.failed for c in checks):
        return "fails"
    return "inconclusive" if any(c.inconclusive for c in checks) else "holds"


def _to_preactivation(view: PreactivationDynamics):
    """Map a `SymmetricRun` in ``h`` to the same run in ``a`` (no second rollout)."""
    def convert(run: SymmetricRun) -> SymmetricRun:
        if not np.any(run.even):  # an odd net: a(-w) = -a(w), one conversion
            return SymmetricRun(view.of_states(run.odd), run.even, run.y_odd, run.y_even,
                                run.windows, run.first)
        plus, minus = (view.of_states(h) for h in (run.even + run.odd, run.even - run.odd))
        return SymmetricRun((plus - minus) / 2, (plus + minus) / 2, run.y_odd, run.y_even,
                            run.windows, run.first)
    return convert


class EffectiveAnalysis:
    """Every effective check and descriptor for one model and task, each computed once on first
    use.  ``checks`` are those of the chosen coordinate system (``coordinates``: "h" or "a");
    ``descriptors`` explain; ``trajectory`` holds the Figure 3 data; ``notes`` says why a
    descriptor or a coordinate system is absent."""

    def __init__(self, model: Dynamics, task: TaskSpec, tol: Mapping[str, float],
                 seed: int = 0, *, horizon: int = 200, subject: str = "model") -> None:
        if not isinstance(task, TaskSpec):
            raise ValueError(f"task must be a TaskSpec; got {type(task).__name__}")
        if not isinstance(model, Dynamics):
            raise ValueError(f"model must implement numerics.dynamics.Dynamics (cell, d_in, "
                             f"d_out, state_dim, initial_state, step, readout); got "
                             f"{type(model).__name__}")
        if model.d_in != task.d or model.d_out != task.d:
            raise ValueError(f"{subject}: model has d_in = {model.d_in}, d_out = {model.d_out} "
                             f"but task {task.label} has d = {task.d}")
        for name, value, low in (("seed", seed, 0), ("horizon", horizon, 1)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
        probe_dynamics(model, subject)
        self.model, self.task, self.subject = model, task, subject
        self.seed, self.horizon = int(seed), int(horizon)
        # the effective bounds, validated by name and value; other names belong to other checks
        self.tol = {k: v for k, v in resolve({k: v for k, v in tol.items()
                                              if k.startswith("effective.")}).items()
                    if k.startswith("effective.")}
        self.live: LiveCoordinates = live_coordinates(task)
        self.nu = nilpotent_index(task)
        self.notes: dict[str, str] = {}
        args = (task, self.live, self.nu, self.tol, self.seed, self.horizon, subject)
        self._args = args
        self.in_h = CoordinateAnalysis(model, *args, "h")
        self._view, why = preactivation_view(model)
        if why:
            self.notes["coordinates"] = why

    @cached_property
    def in_a(self) -> CoordinateAnalysis | None:
        """The analysis in the pre-activation, in the knee-scaled coordinates whose scale is
        measured on the fit sequences' output-phase states (`verify.preactivation`); ``None``
        for a model without one."""
        if self._view is None:
            return None
        view = self._view
        run = self.in_h.transient_run
        if run.finite:
            view = view.scaled(knee_scale(_to_preactivation(view)(run).odd))
        return CoordinateAnalysis(view, *self._args, "a", source=self.in_h,
                                  convert=_to_preactivation(view))

    # -- the verdict's coordinates -----------------------------------------------------------
    @cached_property
    def _chosen(self) -> tuple[CoordinateAnalysis, list[CheckResult]]:
        """Holds in h: h.  Otherwise a, if it holds there; otherwise the first inconclusive
        system; otherwise h (its checks are reported, a's R^2 is a descriptor)."""
        h_checks = self.in_h.checks()
        h_status = claim_status(h_checks)
        if h_status == "holds" or self.in_a is None:
            return self.in_h, h_checks
        a_checks = self.in_a.checks(stop_at_failure=True)  # complete unless a check failed
        a_status = claim_status(a_checks)
        if a_status == "holds" or (a_status == "inconclusive" and h_status == "fails"):
            return self.in_a, a_checks
        return self.in_h, h_checks

    @property
    def coordinates(self) -> str:
        """"h" (the state) or "a" (the pre-activation): where the reported checks were run."""
        return self._chosen[0].coords

    @property
    def chosen(self) -> CoordinateAnalysis:
        return self._chosen[0]

    @property
    def checks(self) -> list[CheckResult]:
        return self._chosen[1]

    @property
    def fit(self) -> EmbeddingFit:
        return self.chosen.fit

    @property
    def t0(self) -> int:
        return self.chosen.t0

    def _full(self, run: SymmetricRun) -> tuple[np.ndarray, np.ndarray]:
        """``(z, x)`` rows of the full states ``x(w)`` (not only their odd part) over the fitted
        span of ``run`` (h coordinates)."""
        k, L = self.in_h.start[0] + 1, self.in_h.span
        x = (run.odd + run.even)[:, k:k + L]
        return (self.live.of_windows(run.windows[:, k:k + L]).reshape(-1, self.live.rank),
                x.reshape(-1, self.model.state_dim))

    @property
    def fit_data(self) -> tuple[np.ndarray, np.ndarray]:
        return self._full(self.in_h.transient_run)

    @property
    def heldout_data(self) -> tuple[np.ndarray, np.ndarray]:
        return self._full(self.in_h.heldout_run)

    # -- Figure 3 --------------------------------------------------------------------------
    @property
    def trajectory(self) -> TrajectoryData:
        c, task = self.chosen, self.task
        run = c.trajectory_run  # starts at t = s - 1
        n = PLOT_PERIODS * task.s + 1
        truth = run.windows[0, :n] @ self.live.projector.T
        with np.errstate(all="ignore"):
            decoded = (run.odd[0, :n] @ c.fit.A_pinv.T) @ self.live.basis.T
        live = np.std((run.windows @ self.live.projector.T).reshape(-1, task.n_slots),
                      axis=0) > 1e-9
        return TrajectoryData(np.arange(task.s - 1, task.s - 1 + n), decoded, truth, task.s,
                              task.d, live)

    # -- descriptors -------------------------------------------------------------------------
    def step_error(self, analysis: CoordinateAnalysis, b: np.ndarray | None = None,
                   A: np.ndarray | None = None) -> float:
        """Relative RMS of ``A^+ (step(A z + b, 0) - b) - Phi_r z`` on the held-out windows
        (implied by the embedding: module docstring)."""
        f = analysis.fit
        A = f.A if A is None else A
        b = np.zeros(A.shape[0]) if b is None else b
        z = f.z_heldout
        with np.errstate(all="ignore"):
            nxt = analysis.model.step(z @ A.T + b, np.zeros((len(z), self.model.d_in)))
            decoded = (nxt - b) @ np.linalg.pinv(A).T
            target = z @ self.live.phi_live.T
            err = float(np.linalg.norm(decoded - target)) / max(float(np.linalg.norm(target)),
                                                                1e-300)
        return err if np.isfinite(err) else float("inf")

    def lyapunov(self) -> np.ndarray:
        """Top exponents along output-phase trajectories started at driven states x(t0)."""
        window = random_windows(self.task, LYAPUNOV_TRAJECTORIES, self.seed, _LYAPUNOV_TAG)
        start = drive(self.model, window, self.t0 - self.task.s + 1)[:, -1]  # x(t0)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, _LYAPUNOV_TAG, 1]))
        return lyapunov_exponents(self.model, start, min(LYAPUNOV_COUNT, self.live.rank), rng,
                                  steps=LYAPUNOV_STEPS, burn_in=LYAPUNOV_BURN_IN)

    @cached_property
    def descriptors(self) -> dict[str, float]:
        z, x = self.fit_data
        out, note = gain_descriptors(self.model, x)
        if note:
            self.notes["gain"] = note
        lyap = self.lyapunov()
        if np.all(np.isfinite(lyap)):
            out.update({f"lyapunov_{i + 1}": float(v) for i, v in enumerate(lyap)})
        else:
            self.notes["lyapunov"] = "states overflowed along the output-phase trajectories"
        out["effective_in_preactivation"] = float(self.coordinates == "a")
        out["effective_fit_start"] = float(self.t0)
        for analysis in (self.in_h, self.in_a):
            if analysis is not None and "fit" in analysis.__dict__ and analysis.fit.finite:
                out[f"embedding_r2_{analysis.coords}"] = analysis.fit.r2
        if self.fit.finite:
            out["effective_step_error"] = self.step_error(self.chosen)
        return out

    @cached_property
    def affine(self) -> dict[str, float]:
        """The circuit read as an *affine* image of the window, ``x = A z + b``, on the full
        state (descriptors only).  The claim has no intercept: a bias-free Elman net is odd,
        so its even part is zero; a gated cell's even part is a window-constant offset ``b``
        only in part (products such as ``w_i w_j`` are even and vary with the window), which
        ``effective.even`` judges.  Fitted with an intercept on the same states:
        ``embedding_r2_affine`` (held-out), ``affine_step_error``, ``affine_loaded_accuracy``
        and ``affine_tracking_error`` (the loaded run from ``A C x + b``; tracking
        ``|x(t) - b - A C w(t)| / |A C w(t)|``, max over t).  Empty when not finite."""
        (z, x), (zh, xh) = self.fit_data, self.heldout_data
        if not (self.in_h.fit.finite and np.all(np.isfinite(x)) and np.all(np.isfinite(xh))):
            return {}
        with np.errstate(all="ignore"):
            M = np.linalg.lstsq(np.c_[z, np.ones(len(z))], x, rcond=None)[0]
            A, b = M[:-1].T, M[-1]
            r2 = held_out_r2(xh - zh @ A.T - b, xh)
        if not np.all(np.isfinite(M)):
            return {}
        acc, worst = self._loaded_affine(A, b)
        return {"embedding_r2_affine": r2,
                "affine_step_error": self.step_error(self.in_h, b, A),
                "affine_loaded_accuracy": acc, "affine_tracking_error": worst}

    def _loaded_affine(self, A: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        task, H = self.task, self.horizon
        s, d = task.s, task.d
        window = random_windows(task, LOADED_BATCH, self.seed, _LOADED_TAG)
        z0 = self.live.of_windows(window.reshape(LOADED_BATCH, s * d))
        with np.errstate(all="ignore"):
            states, y = rollout_dynamics(self.model, np.zeros((LOADED_BATCH, H, d)),
                                         state_init=z0 @ A.T + b, keep=(LOADED_BATCH, H))
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(states))):
            return 0.0, float("inf")
        acc = decided_sign_accuracy(y, continue_sequence(task, window, H))
        with np.errstate(all="ignore"):
            predicted = self.live.of_windows(sequence_windows(task, window, H)[:, 1:]) @ A.T
            num = np.sqrt(np.sum((states - b - predicted) ** 2, axis=(0, 2)))
            den = np.maximum(np.sqrt(np.sum(predicted**2, axis=(0, 2))), 1e-300)
            worst = float(np.max(num / den))
        return acc, worst if np.isfinite(worst) else float("inf")


def effective_analysis(model: Dynamics, task: TaskSpec, tol: Mapping[str, float],
                       seed: int = 0, *, horizon: int = 200,
                       subject: str = "model") -> EffectiveAnalysis:
    """An `EffectiveAnalysis` (checks, descriptors, Figure 3 data, notes) computed lazily."""
    return EffectiveAnalysis(model, task, tol, seed, horizon=horizon, subject=subject)


def run_effective(model: Dynamics, task: TaskSpec, tol: Mapping[str, float], seed: int = 0,
                  *, horizon: int = 200, subject: str = "model",
                  ) -> tuple[list[CheckResult], dict[str, float]]:
    """The effective checks (``EFFECTIVE_CHECKS`` order, in the chosen coordinates) and the
    descriptors (module docstring) of ``model`` against ``task``.  ``tol`` maps tolerance names
    to bounds; missing ``effective.*`` names take their defaults.  ``ValueError`` names bad
    input."""
    analysis = effective_analysis(model, task, tol, seed, horizon=horizon, subject=subject)
    return analysis.checks, analysis.descriptors

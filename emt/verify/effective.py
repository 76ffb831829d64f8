"""The effective-circuit checks: does a recurrent model implement Phi through its own step?

They see the model only through `numerics.dynamics.Dynamics` (``step`` and ``readout`` on the
full state), so they apply to any cell.  Notation: ``w(t) = [x(t-s+1); ...; x(t)]`` is the task
window at time ``t`` (slot ``k = 0`` oldest), ``Pi = Pi_Phi`` the spectral projector of Phi
(`theory.effective`), ``z = Q^T Pi w`` the orthonormal live-slot coordinates (``r`` numbers) and
``Phi_r`` the task's map on them.  The claim under test (derivation ``effective.md``):

    x(t) = Psi_eff Pi w(t)   on reachable output-phase states,
    step(Psi_eff Pi w, 0) = Psi_eff Phi Pi w.

Data: sequences drawn from ``seed`` are driven from ``x(-1) = initial_state`` through the input
phase; the states at ``t = t0 .. t0 + L - 1`` with ``t0 = s - 1 + max(nu, 1)`` (``nu``: the
nilpotent index of Phi, after which the window's dead part has vanished, `theory.effective.
nilpotent_index`) and ``L = max(2 s, 4)`` are the reachable output-phase states; two thirds of
the sequences fit, the rest are held out (96 + 48 sequences, more when ``8 r`` distinct windows
need them).

Checks (each gated by the named tolerance ``effective.*`` of `verify.tolerances`, whose reasons
quote the values that ``python -m benchmarks.effective_calibration`` prints):

* ``effective.embedding``: least squares ``x ~ A z`` (``A = Psi_eff Q``, no intercept: the zero
  window is the zero state), held-out ``R^2 = 1 - |x - A z|^2 / |x - mean x|^2``; and the
  numerical rank of ``A`` must be ``r``.  Rank rule (a gap, not a bare cut-off): the singular
  values of the window-explained part of the held-out states (``A`` whitened by the covariance of
  ``z``: how far the state moves along each direction the window explains) are compared with the
  noise floor, the largest singular value of the held-out residual (the largest unexplained
  motion); the rank is the number above ``effective.rank_gap`` times the floor.
* ``effective.step``: relative RMS of ``A^+ step(A z, 0) - Phi_r z`` over held-out windows (in
  orthonormal coordinates this is the window-space error ``|| . ||`` of ``Pi Phi w``).
* ``effective.loaded_state``: load ``x(s-1) = A C x`` (``C = Q^T Pi``) for fresh windows ``x``,
  free-run ``H`` steps with zero input through the model's own step, and score the readout's sign
  accuracy against the task's continuation; the state-tracking error
  ``max_t ||x(t) - A C w(t)|| / ||A C w(t)||`` (RMS over sequences) must stay within
  ``effective.tracking``.
* ``effective.trajectory``: the paper's Figure 3 in the fitted basis: driven states decoded to
  slots, ``Q A^+ x(t)``, against ``Pi w(t)``; the value is the smallest per-slot correlation over
  ``TRAJECTORY_STEPS`` output steps (the slots shift one step per time step exactly when the
  decoded values follow the window).

Descriptors (never gate a verdict; `verify.dynamics_descriptors`): the mean gain ``1 - x^2`` and
the fraction of unit-samples with ``|x| > 0.9`` on the reachable states (Elman tanh cells only,
where the state is a tanh output; otherwise absent with the reason in
`EffectiveAnalysis.notes`), and the top ``min(8, r)`` Lyapunov exponents (natural log per step)
along output-phase trajectories started at driven states ``x(t0)``.  ``affine``: the same
embedding, step and loaded run for the circuit read as ``x = A z + b`` (the cells' reports carry
it; a shifted operating point, which the claim does not allow).
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
from emt.verify.checks import CheckResult, finite
from emt.verify.dynamics_descriptors import gain_descriptors, lyapunov_exponents
from emt.verify.embedding import (
    EmbeddingFit,
    drive,
    fit_embedding,
    held_out_r2,
    probe_dynamics,
    random_windows,
    sequence_windows,
)
from emt.verify.generalisation import decided_sign_accuracy
from emt.verify.tolerances import resolve

__all__ = ["run_effective", "effective_analysis", "EffectiveAnalysis", "EmbeddingFit",
           "TrajectoryData", "EFFECTIVE_CHECKS"]

EFFECTIVE_CHECKS = ("effective.embedding", "effective.step", "effective.loaded_state",
                    "effective.trajectory")

FIT_SEQUENCES = 96  # sequences whose states fit the embedding, at least (24 r states for T1)
SAMPLES_PER_SLOT = 8  # more sequences when needed: 8 r distinct windows (min(L, s) a sequence)
LOADED_BATCH = 32  # loaded windows: 32 x H x d signs (51,200 for T1-T4 at H = 200)
TRACK_SEQUENCES = 16  # loaded sequences whose states are kept to measure the tracking error
TRAJECTORY_SEQUENCES = 16  # x 50 steps: 800 samples per slot correlation
TRAJECTORY_STEPS = 50  # output steps scored by effective.trajectory
PLOT_PERIODS = 3  # output steps shown by the Figure 3 data, in multiples of s
LYAPUNOV_TRAJECTORIES = 2
LYAPUNOV_BURN_IN = 10  # steps that align the frame with the top directions before averaging
LYAPUNOV_STEPS = 50  # finite-time estimate: off by up to log(cond(embedding)) / 50 per step
LYAPUNOV_COUNT = 8  # exponents reported (at most r and the state size)

# Independent random streams, one per use of the seed (SeedSequence([seed, tag])).
_FIT_TAG, _HELDOUT_TAG, _LOADED_TAG, _TRAJECTORY_TAG, _LYAPUNOV_TAG = 8101, 8102, 8103, 8104, 8105


@dataclass(frozen=True)
class TrajectoryData:
    """What the Figure 3 plot needs: one driven sequence, ``times`` ``s-1 .. s-1+PLOT_PERIODS s``,
    ``decoded`` (``T x n``: ``Q A^+ x(t)``, the state read in the fitted slot basis) and
    ``truth`` (``T x n``: ``Pi w(t)``); slot ``k d + i`` is dimension ``i`` of the ``k``-th
    oldest step; ``live``: which slots ``Pi`` keeps nonzero on the data."""

    times: np.ndarray
    decoded: np.ndarray
    truth: np.ndarray
    s: int
    d: int
    live: np.ndarray


class EffectiveAnalysis:
    """Every effective check and descriptor for one model and task, each computed once on first
    use.  ``checks`` and ``descriptors`` are what `run_effective` returns; ``trajectory`` holds the
    Figure 3 data; ``notes`` says why a descriptor is absent."""

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
        self.t0 = task.s - 1 + max(self.nu, 1)
        self.fit_steps = max(2 * task.s, 4)
        # a window recurs at most every s steps (repeat copy), so a sequence adds min(L, s)
        # distinct windows; the fit needs many more windows than its r unknowns per unit
        distinct = min(self.fit_steps, task.s)
        self.fit_sequences = max(FIT_SEQUENCES, -(-SAMPLES_PER_SLOT * self.live.rank // distinct))
        self.notes: dict[str, str] = {}

    # -- data ------------------------------------------------------------------------------
    def _reachable(self, batch: int, tag: int) -> tuple[np.ndarray, np.ndarray]:
        """``(z, x)``: live coordinates and states at ``t0 .. t0+fit_steps-1``, flattened."""
        s = self.task.s
        window = random_windows(self.task, batch, self.seed, tag)
        last = self.t0 + self.fit_steps - 1
        states = drive(self.model, window, last - s + 1)[:, self.t0:]
        w = sequence_windows(self.task, window, last - s + 1)[:, self.t0 - s + 1:]
        z = self.live.of_windows(w)
        return z.reshape(-1, self.live.rank), states.reshape(-1, self.model.state_dim)

    @cached_property
    def fit_data(self) -> tuple[np.ndarray, np.ndarray]:
        return self._reachable(self.fit_sequences, _FIT_TAG)

    @cached_property
    def heldout_data(self) -> tuple[np.ndarray, np.ndarray]:
        return self._reachable(self.fit_sequences // 2, _HELDOUT_TAG)

    @cached_property
    def fit(self) -> EmbeddingFit:
        return fit_embedding(*self.fit_data, *self.heldout_data, self.live.rank,
                             self.tol["effective.rank_gap"], self.t0, self.fit_steps)

    # -- checks ----------------------------------------------------------------------------
    def _result(self, name: str, value: float, comparator: str, passed: bool, detail: str,
                metrics: Mapping[str, float] | None = None) -> CheckResult:
        clean = {k: finite(v) for k, v in (metrics or {}).items()}
        return CheckResult(name, self.subject, finite(value), self.tol[name], comparator,
                           bool(passed), detail, clean)

    def _not_finite(self, name: str, comparator: str) -> CheckResult:
        return self._result(name, 0.0, comparator, False,
                            "the model's states overflowed or became NaN on the driven sequences")

    def check_embedding(self) -> CheckResult:
        f, r = self.fit, self.live.rank
        name = "effective.embedding"
        if not f.finite:
            return self._not_finite(name, ">=")
        tol = self.tol[name]
        passed = f.r2 >= tol and f.rank == r
        detail = (f"held-out R^2 {f.r2:.4f} (>= {tol:g}) of the states on the {r} live slots "
                  f"Pi_Phi w(t), t = {f.t0}..{f.t0 + f.steps - 1}; numerical rank {f.rank} of "
                  f"{r} required (singular values above {f.rank_gap:g} x the residual floor "
                  f"{f.noise:.3g}; smallest/floor = {f.gap:.3g}); {f.n_fit} fitted, "
                  f"{f.n_heldout} held-out states")
        if self.model.state_dim < r:
            detail += f"; the state has only {self.model.state_dim} dimensions for {r} slots"
        return self._result(name, f.r2, ">=", passed, detail,
                            {"rank": f.rank, "live_slots": r, "rank_gap": f.gap,
                             "noise_floor": f.noise,
                             "smallest_singular_value": f.signal[-1] if r else 0.0})

    def _step_error(self, A: np.ndarray, A_pinv: np.ndarray, b: np.ndarray) -> float:
        """Relative RMS of ``A^+ (step(A z + b, 0) - b) - Phi_r z`` on the held-out windows."""
        z = self.fit.z_heldout
        with np.errstate(all="ignore"):
            nxt = self.model.step(z @ A.T + b, np.zeros((len(z), self.model.d_in)))
            decoded = (nxt - b) @ A_pinv.T
            target = z @ self.live.phi_live.T
            err = float(np.linalg.norm(decoded - target)) / max(float(np.linalg.norm(target)),
                                                                1e-300)
        return err if np.isfinite(err) else float("inf")

    @cached_property
    def step_error(self) -> float:
        f = self.fit
        return self._step_error(f.A, f.A_pinv, np.zeros(f.A.shape[0]))

    def check_step(self) -> CheckResult:
        name = "effective.step"
        if not self.fit.finite:
            return self._not_finite(name, "<=")
        err = self.step_error
        return self._result(name, err, "<=", err <= self.tol[name],
                            f"relative RMS of Psi_eff^+ step(Psi_eff Pi w, 0) - Phi Pi w over "
                            f"{len(self.fit.z_heldout)} held-out windows")

    def _loaded(self, A: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
        """``(sign accuracy, max_t tracking error, mean_t tracking error)`` of the model's own
        run from ``x(s-1) = A C x + b`` for fresh windows ``x``."""
        task, H = self.task, self.horizon
        s, d = task.s, task.d
        window = random_windows(task, LOADED_BATCH, self.seed, _LOADED_TAG)
        z0 = self.live.of_windows(window.reshape(LOADED_BATCH, s * d))
        with np.errstate(all="ignore"):
            states, y = rollout_dynamics(self.model, np.zeros((LOADED_BATCH, H, d)),
                                         state_init=z0 @ A.T + b, keep=(TRACK_SEQUENCES, H))
        target = continue_sequence(task, window, H)
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(states))):
            return 0.0, float("inf"), float("inf")
        acc = decided_sign_accuracy(y, target)
        w = sequence_windows(task, window[:TRACK_SEQUENCES], H)[:, 1:]  # t = s .. s+H-1
        with np.errstate(all="ignore"):  # overflowing norms read as an infinite error
            predicted = self.live.of_windows(w) @ A.T
            num = np.sqrt(np.sum((states - b - predicted) ** 2, axis=(0, 2)))
            den = np.maximum(np.sqrt(np.sum(predicted**2, axis=(0, 2))), 1e-300)
            per_t = np.where(np.isfinite(num / den), num / den, np.inf)
        return acc, float(np.max(per_t)), float(np.mean(per_t))

    @cached_property
    def loaded(self) -> tuple[float, float, float]:
        """``(sign accuracy, max_t tracking error, mean_t tracking error)`` of the loaded run."""
        return self._loaded(self.fit.A, np.zeros(self.fit.A.shape[0]))

    def check_loaded_state(self) -> CheckResult:
        name = "effective.loaded_state"
        if not self.fit.finite:
            return self._not_finite(name, ">=")
        acc, worst, mean = self.loaded
        tol, tol_track = self.tol[name], self.tol["effective.tracking"]
        passed = acc >= tol and worst <= tol_track
        return self._result(
            name, acc, ">=", passed,
            f"sign accuracy {acc:.4f} (>= {tol:g}) over H = {self.horizon} from x(s-1) = "
            f"Psi_eff Pi x, {LOADED_BATCH} fresh windows; state-tracking error max over t "
            f"{finite(worst):.3g} (<= {tol_track:g}), mean {finite(mean):.3g}",
            {"tracking_error_max": worst, "tracking_error_mean": mean,
             "tracking_tolerance": tol_track})

    @cached_property
    def _trajectory(self) -> tuple[float, float, float, TrajectoryData]:
        task, f = self.task, self.fit
        s, d = task.s, task.d
        window = random_windows(task, TRAJECTORY_SEQUENCES, self.seed, _TRAJECTORY_TAG)
        steps = max(self.t0 - s + 1 + TRAJECTORY_STEPS, PLOT_PERIODS * s)
        states = drive(self.model, window, steps)[:, s - 1:]  # t = s-1 .. s-1+steps
        truth = sequence_windows(task, window, steps) @ self.live.projector.T
        with np.errstate(all="ignore"):
            decoded = (states @ f.A_pinv.T) @ self.live.basis.T
        first = self.t0 - s + 1
        span = slice(first, first + TRAJECTORY_STEPS)
        a = truth[:, span].reshape(-1, task.n_slots)
        b = decoded[:, span].reshape(-1, task.n_slots)
        live = np.std(truth.reshape(-1, task.n_slots), axis=0) > 1e-9
        corrs = []
        with np.errstate(all="ignore"):
            for j in np.flatnonzero(live):
                u, v = a[:, j] - a[:, j].mean(), b[:, j] - b[:, j].mean()
                nu, nv = np.linalg.norm(u), np.linalg.norm(v)
                corr = float(u @ v / (nu * nv)) if nu > 0 and nv > 0 else 0.0
                corrs.append(corr if np.isfinite(corr) else 0.0)
        # multi-step shift along the real trajectory: decoded(t+1) against Phi decoded(t)
        with np.errstate(all="ignore"):
            z = states[:, span] @ f.A_pinv.T
            shift = float(np.linalg.norm(z[:, 1:] - z[:, :-1] @ self.live.phi_live.T)) / max(
                float(np.linalg.norm(z[:, 1:])), 1e-300)
        plot_len = PLOT_PERIODS * s + 1
        data = TrajectoryData(np.arange(s - 1, s - 1 + plot_len), decoded[0, :plot_len],
                              truth[0, :plot_len], s, d, live)
        worst = min(corrs) if corrs else 0.0
        mean = float(np.mean(corrs)) if corrs else 0.0
        return worst, mean, float(shift), data

    @property
    def trajectory(self) -> TrajectoryData:
        return self._trajectory[3]

    def check_trajectory(self) -> CheckResult:
        name = "effective.trajectory"
        if not self.fit.finite:
            return self._not_finite(name, ">=")
        worst, mean, shift, data = self._trajectory
        return self._result(
            name, worst, ">=", worst >= self.tol[name],
            f"min over {int(data.live.sum())} slots of the correlation between Q Psi_eff^+ x(t) "
            f"and Pi w(t), t = {self.t0}..{self.t0 + TRAJECTORY_STEPS - 1}, "
            f"{TRAJECTORY_SEQUENCES} driven sequences; one-step shift error {finite(shift):.3g}",
            {"mean": mean, "shift_error": shift})

    @cached_property
    def checks(self) -> list[CheckResult]:
        return [self.check_embedding(), self.check_step(), self.check_loaded_state(),
                self.check_trajectory()]

    @cached_property
    def affine(self) -> dict[str, float]:
        """The circuit read as an *affine* image of the window, ``x = A z + b`` (descriptors
        only: the claim asks for ``b = 0``, which a bias-free Elman net's odd symmetry forces; a
        gated cell can carry an even function of the +-1 inputs, a constant here).  Fitted with
        an intercept on the same states; ``embedding_r2_affine`` (held-out),
        ``affine_step_error`` (``A^+ (step(A z + b, 0) - b)`` against ``Phi_r z``),
        ``affine_loaded_accuracy`` and ``affine_tracking_error`` (the loaded-state run from
        ``A C x + b``; tracking ``|x(t) - b - A C w(t)| / |A C w(t)|``, max over t).  Empty when
        the states are not finite."""
        (z, x), (zh, xh) = self.fit_data, self.heldout_data
        if not (self.fit.finite and np.all(np.isfinite(x)) and np.all(np.isfinite(xh))):
            return {}
        with np.errstate(all="ignore"):
            M = np.linalg.lstsq(np.c_[z, np.ones(len(z))], x, rcond=None)[0]
            A, b = M[:-1].T, M[-1]
            r2 = held_out_r2(xh - zh @ A.T - b, xh)
            A_pinv = np.linalg.pinv(A)
        if not (np.all(np.isfinite(M)) and np.all(np.isfinite(A_pinv))):
            return {}
        acc, worst, _mean = self._loaded(A, b)
        return {"embedding_r2_affine": r2, "affine_step_error": self._step_error(A, A_pinv, b),
                "affine_loaded_accuracy": acc, "affine_tracking_error": worst}

    # -- descriptors (verify.dynamics_descriptors) ------------------------------------------
    def lyapunov(self) -> np.ndarray:
        """Top exponents along output-phase trajectories started at driven states x(t0)."""
        window = random_windows(self.task, LYAPUNOV_TRAJECTORIES, self.seed, _LYAPUNOV_TAG)
        start = drive(self.model, window, self.t0 - self.task.s + 1)[:, -1]  # x(t0)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, _LYAPUNOV_TAG, 1]))
        return lyapunov_exponents(self.model, start, min(LYAPUNOV_COUNT, self.live.rank), rng,
                                  steps=LYAPUNOV_STEPS, burn_in=LYAPUNOV_BURN_IN)

    @cached_property
    def descriptors(self) -> dict[str, float]:
        out, note = gain_descriptors(self.model, self.fit_data[1])
        if note:
            self.notes["gain"] = note
        lyap = self.lyapunov()
        if np.all(np.isfinite(lyap)):
            out.update({f"lyapunov_{i + 1}": float(v) for i, v in enumerate(lyap)})
        else:
            self.notes["lyapunov"] = "states overflowed along the output-phase trajectories"
        return out


def effective_analysis(model: Dynamics, task: TaskSpec, tol: Mapping[str, float],
                       seed: int = 0, *, horizon: int = 200,
                       subject: str = "model") -> EffectiveAnalysis:
    """An `EffectiveAnalysis` (checks, descriptors, Figure 3 data, notes) computed lazily."""
    return EffectiveAnalysis(model, task, tol, seed, horizon=horizon, subject=subject)


def run_effective(model: Dynamics, task: TaskSpec, tol: Mapping[str, float], seed: int = 0,
                  *, horizon: int = 200, subject: str = "model",
                  ) -> tuple[list[CheckResult], dict[str, float]]:
    """The four effective checks (``EFFECTIVE_CHECKS`` order) and the descriptors (module
    docstring) of ``model`` against ``task``.  ``tol`` maps tolerance names to bounds; missing
    ``effective.*`` names take their defaults.  ``ValueError`` names bad input."""
    analysis = effective_analysis(model, task, tol, seed, horizon=horizon, subject=subject)
    return analysis.checks, analysis.descriptors

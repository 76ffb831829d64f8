"""The effective checks in one coordinate system (a model's state ``h``, or an Elman net's
pre-activation ``a``: `verify.preactivation`), each value with a bootstrap interval over
sequences (`verify.bootstrap`).  `verify.effective` runs them in both systems and states the
verdict; the notation and the claim are in its docstring.

Data: windows drawn from ``seed`` are driven, and so are their negations (`verify.
effective_data`): the claim speaks about the *odd part* of the state.  Output steps from
``t_min = s - 1 + max(nu, 1)`` on are reachable (``nu``: Phi's nilpotent index); the fitted span of
``L = max(2 s, 4)`` steps starts where the transient rule puts it (`verify.embedding.
transient_start`, candidates ``t_min .. t_min + L``).  Two thirds of the sequences fit, the rest
are held out (96 + 48, more when ``8 r`` distinct windows need them).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

import numpy as np

from emt.numerics.data import continue_sequence
from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.theory.effective import LiveCoordinates
from emt.theory.taskspec import TaskSpec
from emt.verify.bootstrap import ratio_interval
from emt.verify.effective_data import (
    SymmetricRun,
    drive_symmetric,
    random_windows,
    sequence_windows,
)
from emt.verify.embedding import EmbeddingFit, fit_embedding, transient_start
from emt.verify.scoring import (
    CheckResult,
    accuracy_interval,
    judged,
    per_sequence_accuracy,
    slot_correlation,
)

__all__ = ["CoordinateAnalysis", "EFFECTIVE_CHECKS"]

EFFECTIVE_CHECKS = ("effective.embedding", "effective.rank", "effective.even",
                    "effective.loaded_state", "effective.tracking", "effective.trajectory")
_TOLERANCE = {"effective.rank": "effective.rank_gap"}  # check -> tolerance, where they differ

FIT_SEQUENCES = 96  # sequences whose states fit the embedding, at least (24 r states for T1)
SAMPLES_PER_SLOT = 8  # more sequences when needed: 8 r distinct windows (min(L, s) a sequence)
LOADED_BATCH = 16  # loaded windows: 16 x H x d signs (25,600 for T1-T4 at H = 200)
TRACK_SEQUENCES = 16  # loaded sequences whose states are kept to measure the tracking error
TRAJECTORY_SEQUENCES = 16  # x 50 steps: 800 samples per slot correlation
TRAJECTORY_STEPS = 50  # output steps scored by effective.trajectory
# Independent random streams, one per use of the seed (SeedSequence([seed, tag])).
FIT_TAG, HELDOUT_TAG, LOADED_TAG, TRAJECTORY_TAG = 8101, 8102, 8103, 8104


class CoordinateAnalysis:
    """The effective checks of ``model`` in the coordinates ``coords`` ("h" or "a"), each
    computed once on first use.  ``convert`` (optional) maps the runs of the model in ``h``
    coordinates into these (so the pre-activation view costs no second rollout); ``source`` is
    then the `CoordinateAnalysis` in ``h`` whose runs it converts."""

    def __init__(self, model: Dynamics, task: TaskSpec, live: LiveCoordinates, nu: int,
                 tol: Mapping[str, float], seed: int, horizon: int, subject: str, coords: str,
                 source: CoordinateAnalysis | None = None, convert=None) -> None:
        self.model, self.task, self.live, self.tol = model, task, live, tol
        self.seed, self.horizon, self.subject, self.coords = seed, horizon, subject, coords
        self.source, self.convert = source, convert
        self.t_min = task.s - 1 + max(nu, 1)
        self.span = max(2 * task.s, 4)
        # a window recurs at most every s steps (repeat copy), so a sequence adds min(L, s)
        # distinct windows; the fit needs many more windows than its r unknowns per unit
        distinct = min(self.span, task.s)
        self.fit_sequences = max(FIT_SEQUENCES, -(-SAMPLES_PER_SLOT * live.rank // distinct))

    # -- data ------------------------------------------------------------------------------
    def _run(self, name: str, batch: int, tag: int, first: int, last: int) -> SymmetricRun:
        if self.source is not None and self.convert is not None:
            return self.convert(getattr(self.source, name))
        window = random_windows(self.task, batch, self.seed, tag)
        return drive_symmetric(self.model, self.task, window, first, last)

    @cached_property
    def transient_run(self) -> SymmetricRun:
        """Fit sequences over ``t_min - 1 .. t_min + 2 L - 1`` (one step before the first
        candidate, which the pre-activation conversion reads)."""
        return self._run("transient_run", self.fit_sequences, FIT_TAG, self.t_min - 1,
                         self.t_min + 2 * self.span - 1)

    def z_of(self, run: SymmetricRun) -> np.ndarray:
        return self.live.of_windows(run.windows)

    @cached_property
    def start(self) -> tuple[int, np.ndarray]:
        """The first fitted step's offset from ``t_min`` and each candidate span's unexplained
        share (in-sample)."""
        run = self.transient_run
        if not run.finite:
            return 0, np.ones(self.span + 1)
        return transient_start(self.z_of(run)[:, 1:], run.odd[:, 1:], self.span)

    @property
    def t0(self) -> int:
        return self.t_min + self.start[0]

    @cached_property
    def heldout_run(self) -> SymmetricRun:
        """Held-out sequences over the same steps as `transient_run` (whichever start the rule
        picks, in whichever coordinates, the held-out span is inside it)."""
        return self._run("heldout_run", self.fit_sequences // 2, HELDOUT_TAG, self.t_min - 1,
                         self.t_min + 2 * self.span - 1)

    @cached_property
    def fit(self) -> EmbeddingFit:
        k = self.start[0] + 1  # the runs start one step before t_min
        run, held = self.transient_run, self.heldout_run
        span = slice(k, k + self.span)
        return fit_embedding(self.z_of(run)[:, span], run.odd[:, span],
                             self.z_of(held)[:, span], held.odd[:, span],
                             self.tol["effective.rank_gap"], self.t0, self.seed)

    # -- checks ----------------------------------------------------------------------------
    def result(self, name: str, value: float, comparator: str, detail: str,
               metrics: Mapping[str, float] | None = None,
               interval: tuple[float, float] | None = None,
               passed: bool | None = None) -> CheckResult:
        where = "h" if self.coords == "h" else "pre-activation a"
        return judged(name, self.subject, value, self.tol[_TOLERANCE.get(name, name)],
                      comparator, f"[{where}] {detail}", metrics, interval, passed)

    def not_finite(self, name: str, comparator: str) -> CheckResult:
        return self.result(name, 0.0 if comparator == ">=" else np.inf, comparator,
                           "the model's states overflowed or became NaN on the driven sequences",
                           passed=False)

    def check_embedding(self) -> CheckResult:
        f, r = self.fit, self.live.rank
        name = "effective.embedding"
        if not f.finite:
            return self.not_finite(name, ">=")
        shares = self.start[1]
        detail = (f"held-out R^2 {f.r2:.4f} of the odd part of the states on the {r} live slots "
                  f"Pi_Phi w(t), t = {f.t0}..{f.t0 + f.steps - 1} (fit start by the transient "
                  f"rule: first reachable step {self.t_min}, unexplained share of a fit from "
                  f"there {shares[0]:.3g}, smallest {min(shares):.3g}); {f.n_fit} fitted, "
                  f"{f.n_heldout} held-out states")
        if self.model.state_dim < r:
            detail += f"; the state has only {self.model.state_dim} dimensions for {r} slots"
        return self.result(name, f.r2, ">=", detail,
                           {"fit_start": f.t0, "first_reachable": self.t_min,
                            "share_at_first_reachable": shares[0]}, f.r2_interval)

    def check_rank(self) -> CheckResult:
        f, r = self.fit, self.live.rank
        name = "effective.rank"
        if not f.finite:
            return self.not_finite(name, ">=")
        return self.result(
            name, f.gap, ">=",
            f"numerical rank {f.rank} of {r} required: smallest of the fitted map's {r} "
            f"singular values (per sample, window-whitened) over the residual's random-matrix "
            f"edge {f.edge:.3g}", {"rank": f.rank, "live_slots": r, "edge": f.edge,
                                   "smallest_singular_value": f.signal[-1] if r else 0.0},
            f.gap_interval, passed=f.gap >= self.tol["effective.rank_gap"] and f.rank == r)

    def check_even(self) -> CheckResult:
        """The even part must be constant over windows or invisible to the readout: the value
        is the smaller of its window-variance share and ``|y_even| / |y_odd|``."""
        name = "effective.even"
        run = self.heldout_run
        k = self.start[0] + 1
        span = slice(k, k + self.span)
        run = SymmetricRun(run.odd[:, span], run.even[:, span], run.y_odd[:, span],
                           run.y_even[:, span], run.windows[:, span], self.t0)
        if not (self.fit.finite and run.finite):
            return self.not_finite(name, "<=")
        B = len(run.odd)
        with np.errstate(all="ignore"):
            ev = np.sum((run.even - run.even.mean(axis=0)).reshape(B, -1) ** 2, axis=1)
            od = np.sum(run.odd.reshape(B, -1) ** 2, axis=1)
            y_ev = np.sum(run.y_even.reshape(B, -1) ** 2, axis=1)
            y_od = np.sum(run.y_odd.reshape(B, -1) ** 2, axis=1)

            def shares(s: np.ndarray) -> np.ndarray:
                var = np.where(s[:, 0] + s[:, 1] > 0, s[:, 0] / (s[:, 0] + s[:, 1]), 0.0)
                seen = np.where(s[:, 3] > 0, np.sqrt(s[:, 2] / s[:, 3]),
                                np.where(s[:, 2] > 0, np.inf, 0.0))
                return np.stack([var, seen], axis=1)

            per = np.stack([ev, od, y_ev, y_od], axis=1)
            var, seen = shares(per.sum(axis=0)[None])[0]
            interval = ratio_interval(per, self.seed, 3, lambda s: shares(s).min(axis=1))
        return self.result(name, min(var, seen), "<=",
                           f"even part x(w) + x(-w): window-variance share {var:.3g}, seen by "
                           f"the readout at {seen:.3g} of the odd output (either may be small)",
                           {"even_variance_share": var, "even_readout_ratio": seen}, interval)

    @cached_property
    def loaded(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-sequence sign accuracies and the per-sequence, per-step squared tracking error and
        squared prediction (``TRACK_SEQUENCES x H`` each, stacked) of the model's own run from
        ``x(s-1) = A C x`` for fresh windows ``x``."""
        task, H, A = self.task, self.horizon, self.fit.A
        s, d = task.s, task.d
        window = random_windows(task, LOADED_BATCH, self.seed, LOADED_TAG)
        z0 = self.live.of_windows(window.reshape(LOADED_BATCH, s * d))
        with np.errstate(all="ignore"):
            states, y = rollout_dynamics(self.model, np.zeros((LOADED_BATCH, H, d)),
                                         state_init=z0 @ A.T, keep=(TRACK_SEQUENCES, H))
        target = continue_sequence(task, window, H)
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(states))):
            return np.zeros(LOADED_BATCH), np.full((2, TRACK_SEQUENCES, H), np.inf)
        w = sequence_windows(task, window[:TRACK_SEQUENCES], H)[:, 1:]  # t = s .. s+H-1
        with np.errstate(all="ignore"):
            predicted = self.live.of_windows(w) @ A.T
            err = np.sum((states - predicted) ** 2, axis=2)
            return per_sequence_accuracy(y, target), np.stack([err, np.sum(predicted**2, axis=2)])

    def check_loaded_state(self) -> CheckResult:
        name = "effective.loaded_state"
        if not self.fit.finite:
            return self.not_finite(name, ">=")
        acc = self.loaded[0]
        return self.result(name, float(np.mean(acc)), ">=",
                           f"sign accuracy over H = {self.horizon} from x(s-1) = Psi_eff Pi x, "
                           f"{LOADED_BATCH} fresh windows", interval=accuracy_interval(
                               acc, self.seed, 4))

    def check_tracking(self) -> CheckResult:
        """max over t of the relative RMS distance (over sequences) between the loaded run's
        state and ``Psi_eff Pi w(t)``."""
        name = "effective.tracking"
        if not self.fit.finite:
            return self.not_finite(name, "<=")
        err, pred = self.loaded[1]
        n, H = err.shape

        def worst(s: np.ndarray) -> np.ndarray:  # resampled [err_t..., pred_t...] sums
            return np.max(np.sqrt(s[:, :H] / np.maximum(s[:, H:], 1e-300)), axis=1)

        per = np.concatenate([err, pred], axis=1)
        with np.errstate(all="ignore"):
            value = float(worst(per.sum(axis=0)[None])[0])
            mean = float(np.mean(np.sqrt(err.sum(0) / np.maximum(pred.sum(0), 1e-300))))
            interval = ratio_interval(per, self.seed, 5, worst)
        return self.result(name, value if np.isfinite(value) else np.inf, "<=",
                           f"max over t of the relative RMS distance of the loaded run's state "
                           f"from Psi_eff Pi w(t) ({TRACK_SEQUENCES} sequences, H = {H}); "
                           f"mean over t {mean:.3g}", {"mean": mean}, interval)

    @cached_property
    def trajectory_run(self) -> SymmetricRun:
        """Driven sequences from ``t = s - 1`` to past every candidate start plus
        ``TRAJECTORY_STEPS`` (and at least the Figure 3 plot's ``3 s`` steps)."""
        last = max(self.t_min + self.span + TRAJECTORY_STEPS, 4 * self.task.s)
        return self._run("trajectory_run", TRAJECTORY_SEQUENCES, TRAJECTORY_TAG,
                         self.task.s - 1, last)

    def check_trajectory(self) -> CheckResult:
        """The paper's Figure 3 in the fitted basis: the odd part of driven states decoded to
        slots, ``Q A^+ x(t)``, against ``Pi w(t)``; the value is the smallest per-slot
        correlation over ``TRAJECTORY_STEPS`` steps from the fit's start."""
        name = "effective.trajectory"
        run = self.trajectory_run
        if not (self.fit.finite and run.finite):
            return self.not_finite(name, ">=")
        first = self.t0 - run.first
        span = slice(first, first + TRAJECTORY_STEPS)
        with np.errstate(all="ignore"):
            a = (run.windows[:, span] @ self.live.projector.T)
            b = (run.odd[:, span] @ self.fit.A_pinv.T) @ self.live.basis.T
        value, interval, live, mean = slot_correlation(a, b, self.seed, 6)
        return self.result(name, value, ">=",
                           f"min over {live} slots of the correlation between Q Psi_eff^+ "
                           f"x_odd(t) and Pi w(t), t = {self.t0}.."
                           f"{self.t0 + TRAJECTORY_STEPS - 1}, {len(a)} driven sequences",
                           {"mean": mean}, interval)

    def checks(self, stop_at_failure: bool = False) -> list[CheckResult]:
        """The checks in `EFFECTIVE_CHECKS` order; ``stop_at_failure``: stop after the first
        decided failure (enough to know this coordinate system does not hold the claim)."""
        out = []
        for fn in (self.check_embedding, self.check_rank, self.check_even,
                   self.check_loaded_state, self.check_tracking, self.check_trajectory):
            out.append(fn())
            if stop_at_failure and out[-1].failed:
                break
        return out

"""The fitted embedding of a model's states on the task window, ``x ~ A z``: the data it is fitted
on and the fit itself, for the effective-circuit checks (`verify.effective`).

``z = Q^T Pi w`` are the orthonormal live-slot coordinates of the window (`theory.effective`);
the model is seen only through `numerics.dynamics.Dynamics`, so any cell can be fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from emt.numerics.data import continue_sequence
from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.theory.taskspec import TaskSpec

__all__ = ["EmbeddingFit", "random_windows", "sequence_windows", "drive", "top_singular_value",
           "probe_dynamics", "fit_embedding", "held_out_r2"]


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


def top_singular_value(M: np.ndarray) -> float:
    """Largest singular value of ``M`` from the smaller Gram matrix (only its top eigenvalue)."""
    G = M.T @ M if M.shape[0] >= M.shape[1] else M @ M.T
    if G.size == 0:
        return 0.0
    top = scipy.linalg.eigvalsh(G, subset_by_index=[G.shape[0] - 1, G.shape[0] - 1])
    return float(np.sqrt(max(top[0], 0.0)))


@dataclass(frozen=True, eq=False)
class EmbeddingFit:
    """The fitted embedding ``x ~ A z``.  ``A``: ``state_dim x r``; ``A_pinv``: its pseudo-inverse
    (the decoder); ``r2``: held-out R^2; ``signal``: singular values of the window-explained
    part of the held-out states (per sample, descending); ``noise``: the residual's largest
    singular value (per sample); ``rank``: how many ``signal`` values exceed ``rank_gap *
    noise``; ``t0``/``steps``: the fitted times ``t0 .. t0+steps-1``."""

    A: np.ndarray
    A_pinv: np.ndarray
    r2: float
    signal: np.ndarray
    noise: float
    rank: int
    rank_gap: float
    t0: int
    steps: int
    n_fit: int
    n_heldout: int
    z_heldout: np.ndarray
    finite: bool

    @property
    def gap(self) -> float:
        """The r-th signal singular value over the noise floor (> rank_gap for full rank)."""
        if self.signal.size == 0:
            return 0.0
        return float(self.signal[-1] / self.noise) if self.noise > 0 else float("inf")


def fit_embedding(z: np.ndarray, x: np.ndarray, zh: np.ndarray, xh: np.ndarray, rank: int,
                  rank_gap: float, t0: int, steps: int) -> EmbeddingFit:
    """Least squares ``x ~ A z`` on ``(z, x)`` judged on the held-out ``(zh, xh)`` (rows are
    samples: live coordinates ``z`` of ``rank`` numbers, states ``x``).  Held-out
    ``R^2 = 1 - |xh - A zh|^2 / |xh - mean xh|^2``; the numerical rank is the number of singular
    values of ``A`` whitened by the covariance of ``zh`` (how far the state moves per sample
    along each direction the window explains) above ``rank_gap`` times the largest singular value
    of the held-out residual per sample (the largest unexplained motion).  States that are not
    finite, or a fit that is not, give a fit with ``finite = False`` and rank 0."""
    D = x.shape[1]
    failed = EmbeddingFit(np.zeros((D, rank)), np.zeros((rank, D)), 0.0, np.zeros(rank), 0.0, 0,
                          rank_gap, t0, steps, len(z), len(zh), zh, False)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(xh))):
        return failed
    with np.errstate(all="ignore"):  # huge but finite states: judged below, not warned
        if not np.all(np.isfinite(np.sum(x**2))):
            return failed
        A = np.linalg.lstsq(z, x, rcond=None)[0].T  # (state_dim, r)
        resid = xh - zh @ A.T
        r2 = held_out_r2(resid, xh)
        n = len(zh)
        evals, evecs = np.linalg.eigh(zh.T @ zh / n)
        root = evecs @ np.diag(np.sqrt(np.maximum(evals, 0.0))) @ evecs.T
        signal = np.linalg.svd(A @ root, compute_uv=False)[:rank]
        noise = top_singular_value(resid) / np.sqrt(n)
        A_pinv = np.linalg.pinv(A)
    ok = np.isfinite(r2) and np.isfinite(noise) and np.all(np.isfinite(signal))
    if not (ok and np.all(np.isfinite(A_pinv))):
        return failed
    return EmbeddingFit(A, A_pinv, r2, signal, noise, int(np.sum(signal > rank_gap * noise)),
                        rank_gap, t0, steps, len(z), n, zh, True)


def held_out_r2(residual: np.ndarray, held_out: np.ndarray) -> float:
    """``1 - |residual|^2 / |held_out - mean(held_out)|^2`` (0 when the states do not vary)."""
    ss_tot = float(np.sum((held_out - held_out.mean(axis=0)) ** 2))
    return 1.0 - float(np.sum(residual**2)) / ss_tot if ss_tot > 0 else 0.0


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

"""The fitted embedding of a model's (odd) states on the task window, ``x ~ A z``: the transient
rule that picks the fitted span, the fit, its held-out R^2 and its numerical rank, each decided
number with a bootstrap interval over sequences (`verify.bootstrap`).

``z = Q^T Pi w`` are the orthonormal live-slot coordinates of the window (`theory.effective`).
Arrays are ``B x T x .`` (sequence, output step, coordinate): the sequences are the units the
bootstrap resamples.

**Rank against the random-matrix edge.**  Treat the residual ``E = X - Z A^T`` as noise whose rows
have covariance ``Sigma``.  The fitted map is ``A_hat = A + E^T Z (Z^T Z)^-1``; whitened by the
window covariance ``C = Z^T Z / n`` its noise part is ``E^T Z (Z^T Z)^-1/2 / sqrt(n)``, an
``N x r`` matrix ``Sigma^1/2 G / sqrt(n)`` with ``G`` standard Gaussian, whose largest singular
value is at most ``(sqrt(|Sigma|) sqrt(r) + sqrt(tr Sigma)) / sqrt(n)`` in expectation (Chevet's
inequality; for ``Sigma = sigma^2 I`` the Marchenko-Pastur edge ``sigma (sqrt(N) + sqrt(r)) /
sqrt(n)``).  The numerical rank counts the singular values of ``A_hat C^1/2`` (how far the state
moves per sample along each direction the window explains) above ``rank_gap`` times that edge.
Unlike a comparison with the largest residual singular value, whose noise part grows like
``sigma (1 + sqrt(N / n))``, the edge shrinks with the number of fitted states, so a live
direction at a fixed per-direction signal-to-noise ratio is found at any ``N``.

**The transient rule.**  The input phase can leave modes outside the live subspace that decay
slowly; fitted from the first reachable step they read as unexplained variance that the window's
code does not have.  `transient_start` fits ``A`` on every candidate span of ``L`` steps, from
the first reachable step to ``L`` steps later, and starts the fit at the first candidate whose
unexplained share is within ``TRANSIENT_FLOOR`` times the smallest (the stationary residual, the
noise floor of the fit); a code whose residual does not decay, or drifts rather than decays,
starts at the first step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg

from emt.verify.bootstrap import ratio_interval

__all__ = ["EmbeddingFit", "fit_embedding", "held_out_r2", "transient_start", "TRANSIENT_FLOOR",
           "top_singular_pair"]

TRANSIENT_FLOOR = 2.0  # a span is past the transient when its residual share is within 2x the
# smallest one: the transient then adds at most as much unexplained variance as the code has
ROUNDING_FLOOR = 1e-12  # residual shares below this are float rounding of an exact code
_R2_STREAM, _RANK_STREAM = 1, 2


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, a.shape[-1])


def top_singular_pair(M: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest singular value of ``M`` (``n x p``) and its right singular vector (length ``p``),
    by Lanczos (a few products with ``M``, not the ``O(n^2 p)`` Gram matrix)."""
    n, p = M.shape
    if M.size == 0:
        return 0.0, np.zeros(p)
    if min(n, p) < 3:  # too small for Lanczos: the Gram matrix's top pair
        G = M.T @ M
        vals, vecs = np.linalg.eigh(G)
        return float(np.sqrt(max(vals[-1], 0.0))), vecs[:, -1]
    start = np.random.default_rng(0).standard_normal(min(n, p))  # fixed: a deterministic result
    try:
        _, sv, vt = scipy.sparse.linalg.svds(M, k=1, v0=start, tol=1e-10)
    except (scipy.sparse.linalg.ArpackError, ValueError):
        G = M.T @ M
        vals, vecs = np.linalg.eigh(G)
        return float(np.sqrt(max(vals[-1], 0.0))), vecs[:, -1]
    return float(sv[0]), vt[0]


@dataclass(frozen=True, eq=False)
class EmbeddingFit:
    """The fitted embedding ``x ~ A z``.  ``A``: ``state_dim x r``; ``A_pinv``: its pseudo-inverse
    (the decoder); ``r2``/``r2_interval``: held-out R^2 and its bootstrap interval; ``signal``:
    singular values of ``A C^1/2`` (per sample, descending); ``edge``/``edge_interval``: the
    noise edge (module docstring); ``rank``: how many ``signal`` values exceed ``rank_gap *
    edge``; ``t0``/``steps``: the fitted times ``t0 .. t0+steps-1``; ``z_heldout``: held-out live
    coordinates (rows)."""

    A: np.ndarray
    A_pinv: np.ndarray
    r2: float
    r2_interval: tuple[float, float]
    signal: np.ndarray
    edge: float
    edge_interval: tuple[float, float]
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
        """The r-th signal singular value over the noise edge (> rank_gap for full rank)."""
        if self.signal.size == 0:
            return 0.0
        return float(self.signal[-1] / self.edge) if self.edge > 0 else float("inf")

    @property
    def gap_interval(self) -> tuple[float, float]:
        """`gap` over the edge's bootstrap interval (the fitted signal held at its value)."""
        if self.signal.size == 0:
            return 0.0, 0.0
        lo, hi = self.edge_interval
        with np.errstate(divide="ignore"):
            return (float(self.signal[-1] / hi) if hi > 0 else float("inf"),
                    float(self.signal[-1] / lo) if lo > 0 else float("inf"))


def _failed(D: int, rank: int, rank_gap: float, t0: int, steps: int, n_fit: int, zh: np.ndarray
            ) -> EmbeddingFit:
    return EmbeddingFit(np.zeros((D, rank)), np.zeros((rank, D)), 0.0, (0.0, 0.0),
                        np.zeros(rank), 0.0, (0.0, 0.0), 0, rank_gap, t0, steps, n_fit,
                        len(_flat(zh)), _flat(zh), False)


def fit_embedding(z: np.ndarray, x: np.ndarray, zh: np.ndarray, xh: np.ndarray, rank_gap: float,
                  t0: int, seed: int) -> EmbeddingFit:
    """Least squares ``x ~ A z`` on ``(z, x)`` judged on the held-out ``(zh, xh)`` (``B x T x .``:
    live coordinates of ``r`` numbers, states).  Held-out ``R^2 = 1 - |xh - A zh|^2 / |xh - mean
    xh|^2`` with its interval over held-out sequences; the rank against the noise edge (module
    docstring).  States or a fit that are not finite give ``finite = False`` and rank 0."""
    rank, D, steps = z.shape[-1], x.shape[-1], x.shape[1]
    zf, xf, zhf, xhf = _flat(z), _flat(x), _flat(zh), _flat(xh)
    failed = _failed(D, rank, rank_gap, t0, steps, len(zf), zh)
    if not (np.all(np.isfinite(xf)) and np.all(np.isfinite(xhf))):
        return failed
    with np.errstate(all="ignore"):  # huge but finite states: judged below, not warned
        if not (np.isfinite(np.sum(xf**2)) and np.isfinite(np.sum(xhf**2))):
            return failed
        A = np.linalg.lstsq(zf, xf, rcond=None)[0].T  # (state_dim, r)
        resid = xhf - zhf @ A.T
        B, n = len(xh), len(zhf)
        per_seq = np.stack([np.sum(resid.reshape(B, -1) ** 2, axis=1),
                            np.sum((xh - xhf.mean(axis=0)).reshape(B, -1) ** 2, axis=1)], axis=1)
        r2 = held_out_r2(resid, xhf)
        r2_int = ratio_interval(per_seq, seed, _R2_STREAM, lambda s: np.where(
            s[:, 1] > 0, 1.0 - s[:, 0] / np.where(s[:, 1] > 0, s[:, 1], 1.0), 0.0))
        evals, evecs = np.linalg.eigh(zf.T @ zf / len(zf))
        root = evecs @ np.diag(np.sqrt(np.maximum(evals, 0.0))) @ evecs.T
        signal = np.linalg.svd(A @ root, compute_uv=False)[:rank]
        top, v = top_singular_pair(resid)
        trace_seq = per_seq[:, 0]
        top_seq = np.sum((resid @ v).reshape(B, -1) ** 2, axis=1)

        def edge_of(sums: np.ndarray) -> np.ndarray:  # resampled (tr, |Sigma|) sums -> edge
            return (np.sqrt(np.maximum(sums[:, 1], 0) / n) * np.sqrt(rank)
                    + np.sqrt(np.maximum(sums[:, 0], 0) / n)) / np.sqrt(len(zf))

        edge = float(edge_of(np.array([[trace_seq.sum(), top**2]]))[0])
        edge_int = ratio_interval(np.stack([trace_seq, top_seq], axis=1), seed, _RANK_STREAM,
                                  edge_of)
        A_pinv = np.linalg.pinv(A)
    ok = np.isfinite(r2) and np.isfinite(edge) and np.all(np.isfinite(signal))
    if not (ok and np.all(np.isfinite(A_pinv))):
        return failed
    return EmbeddingFit(A, A_pinv, r2, r2_int, signal, edge, edge_int,
                        int(np.sum(signal > rank_gap * edge)), rank_gap, t0, steps, len(zf), n,
                        zhf, True)


def held_out_r2(residual: np.ndarray, held_out: np.ndarray) -> float:
    """``1 - |residual|^2 / |held_out - mean(held_out)|^2`` (0 when the states do not vary)."""
    ss_tot = float(np.sum((held_out - held_out.mean(axis=0)) ** 2))
    return 1.0 - float(np.sum(residual**2)) / ss_tot if ss_tot > 0 else 0.0


def transient_start(z: np.ndarray, x: np.ndarray, span: int) -> tuple[int, np.ndarray]:
    """The fit's first step (an offset into ``T``) by the transient rule (module docstring) and
    the unexplained shares it read: for each candidate start ``k = 0 .. T - span``, the share
    of the states' variance over ``k .. k + span - 1`` that a fit on that span leaves
    unexplained; the start is the first candidate within ``TRANSIENT_FLOOR`` times the
    smallest share (plus rounding).  ``z``, ``x``: ``B x T x .``.  From per-step sums, so each
    candidate costs an ``r x r`` solve: ``A^T = G^-1 C`` with ``G = Z^T Z``, ``C = Z^T X``, and
    the residual is ``|X|^2 - <C, A^T>``."""
    T, r = x.shape[1], z.shape[-1]
    with np.errstate(all="ignore"):
        zt = np.swapaxes(z, 0, 1)  # T x B x r: one BLAS product per step
        G = np.matmul(np.swapaxes(zt, 1, 2), zt)  # per-step Z_t^T Z_t
        C = np.matmul(np.swapaxes(zt, 1, 2), np.swapaxes(x, 0, 1))  # per-step Z_t^T X_t
        S = np.sum(x**2, axis=(0, 2))
        M = np.sum(x, axis=0)  # per-step sums of the states (for the span's mean)
        shares = []
        for k in range(T - span + 1):
            g, c = G[k:k + span].sum(0), C[k:k + span].sum(0)
            n = x.shape[0] * span
            total = S[k:k + span].sum() - float(np.sum(M[k:k + span].sum(0) ** 2)) / n
            solved = np.linalg.pinv(g, hermitian=True) @ c if r else np.zeros_like(c)
            resid = max(S[k:k + span].sum() - float(np.sum(c * solved)), 0.0)
            shares.append(resid / total if total > 0 else 1.0)
    shares_arr = np.array(shares)
    if not np.all(np.isfinite(shares_arr)):
        return 0, shares_arr
    floor = TRANSIENT_FLOOR * float(np.min(shares_arr)) + ROUNDING_FLOOR
    return int(np.flatnonzero(shares_arr <= floor)[0]), shares_arr

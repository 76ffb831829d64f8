"""The privileged basis (docs/science.md): recover Psi from trained weights and compare Phi_hat
with what the theory predicts for the same construction.

Construction (grounding ``G``, an ``N_h x d`` stand-in for the newest slot ``Psi_s``):

* "input": ``G = W_uh`` (the paper's choice; ``W_uh = Psi_s`` in the theory);
* "output" (default): ``G`` solves ``W_hy W_hh^m G = R_m`` for ``m = 0..s-1`` in the
  least-squares, minimum-norm sense (``G = pinv(O) R`` with the stacked readout observations
  ``O = [W_hy; W_hy W_hh; ...]``), where ``R_m = e_s^T Phi^m E_s`` is the theory's response of
  the newest slot to itself after ``m`` steps.  For the circuit ``O = M Psi*`` and the minimum-
  norm solution lies in ``span(Psi)``, so ``G = Psi_s`` exactly for ANY full-rank Psi whenever
  ``M`` has full column rank; on a trained net it grounds the basis on what the readout sees
  over s steps (so it needs no assumption about ``W_uh``);
* "output-pinv": ``G = pinv(W_hy)``, the authors' later code literally -- the ``m = 0`` term
  alone.  Exact only when ``Psi_s`` is orthogonal to the other blocks (then
  ``pinv(Psi*_s) = Psi_s``); with a general Psi it mixes slots.

Then:

    Psi_k = W_hh^(s-k) G   (k = 1..s, the last block is G),   columns normalised,
    Psi* = pinv(Psi),      Phi_hat = Psi* W_hh Psi.

By construction ``W_hh Psi_(k+1) = Psi_k`` before normalisation, so the un-normalised Phi_hat
is a block companion matrix: identity blocks on the super-diagonal and a first block column
``C`` holding the coordinates of ``W_hh^s G``.  For the constructed circuit with input
grounding (``W_uh = Psi_s``), the raw basis is ``Psi K`` with ``K = [Phi^(s-1) E_s, ..., E_s]``
(``E_s``: the newest-slot columns), so the prediction is ``P = K^-1 Phi K`` -- a companion form
similar to Phi, equal to Phi exactly when ``Phi^s = I`` (repeat copy).  Normalising the columns
by ``D`` turns it into ``D P D^-1``; `diagonal_similarity_error` compares modulo that.

Slot reduction (tasks whose Phi has zero eigenvalues, e.g. T2..T4: slots no output ever reads
again).  A trained net has no reason to keep those directions, so their Krylov columns collapse
onto the others and Psi becomes singular.  Our rule, instead of the authors' 0.8-count
heuristic: let ``r`` be the number of nonzero eigenvalues of Phi (exact, from the theory).
Project onto the dominant invariant subspace -- the spectral projector ``Pi_Phi`` onto the
nonzero eigenvalues of Phi, and ``Pi_W`` onto the ``r`` largest-modulus eigenvalues of
``W_hh`` -- and keep, in Krylov order (newest block first), each slot ``(k, i)`` (step
``k = 0`` oldest) whose projected theory Krylov vector ``Pi_Phi Phi^(s-1-k) e_(s,i)`` is
independent of those already kept.  This keeps exactly ``r`` slots (36 of 64 for T2..T4, the
authors' count), the kept projected Krylov vectors
``K_r`` span the nonzero-eigenvalue subspace, ``P = K_r^+ Phi K_r`` is similar to Phi restricted
there, and for the circuit the construction is still exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from emt.numerics.weights import RNNWeights
from emt.theory.charpoly import phi_numeric
from emt.theory.spectra import spectrum
from emt.theory.taskspec import TaskSpec, block, slot

__all__ = [
    "GROUNDINGS",
    "SlotPlan",
    "slot_plan",
    "PrivilegedBasis",
    "privileged_basis",
    "dominant_projector",
    "grounding_matrix",
    "newest_slot_responses",
    "diagonal_similarity_error",
    "phi_power_s_is_identity",
]

GROUNDINGS = ("input", "output", "output-pinv")
_INDEPENDENCE_TOL = 1e-8  # relative residual below which a Krylov vector counts as dependent
_TINY = 1e-300
OBSERVATION_RCOND = 1e-10  # relative singular-value cut-off of the output grounding's pinv
SUBSPACE_TOL = 1e-14  # relative residual at which subspace iteration stops
SUBSPACE_MAX_ITER = 100  # 0.7^100 < 1e-15: nets with a usable spectral gap converge
SUBSPACE_CHECK_EVERY = 4  # residual test every few steps (it costs a product of its own)
# Stop early when 4 steps shrink the residual by less than 0.9: the modulus ratio at the cut is
# then above 0.9^(1/4) = 0.974, i.e. W_hh has no spectral gap there (spectrum.gap asks for
# 1.5), the subspace is not defined and 100 more steps would not define it (a gapless
# untrained net at N_h = 1024 spent about 1.5 eigvals' time here).
SUBSPACE_STALL = 0.9
SUBSPACE_STALL_AFTER = 20  # early steps may not shrink the residual monotonically


def _dominant_subspace(A: np.ndarray, r: int, start: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the invariant subspace of the ``r`` largest-modulus eigenvalues of
    ``A``, by subspace iteration from ``start`` (``n x r``): ``V <- qr(A V)`` until
    ``||A V - V V^T A V|| <= SUBSPACE_TOL ||A||`` or ``SUBSPACE_MAX_ITER`` steps.  The error
    shrinks like ``|lambda_(r+1) / lambda_r|^k``: exact after a few steps when the rest of the
    spectrum is nilpotent (the circuit), about 50 steps at the ratio 0.6 of a trained net."""
    V = np.linalg.qr(start)[0]
    scale = max(float(np.linalg.norm(A, 1)), _TINY)  # any norm does for a relative stop rule
    last = float("inf")
    for step in range(SUBSPACE_MAX_ITER):
        AV = A @ V
        if step % SUBSPACE_CHECK_EVERY == 0:
            residual = float(np.linalg.norm(AV - V @ (V.T @ AV)))
            if residual <= SUBSPACE_TOL * scale or (
                    step >= SUBSPACE_STALL_AFTER and residual > SUBSPACE_STALL * last):
                break
            last = residual
        V = np.linalg.qr(AV)[0]
    return V


def dominant_projector(A: np.ndarray, r: int, start: np.ndarray | None = None) -> np.ndarray:
    """Spectral projector of ``A`` onto the invariant subspace of its ``r`` eigenvalues of
    largest modulus, along the invariant subspace of the others:
    ``Pi = V (U^T V)^-1 U^T`` with ``V`` the dominant right invariant subspace of ``A`` and
    ``U`` that of ``A^T`` (both by subspace iteration; no O(n^3) Schur form, so N_h = 1024
    stays fast).  ``r = n`` gives the identity; ``start`` seeds the right iteration."""
    n = A.shape[0]
    if r >= n:
        return np.eye(n)
    if r <= 0:
        return np.zeros((n, n))
    rng = np.random.default_rng(0)  # fixed: the result must not depend on a global seed
    if start is None or start.shape != (n, r):
        start = rng.standard_normal((n, r))
    V = _dominant_subspace(A, r, start)
    U = _dominant_subspace(A.T, r, rng.standard_normal((n, r)))
    return V @ np.linalg.solve(U.T @ V, U.T)


@dataclass(frozen=True, eq=False)
class SlotPlan:
    """The theory side of the basis for one task (input grounding, slot coordinates).

    ``slots``: kept ``(k, i)`` (step ``k``, 0 = oldest; dimension ``i``; `slot`), in column
    order; ``projector``: ``Pi_Phi`` (identity when Phi has no zero eigenvalue); ``krylov``:
    ``K_r`` (``s d x r``); ``prediction``: ``P = K_r^+ Phi K_r`` (un-normalised Phi_hat);
    ``coords = K_r^+ Pi_Phi`` maps a window ``[x(0); ...; x(s-1)]`` to coordinates in the
    reduced basis; ``krylov_full_inv`` maps it to coordinates in the full (unreduced) Krylov
    basis, which is what loading a state needs (outputs may read the transient slots too).
    """

    task: TaskSpec
    slots: tuple[tuple[int, int], ...]
    projector: np.ndarray
    krylov: np.ndarray
    prediction: np.ndarray
    coords: np.ndarray
    reduced: bool
    krylov_full_inv: np.ndarray  # K^-1 for the full Krylov matrix K = [Phi^(s-1) E_s ... E_s]

    @property
    def rank(self) -> int:
        return len(self.slots)

    @property
    def block_starts(self) -> list[int]:
        """Column index where each block after the first starts (grid lines for the heatmap)."""
        out, prev = [], self.slots[0][0] if self.slots else 0
        for col, (k, _) in enumerate(self.slots):
            if k != prev:
                out.append(col)
                prev = k
        return out


def _greedy_independent(vectors: list[np.ndarray]) -> list[int]:
    """Indices of the vectors kept when each is kept iff independent of those kept before."""
    basis: list[np.ndarray] = []
    kept = []
    for idx, v in enumerate(vectors):
        norm = np.linalg.norm(v)
        if norm < 1e-12:
            continue
        res = v / norm
        for q in basis:  # twice-is-enough Gram-Schmidt
            res = res - q * (q @ res)
        for q in basis:
            res = res - q * (q @ res)
        if np.linalg.norm(res) > _INDEPENDENCE_TOL:
            basis.append(res / np.linalg.norm(res))
            kept.append(idx)
    return kept


@lru_cache(maxsize=64)
def _slot_plan_cached(task: TaskSpec) -> SlotPlan:
    s, d, n = task.s, task.d, task.n_slots
    phi = phi_numeric(task)
    r = int(spectrum(task).nonzero)
    if r == 0:
        raise ValueError(f"task {task.label}: Phi has no nonzero eigenvalue (Phi is nilpotent), "
                         "so no memory persists and there is no privileged basis to recover")
    reduced = r < n
    proj = dominant_projector(phi, r) if reduced else np.eye(n)
    order = [(s - 1 - j, i) for j in range(s) for i in range(d)]  # newest block first
    vecs: list[np.ndarray] = []
    power = np.eye(n)[:, block(s - 1, d)]  # Phi^j E_s
    for _ in range(s):
        vecs.extend(proj @ power[:, i] for i in range(d))
        power = phi @ power
    # the full Krylov matrix (block unit-triangular, always invertible), column order of slots
    full = np.empty((n, n))
    for k, i in order:
        full[:, slot(k, i, d)] = np.linalg.matrix_power(phi, s - 1 - k)[:, slot(s - 1, i, d)]
    kept_idx = _greedy_independent(vecs)
    kept = sorted((order[i] for i in kept_idx), key=lambda ki: (ki[0], ki[1]))
    if len(kept) != r:
        raise ValueError(f"task {task.label}: slot reduction kept {len(kept)} slots, expected {r}")
    cols = {order[i]: vecs[i] for i in kept_idx}
    K = np.column_stack([cols[ki] for ki in kept])
    K_pinv = np.linalg.pinv(K)
    prediction = K_pinv @ phi @ K
    return SlotPlan(task, tuple(kept), proj, K, prediction, K_pinv @ proj, reduced,
                    np.linalg.inv(full))


def slot_plan(task: TaskSpec) -> SlotPlan:
    """The `SlotPlan` of ``task`` (cached by task)."""
    return _slot_plan_cached(task)


def phi_power_s_is_identity(task: TaskSpec) -> bool:
    """Whether ``Phi^s = I``: then Phi_hat is the block shift for every grounding (its first
    block column ``C = K^-1 Phi^s c = K^-1 c = E_s`` for any grounding ``c``)."""
    phi = phi_numeric(task)
    return bool(np.allclose(np.linalg.matrix_power(phi, task.s), np.eye(task.n_slots),
                            atol=1e-12, rtol=0))


def newest_slot_responses(task: TaskSpec) -> np.ndarray:
    """``[R_0; ...; R_(s-1)]`` with ``R_m = e_s^T Phi^m E_s`` (``d x d`` each): how the newest
    slot's content reappears in the newest slot ``m`` steps later, per the theory."""
    s, d = task.s, task.d
    P = phi_numeric(task)
    blocks, power = [], np.eye(s * d)
    for _ in range(s):
        blocks.append(power[block(s - 1, d), block(s - 1, d)])
        power = power @ P
    return np.vstack(blocks)


def grounding_matrix(weights: RNNWeights, ground: str, task: TaskSpec) -> np.ndarray:
    """The grounding ``G`` (``N_h x d``) for "input", "output" or "output-pinv" (module
    docstring)."""
    if ground == "input":
        return weights.W_uh
    if ground == "output-pinv":
        return np.linalg.pinv(weights.W_hy)
    if ground == "output":
        observations, power = [], weights.W_hy
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            for _ in range(task.s):
                observations.append(power)
                power = power @ weights.W_hh
        if not all(np.all(np.isfinite(o)) for o in observations):
            raise ValueError(f"the readout observations W_hy W_hh^m (m < {task.s}) overflow for "
                             f"these weights (max |W_hh| = {np.max(np.abs(weights.W_hh)):.3g})")
        # Slots no output ever reads again (T2..T4) make O rank deficient; singular values at
        # rounding level must be dropped, not inverted, or they inject noise into G.
        return (np.linalg.pinv(np.vstack(observations), rcond=OBSERVATION_RCOND)
                @ newest_slot_responses(task))
    raise ValueError(f"grounding must be one of {', '.join(GROUNDINGS)}; got {ground!r}")


@dataclass(frozen=True, eq=False)
class PrivilegedBasis:
    """The recovered basis.  ``psi_raw``: projected Krylov columns (``N_h x r``); ``scales``:
    their norms; ``psi = psi_raw / scales``; ``psi_dual = pinv(psi)``;
    ``phi_hat = psi_dual W_hh psi``; ``condition``: 2-norm condition number of ``psi``."""

    grounding: str
    plan: SlotPlan
    psi_raw: np.ndarray
    scales: np.ndarray
    psi: np.ndarray
    psi_dual: np.ndarray
    phi_hat: np.ndarray
    condition: float
    psi_full_raw: np.ndarray  # all s d Krylov columns W_hh^(s-k) G e_i, unprojected
    w_projector: np.ndarray | None  # Pi_W when the slots are reduced

    def load_states(self, windows: np.ndarray) -> np.ndarray:
        """``h(s-1) = Psi x`` for rows ``x`` of ``windows`` (``B x s d``): the recovered
        ``Psi = psi_full_raw K^-1``, assuming the grounding is the newest slot (``G = Psi_s``,
        see `checks.Context`).  The full basis is used so transient slots are loaded too."""
        return windows @ (self.psi_full_raw @ self.plan.krylov_full_inv).T

    def decode(self, h: np.ndarray) -> np.ndarray:
        """Hidden states (``... x N_h``) to projected slot values ``Pi_Phi window``:
        ``K_r psi_raw^+ Pi_W h`` (same assumption as `load_states`)."""
        raw_dual = self.psi_dual / self.scales[:, None]
        op = self.plan.krylov @ raw_dual
        if self.w_projector is not None:
            op = op @ self.w_projector
        return h @ op.T


def privileged_basis(
    weights: RNNWeights, task: TaskSpec, ground: str = "output", plan: SlotPlan | None = None,
    w_projector: np.ndarray | None = None,
) -> PrivilegedBasis:
    """Build the privileged basis of ``weights`` for ``task`` (module docstring).
    ``w_projector``: ``Pi_W`` when already computed for these weights (it does not depend on
    the grounding), so several groundings share one subspace iteration."""
    plan = plan or slot_plan(task)
    if weights.d_in != task.d or weights.d_out != task.d:
        raise ValueError(
            f"weights have d_in={weights.d_in}, d_out={weights.d_out}; task {task.label} has "
            f"d = {task.d}"
        )
    s = task.s
    W = weights.W_hh
    G = grounding_matrix(weights, ground, task)
    powers = [G]
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        for _ in range(s - 1):
            powers.append(W @ powers[-1])  # powers[j] = W_hh^j G
    d = task.d
    # column slot(k, i, d) holds W_hh^(s-1-k) G e_i: the theory's Psi K for the circuit
    psi_full_raw = np.column_stack([powers[s - 1 - k][:, i] for k in range(s) for i in range(d)])
    if not np.all(np.isfinite(psi_full_raw)):
        raise ValueError(f"the Krylov powers W_hh^k G (k < {s}) overflow for these weights "
                         f"(max |W_hh| = {np.max(np.abs(W)):.3g}); no privileged basis")
    psi_raw = np.column_stack([psi_full_raw[:, slot(k, i, d)] for (k, i) in plan.slots])
    if not plan.reduced:
        w_projector = None
    else:
        if w_projector is None:
            w_projector = dominant_projector(W, plan.rank, start=psi_raw)
        psi_raw = w_projector @ psi_raw
    scales = np.linalg.norm(psi_raw, axis=0)
    scales = np.where(scales > _TINY, scales, 1.0)  # a zero column stays zero (and fails later)
    psi = psi_raw / scales
    sv = np.linalg.svd(psi, compute_uv=False)
    # fewer hidden units than slots: Psi cannot have full column rank
    rank_deficient = psi.shape[0] < psi.shape[1] or sv[-1] <= 0
    condition = float("inf") if rank_deficient else float(sv[0] / sv[-1])
    psi_dual = np.linalg.pinv(psi)
    phi_hat = psi_dual @ W @ psi
    return PrivilegedBasis(ground, plan, psi_raw, scales, psi, psi_dual, phi_hat, condition,
                           psi_full_raw, w_projector)


def diagonal_similarity_error(A: np.ndarray, P: np.ndarray) -> tuple[float, np.ndarray]:
    """Distance from ``A`` to ``P`` modulo a positive diagonal similarity ``D A D^-1``.

    Invariants of ``A -> D A D^-1``: the support pattern and every cycle product
    ``A_{i1 i2} A_{i2 i3} ... A_{ik i1}``.  We fit ``log D`` by least squares on the support of
    ``P`` (``log|A_ij| + delta_i - delta_j = log|P_ij|``): when ``A`` is diagonally similar to
    ``P`` the fit is exact; otherwise each cycle's log mismatch is spread evenly over its edges
    (per edge, the geometric-mean deviation -- for a repeat-copy net ``|lambda| - 1``).
    Returns ``(max |D A D^-1 - P|, D A D^-1)``; signs and off-support entries count in full.
    """
    A = np.asarray(A, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64)
    if A.shape != P.shape:
        raise ValueError(f"Phi_hat has shape {A.shape}, the prediction {P.shape}")
    rows, cols = np.nonzero(np.abs(P) > 1e-12)
    n = P.shape[0]
    if rows.size == 0:
        return float(np.max(np.abs(A))) if A.size else 0.0, A
    M = np.zeros((rows.size, n))
    M[np.arange(rows.size), cols] += 1.0
    M[np.arange(rows.size), rows] -= 1.0
    rhs = np.log(np.maximum(np.abs(A[rows, cols]), 1e-12)) - np.log(np.abs(P[rows, cols]))
    delta = np.linalg.lstsq(M, rhs, rcond=None)[0]
    expo = np.clip(delta[:, None] - delta[None, :], -50.0, 50.0)  # never overflow to inf
    scaled = A * np.exp(expo)
    return float(np.max(np.abs(scaled - P))), scaled

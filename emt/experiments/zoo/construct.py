"""Constructed nets (numpy, seeded), each a dict ``W_uh, W_hh, W_hy`` in the column-vector
convention (``h(t) = tanh(W_hh h(t-1) + W_uh u(t))``, ``y = W_hy h``), built from the task
definition alone (`taskdata`; never `emt.theory.circuit`, never `emt.verify`).

Positives (a binding circuit by construction):

* `circuit_h`: ``W_hh = Psi Phi Psi^+``, ``W_uh = Psi_new``, ``W_hy = Psi^+_new`` with Psi small
  enough (state entries of standard deviation ``scale``) that tanh runs in its linear range.
* `circuit_a`: the circuit in the pre-activation ``a = g Psi w`` (entries of standard deviation
  ``g A_UNIT``; ``h = tanh(a)``): ``W_hh`` is the least-squares map from ``tanh(g Psi w)`` to
  ``g Psi Phi w`` over every window (and from the input phase's partial windows to ``g Psi S
  w``), ``W_uh = g Psi_new``, ``W_hy`` the least-squares readout of the newest slot from ``h``.
  At gain ``g`` = 1, 2, 3 the states ``h`` are increasingly non-linear in ``w``: the circuit is
  exact in ``a``, not in ``h``, and the least-squares step is not exact either (random tanh
  features cannot cancel their cubic parts), so at gain 3 the net no longer solves H = 200: a
  circuit is a positive only when it solves its task (its measured accuracy is in the manifest).
* `slot_code_circuit` (a positive when it solves its task) stores each slot as ``tanh(g R x_k)``
  (``R``: ``2^(d-1)`` random unit directions), re-made exactly every step (``a_k = g R D
  h_(k+1)`` with ``D`` the exact decoder on the hypercube), so ``a = blockdiag(g R) w`` exactly,
  while ``h`` holds the products ``x_i x_j x_l`` of a slot (its state is 98% linear in ``w`` at
  ``g = 1``, 94% at ``g = 2``). The exact step is not stable to rounding (the decoder's gain
  exceeds tanh's compression), so larger gains stop solving long horizons.
  A fixed non-linear code of the window ``h = tanh(Psi w)`` is a circuit in the pre-activation,
  not a null.

Nulls (no embedding of the window carried by Phi, neither in ``h`` nor in ``a``):

* `lookup`: each slot stored as its sign pattern ``sign(R x_k)`` over ``2^d`` random
  directions (saturated tanh, gain `LOOKUP_GAIN`): a lookup table of the ``2^d`` values; the
  shift re-amplifies codes, the newest slot decodes the window exactly and re-encodes ``F^T w``.
  It solves the task with a non-linear code of the window.
* `one_hot_lookup`: each slot as a one-hot (``+-1``) code over its ``2^d`` patterns, made by a
  bias on the newest step's units (the theory's nets have none, so `no_bias` flags it; the
  effective claim, which does not ask for it, must reject the code by itself).
* `untrained`: every matrix i.i.d. ``U(-k, k)``, ``k = 1/sqrt(N_h)`` (the trainer's init).
* `shuffled`: a net's ``W_hh`` entries permuted at random (spectrum and circuit destroyed).
"""

from __future__ import annotations

import numpy as np

from emt.experiments.zoo.taskdata import (
    full_windows,
    hypercube,
    newest,
    partial_windows,
    phi_of,
    shift_of,
)
from emt.theory.taskspec import TaskSpec

__all__ = ["circuit_h", "circuit_a", "lookup", "one_hot_lookup", "slot_code_circuit",
           "untrained", "shuffled", "loads_linearly", "LOOKUP_GAIN", "PARTIAL_WEIGHT"]

Weights = dict[str, np.ndarray]
LOOKUP_GAIN = 5.0  # tanh(5) = 0.99991: codes saturate to +-1 (and stay exactly 0 at p . x = 0)
# Pre-activation standard deviation at gain 1 of `circuit_a`: gains 1, 2, 3 give mean tanh
# gains 1 - h^2 of 0.99, 0.96, 0.92 (trained tanh nets: 0.79-0.94, docs/science.md).
A_UNIT = 0.1
MAX_CODE_CONDITION = 1e6  # a slot code this ill-conditioned would not decode to 1e-10
PARTIAL_WEIGHT = 4.0  # row weight of the input phase's windows in the least-squares fits


def _pack(W_uh: np.ndarray, W_hh: np.ndarray, W_hy: np.ndarray) -> Weights:
    return {"W_uh": np.ascontiguousarray(W_uh, dtype=np.float64),
            "W_hh": np.ascontiguousarray(W_hh, dtype=np.float64),
            "W_hy": np.ascontiguousarray(W_hy, dtype=np.float64),
            "activation": np.array("tanh")}


def loads_linearly(task: TaskSpec) -> bool:
    """Whether the input phase's windows have a zero composition (``F^T w = 0`` on every
    partial window), so a net started at zero loads the window with the shift alone."""
    return bool(np.all(partial_windows(task) @ np.array(task.F.tolist(), dtype=float) == 0))


def _require_linear_loading(task: TaskSpec, what: str) -> None:
    if not loads_linearly(task):
        raise ValueError(f"{what}: task {task.label} composes inside the input phase, so this "
                         "construction does not load it from h = 0")


def _psi(task: TaskSpec, n_hidden: int, rng: np.random.Generator) -> np.ndarray:
    n = task.s * task.d
    if n_hidden < n:
        raise ValueError(f"N_h = {n_hidden} < s d = {n}: Psi needs full column rank")
    return rng.standard_normal((n_hidden, n)) / np.sqrt(n)


def circuit_h(task: TaskSpec, n_hidden: int, seed: int, scale: float = 0.05) -> Weights:
    """The exact circuit in ``h`` at linear-range gain (module docstring)."""
    _require_linear_loading(task, "circuit_h")
    psi = scale * _psi(task, n_hidden, np.random.default_rng(seed))
    dual = np.linalg.pinv(psi)
    return _pack(psi[:, newest(task)], psi @ phi_of(task) @ dual, dual[newest(task)])


def _fit(task: TaskSpec, code, c_new: np.ndarray) -> Weights:
    """Least-squares net for a pre-activation code ``a = code(w)`` (rows), linear in the newest
    slot through ``c_new``: ``W_hh`` maps ``tanh(code(w))`` to ``code(Phi w)`` on full windows
    and to ``code(S w)`` on partial ones; ``W_hy`` reads the newest slot from ``h``."""
    full, part = full_windows(task), partial_windows(task)
    h_full, h_part = np.tanh(code(full)), np.tanh(code(part))
    weight = np.sqrt(PARTIAL_WEIGHT * len(full) / max(len(part), 1))
    X = np.vstack([h_full, weight * h_part])
    Y = np.vstack([code(full @ phi_of(task).T), weight * code(part @ shift_of(task).T)])
    W_hh_T = np.linalg.lstsq(X, Y, rcond=None)[0]
    W_hy_T = np.linalg.lstsq(h_full, full[:, newest(task)], rcond=None)[0]
    return _pack(c_new, W_hh_T.T, W_hy_T.T)


def circuit_a(task: TaskSpec, n_hidden: int, seed: int, gain: float) -> Weights:
    """The circuit in the pre-activation at gain ``g`` (module docstring)."""
    psi = A_UNIT * gain * _psi(task, n_hidden, np.random.default_rng(seed))
    return _fit(task, lambda w: w @ psi.T, psi[:, newest(task)])


def _delay_line(task: TaskSpec, shift: np.ndarray, encode: np.ndarray, decode: np.ndarray,
                rng: np.random.Generator) -> tuple[Weights, np.ndarray]:
    """A net of ``s`` blocks of ``m`` units, one per slot: block ``k`` gets block ``k + 1``
    through ``shift``; the newest block gets the input and the composition ``F^T w`` of the
    decoded slots, both through ``encode`` (``m x d``); the readout decodes the newest block
    (``decode``, ``d x m``).  Units permuted by ``rng``; returns the weights and the
    permutation."""
    s, d = task.s, task.d
    m = encode.shape[0]
    F = np.array(task.F.tolist(), dtype=float)
    W_hh = np.zeros((s * m, s * m))
    for k in range(s - 1):
        W_hh[k * m:(k + 1) * m, (k + 1) * m:(k + 2) * m] = shift
    for k in range(s):
        W_hh[(s - 1) * m:, k * m:(k + 1) * m] = encode @ F[k * d:(k + 1) * d].T @ decode
    W_uh = np.zeros((s * m, d))
    W_uh[(s - 1) * m:] = encode
    W_hy = np.zeros((d, s * m))
    W_hy[:, (s - 1) * m:] = decode
    perm = rng.permutation(s * m)
    return _pack(W_uh[perm], W_hh[np.ix_(perm, perm)], W_hy[:, perm]), perm


def _slot_code(task: TaskSpec, seed: int, gain: float, saturate: bool) -> Weights:
    """Each slot ``x_k`` stored as ``tanh(g R x_k)`` (``R``: ``m x d`` random, ``m = 2^(d-1)``
    (``2^d`` saturated), rows of unit
    norm; ``saturate`` rescales ``R`` so that ``min |r . x| = 1`` on the hypercube and reads
    the code as ``sign(R x)``: the shift re-amplifies it, the units sit within ``1 - tanh(g)``
    of ``+-1``).  ``D`` decodes exactly:
    ``D tanh(g R x) = x`` on every ``x`` in ``{-1, +1}^d`` (the code is odd, so its ``2^(d-1)``
    pair representatives determine it).  Without saturation the shift is ``R D`` (the next
    slot's code is re-made exactly from the decoded value); the newest slot re-encodes
    ``F^T w`` from the decoded window.  ``seed`` draws ``R`` and permutes the units."""
    _require_linear_loading(task, "slot code")
    rng = np.random.default_rng(seed)
    d = task.d
    X = hypercube(d)
    X = X[X[:, 0] > 0]  # one point of each pair {x, -x}
    m = len(X) * (2 if saturate else 1)  # sign patterns of 2^(d-1) directions may not span
    R = rng.standard_normal((m, d))
    R /= np.linalg.norm(R, axis=1, keepdims=True)
    if saturate:
        R /= np.min(np.abs(X @ R.T))
    # m x m, column j the code of X[j]: its sign pattern when saturated, else tanh(g R x)
    S = np.sign(X @ R.T).T if saturate else np.tanh(gain * X @ R.T).T
    D = X.T @ np.linalg.pinv(S)  # d x m, exact on the representatives and (odd) their negatives
    if np.linalg.cond(S) > MAX_CODE_CONDITION and not np.allclose(D @ S, X.T, atol=1e-10):
        raise ValueError(f"slot code: the code does not decode exactly at seed {seed}")
    # saturated: re-amplify the sign code; else re-make tanh(g R x) from the decoded slot
    shift = gain * np.eye(m) if saturate else gain * R @ D
    return _delay_line(task, shift, gain * R, D, rng)[0]


def lookup(task: TaskSpec, seed: int, gain: float = LOOKUP_GAIN) -> Weights:
    """The saturated slot code (a lookup table of sign patterns; module docstring)."""
    return _slot_code(task, seed, gain, saturate=True)


def slot_code_circuit(task: TaskSpec, seed: int, gain: float = 1.0) -> Weights:
    """The unsaturated slot code ``tanh(g R x_k)`` (module docstring)."""
    return _slot_code(task, seed, gain, saturate=False)


def one_hot_lookup(task: TaskSpec, seed: int, gain: float = LOOKUP_GAIN) -> Weights:
    """The one-hot lookup (module docstring): unit ``(k, p)`` is ``+1`` when slot ``k`` holds
    the pattern ``p`` and ``-1`` otherwise, ``tanh(g (p . x - (d - 1)))`` with the bias
    ``-g (d - 1)`` on the newest step's units; ``x = P^T h / 2`` decodes a slot exactly
    (``sum_p p = 0``), the shift re-amplifies the codes.  ``N_h = s 2^d``; ``seed`` permutes
    the units."""
    _require_linear_loading(task, "one-hot lookup")
    s, d = task.s, task.d
    P = hypercube(d)
    m = len(P)
    D = P.T / 2.0  # d x m: x = D h for a one-hot +-1 code
    out, perm = _delay_line(task, gain * np.eye(m), gain * P, D, np.random.default_rng(seed))
    b_h = np.zeros(s * m)
    b_h[(s - 1) * m:] = -gain * (d - 1)
    out["b_h"] = b_h[perm]
    return out


def untrained(task: TaskSpec, n_hidden: int, seed: int) -> Weights:
    """Every matrix i.i.d. ``U(-k, k)``, ``k = 1/sqrt(N_h)`` (the trainer's initialisation)."""
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(n_hidden)
    d = task.d
    W_uh = rng.uniform(-k, k, (n_hidden, d))
    W_hh = rng.uniform(-k, k, (n_hidden, n_hidden))
    W_hy = rng.uniform(-k, k, (d, n_hidden))
    return _pack(W_uh, W_hh, W_hy)


def shuffled(weights: Weights, seed: int) -> Weights:
    """``weights`` with ``W_hh``'s entries permuted at random (``W_uh``, ``W_hy`` kept)."""
    W_hh = np.asarray(weights["W_hh"], dtype=np.float64)
    flat = W_hh.reshape(-1)[np.random.default_rng(seed).permutation(W_hh.size)]
    return _pack(weights["W_uh"], flat.reshape(W_hh.shape), weights["W_hy"])

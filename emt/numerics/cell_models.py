"""Gated and diagonal-linear recurrent cells: weights, initialisation and numpy `Dynamics`.

Column-vector convention with PyTorch's gate layout (rows of ``W_ih`` / ``W_hh`` are the gates
stacked in order, ``N`` rows each); ``sigma`` is the logistic function:

* ``lstm`` (gates i, f, g, o; state ``x = (h, c)`` stacked, ``2 N``)::

      [a_i; a_f; a_g; a_o] = W_ih u + b_ih + W_hh h + b_hh
      c' = sigma(a_f) * c + sigma(a_i) * tanh(a_g),   h' = sigma(a_o) * tanh(c')

* ``gru`` (gates r, z, n; state ``h``, ``N``)::

      [g_r; g_z; g_n] = W_ih u + b_ih,   [k_r; k_z; k_n] = W_hh h + b_hh
      r = sigma(g_r + k_r),  z = sigma(g_z + k_z),  n = tanh(g_n + r * k_n)
      h' = (1 - z) * n + z * h

* ``lru`` (a diagonal complex linear recurrence; state ``(Re h, Im h)``, ``2 N``)::

      h' = Lambda h + B u   (Lambda = diag(lam), complex),   y = Re(C h)

The readout is ``y = W_hy h + b_y`` for the gated cells.  `CellWeights` holds the matrices,
validated; ``*Dynamics`` classes implement `numerics.dynamics.Dynamics` with the full state.
The model of the theory has no biases; they are carried so that verification can report them.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emt.core.atomic import atomic_write_bytes
from emt.numerics.simulate import ElmanDynamics
from emt.numerics.weights import RNNWeights

__all__ = ["CELLS", "GATES", "CellWeights", "LSTMDynamics", "GRUDynamics", "LRUDynamics",
           "cell_dynamics", "init_cell_params", "cell_weights_from_params", "lru_ring_init",
           "sigmoid", "LRU_R_MIN", "LRU_R_MAX", "LRU_MAX_PHASE"]

CELLS = ("lstm", "gru", "lru")
GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
# Orvieto et al. 2023 (the LRU): eigenvalues drawn uniformly on the ring r_min <= |lam| <= r_max
# with phase in [0, max_phase]; their published defaults.
LRU_R_MIN, LRU_R_MAX, LRU_MAX_PHASE = 0.0, 1.0, 2 * np.pi

_GATED_MATS = ("W_ih", "W_hh", "W_hy")
_GATED_BIASES = ("b_ih", "b_hh", "b_y")
_LRU_ARRAYS = ("lam_re", "lam_im", "B_re", "B_im", "C_re", "C_im")


def sigmoid(x: np.ndarray) -> np.ndarray:
    # 0.5 (1 + tanh(x/2)) is exact and never overflows, unlike 1 / (1 + exp(-x))
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _real(name: str, value: Any, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must be a real numeric array; got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


@dataclass(frozen=True)
class CellWeights:
    """The named arrays of one ``lstm`` / ``gru`` / ``lru`` layer plus its readout.

    Gated cells: ``W_ih`` (``G N x d_in``), ``W_hh`` (``G N x N``), ``W_hy`` (``d_out x N``),
    optional ``b_ih``, ``b_hh`` (``G N``), ``b_y`` (``d_out``), ``G`` = 4 (lstm) or 3 (gru).
    LRU: ``lam_re``, ``lam_im`` (``N``), ``B_re``, ``B_im`` (``N x d_in``), ``C_re``, ``C_im``
    (``d_out x N``).  Validated on construction (finite, real, consistent shapes).
    """

    cell: str
    arrays: dict[str, np.ndarray]
    provenance: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {self.cell!r}")
        a = dict(self.arrays)
        if self.cell == "lru":
            missing = [n for n in _LRU_ARRAYS if n not in a]
            if missing:
                raise ValueError(f"lru weights are missing {', '.join(missing)}")
            out = {n: _real(n, a[n], 1 if n.startswith("lam") else 2) for n in _LRU_ARRAYS}
            n = out["lam_re"].shape[0]
            d_in, d_out = out["B_re"].shape[1], out["C_re"].shape[0]
            want = {"lam_re": (n,), "lam_im": (n,), "B_re": (n, d_in), "B_im": (n, d_in),
                    "C_re": (d_out, n), "C_im": (d_out, n)}
        else:
            missing = [m for m in _GATED_MATS if m not in a]
            if missing:
                raise ValueError(f"{self.cell} weights are missing {', '.join(missing)}")
            out = {m: _real(m, a[m], 2) for m in _GATED_MATS}
            g = len(GATES[self.cell])
            rows, n = out["W_hh"].shape
            if rows != g * n:
                raise ValueError(f"{self.cell} W_hh must be {g}N x N ({g} gates "
                                 f"{', '.join(GATES[self.cell])} stacked); got shape {(rows, n)}")
            d_in, d_out = out["W_ih"].shape[1], out["W_hy"].shape[0]
            want = {"W_ih": (g * n, d_in), "W_hh": (g * n, n), "W_hy": (d_out, n),
                    "b_ih": (g * n,), "b_hh": (g * n,), "b_y": (d_out,)}
            for b in _GATED_BIASES:
                if a.get(b) is not None:
                    out[b] = _real(b, np.asarray(a[b]).reshape(-1), 1)
        for name, arr in out.items():
            if arr.shape != want[name]:
                raise ValueError(f"{self.cell} {name} must have shape {want[name]} (N = {n}); "
                                 f"got {arr.shape}")
        object.__setattr__(self, "arrays", out)

    @property
    def n_hidden(self) -> int:
        return int(self.arrays["lam_re" if self.cell == "lru" else "W_hh"].shape[-1])

    @property
    def d_in(self) -> int:
        return int(self.arrays["B_re" if self.cell == "lru" else "W_ih"].shape[1])

    @property
    def d_out(self) -> int:
        return int(self.arrays["C_re" if self.cell == "lru" else "W_hy"].shape[0])

    @property
    def state_dim(self) -> int:
        return self.n_hidden * (1 if self.cell == "gru" else 2)

    @property
    def has_bias(self) -> bool:
        """True when a nonzero bias is present (zero biases are harmless to the theory)."""
        return any(np.any(self.arrays[b] != 0) for b in _GATED_BIASES if b in self.arrays)

    def gate(self, name: str, which: str = "W_hh") -> np.ndarray:
        """The block of ``W_hh`` (or ``W_ih``, ``b_ih``, ``b_hh``) that feeds gate ``name``."""
        n = self.n_hidden
        k = GATES[self.cell].index(name)
        return self.arrays[which][k * n:(k + 1) * n]

    @property
    def lam(self) -> np.ndarray:
        return self.arrays["lam_re"] + 1j * self.arrays["lam_im"]

    # -- npz I/O (never pickled) ----------------------------------------------------------------
    def to_npz_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, cell=np.array(self.cell), **self.arrays)  # type: ignore[arg-type]
        return buf.getvalue()

    def save_npz(self, path: str | os.PathLike) -> Path:
        return atomic_write_bytes(Path(path), self.to_npz_bytes())

    @classmethod
    def load_npz(cls, path: str | os.PathLike) -> CellWeights:
        """Read an npz written by `save_npz` (``allow_pickle=False``)."""
        path = Path(path)
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
        if "cell" not in arrays:
            raise ValueError(f"{path}: no 'cell' entry; not a cell weights file")
        cell = str(arrays.pop("cell"))
        try:
            return cls(cell, arrays, provenance={"file": str(path)})
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None


class _CellDynamics:
    cell = ""

    def __init__(self, weights: CellWeights) -> None:
        if weights.cell != self.cell:
            raise ValueError(f"{type(self).__name__} needs {self.cell} weights; got "
                             f"{weights.cell}")
        self.weights = weights
        self.n = weights.n_hidden
        self.d_in, self.d_out, self.state_dim = weights.d_in, weights.d_out, weights.state_dim

    def initial_state(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.state_dim))

    def _readout_h(self, h: np.ndarray) -> np.ndarray:
        a = self.weights.arrays
        y = h @ a["W_hy"].T
        return y + a["b_y"] if "b_y" in a else y


class LSTMDynamics(_CellDynamics):
    """Bias-free (or not) LSTM, PyTorch equations; state ``(h, c)`` (module docstring)."""

    cell = "lstm"

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        a, n = self.weights.arrays, self.n
        h, c = state[:, :n], state[:, n:]
        pre = u @ a["W_ih"].T + h @ a["W_hh"].T
        for b in ("b_ih", "b_hh"):
            if b in a:
                pre = pre + a[b]
        i, f, g, o = (pre[:, k * n:(k + 1) * n] for k in range(4))
        c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        return np.concatenate([sigmoid(o) * np.tanh(c_new), c_new], axis=1)

    def readout(self, state: np.ndarray) -> np.ndarray:
        return self._readout_h(state[:, :self.n])


class GRUDynamics(_CellDynamics):
    """GRU, PyTorch equations (the reset gate multiplies ``W_hn h + b_hn``); state ``h``."""

    cell = "gru"

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        a, n = self.weights.arrays, self.n
        gi = u @ a["W_ih"].T + (a["b_ih"] if "b_ih" in a else 0.0)
        gh = state @ a["W_hh"].T + (a["b_hh"] if "b_hh" in a else 0.0)
        r = sigmoid(gi[:, :n] + gh[:, :n])
        z = sigmoid(gi[:, n:2 * n] + gh[:, n:2 * n])
        cand = np.tanh(gi[:, 2 * n:] + r * gh[:, 2 * n:])
        return (1.0 - z) * cand + z * state

    def readout(self, state: np.ndarray) -> np.ndarray:
        return self._readout_h(state)


class LRUDynamics(_CellDynamics):
    """``h' = Lambda h + B u``, ``y = Re(C h)`` with the state stored as ``(Re h, Im h)``."""

    cell = "lru"

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        a, n = self.weights.arrays, self.n
        hr, hi = state[:, :n], state[:, n:]
        lr, li = a["lam_re"], a["lam_im"]
        new_r = lr * hr - li * hi + u @ a["B_re"].T
        new_i = lr * hi + li * hr + u @ a["B_im"].T
        return np.concatenate([new_r, new_i], axis=1)

    def readout(self, state: np.ndarray) -> np.ndarray:
        a, n = self.weights.arrays, self.n
        # Re(C h) = C_re Re h - C_im Im h
        return state[:, :n] @ a["C_re"].T - state[:, n:] @ a["C_im"].T


def cell_dynamics(weights: Any) -> Any:
    """The `Dynamics` of any weights: `CellWeights` by cell, `RNNWeights` as an Elman RNN."""
    if isinstance(weights, CellWeights):
        return {"lstm": LSTMDynamics, "gru": GRUDynamics, "lru": LRUDynamics}[weights.cell](
            weights)

    if isinstance(weights, RNNWeights):
        return ElmanDynamics(weights)
    raise ValueError(f"no dynamics for {type(weights).__name__}")


def lru_ring_init(n: int, rng: np.random.Generator, r_min: float = LRU_R_MIN,
                  r_max: float = LRU_R_MAX, max_phase: float = LRU_MAX_PHASE
                  ) -> dict[str, np.ndarray]:
    """Orvieto et al. 2023's ring initialisation in their exponential parameterisation:

        |lam|^2 ~ U(r_min^2, r_max^2) (uniform on the ring's area), arg lam ~ U(0, max_phase),
        lam = exp(-exp(nu_log) + i exp(theta_log)),  gamma = sqrt(1 - |lam|^2)

    ``nu_log = log(-log|lam|)`` keeps ``|lam| < 1`` under any update; ``gamma_log`` normalises
    the input (``B_eff = gamma * B``) so each state's stationary variance starts at one.
    """
    u1, u2 = rng.uniform(size=n), rng.uniform(size=n)
    # keep u1 away from 0 when r_min = 0 so that log(-log|lam|) stays finite
    mod2 = np.maximum(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2, 1e-12)
    nu_log = np.log(-0.5 * np.log(mod2))
    theta_log = np.log(np.maximum(max_phase * u2, 1e-12))
    gamma_log = 0.5 * np.log(1.0 - np.exp(-2.0 * np.exp(nu_log)))
    return {"nu_log": nu_log, "theta_log": theta_log, "gamma_log": gamma_log}


def init_cell_params(cell: str, n_hidden: int, d: int, seed: int) -> dict[str, np.ndarray]:
    """Initial training parameters (float64) from a seeded numpy Generator.

    Gated cells: PyTorch's default ``U(-1/sqrt(N), 1/sqrt(N))`` for ``W_ih``, ``W_hh`` and the
    readout ``W_hy`` (drawn in that order), no biases.  LRU: the ring initialisation
    (`lru_ring_init`) and Orvieto et al.'s ``B ~ N(0, 1/(2 d))``, ``C ~ N(0, 1/N)`` per real
    and imaginary part.
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")
    for name, value in (("n_hidden", n_hidden), ("d", d), ("seed", seed + 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
    rng = np.random.default_rng(int(seed))
    if cell == "lru":
        params = lru_ring_init(n_hidden, rng)
        params["B_re"] = rng.normal(size=(n_hidden, d)) / np.sqrt(2 * d)
        params["B_im"] = rng.normal(size=(n_hidden, d)) / np.sqrt(2 * d)
        params["C_re"] = rng.normal(size=(d, n_hidden)) / np.sqrt(n_hidden)
        params["C_im"] = rng.normal(size=(d, n_hidden)) / np.sqrt(n_hidden)
        return params
    g = len(GATES[cell])
    k = 1.0 / np.sqrt(n_hidden)
    return {"W_ih": rng.uniform(-k, k, size=(g * n_hidden, d)),
            "W_hh": rng.uniform(-k, k, size=(g * n_hidden, n_hidden)),
            "W_hy": rng.uniform(-k, k, size=(d, n_hidden))}


def cell_weights_from_params(cell: str, params: dict[str, np.ndarray],
                             provenance: dict | None = None) -> CellWeights:
    """`CellWeights` from training parameters (the LRU's exponential parameterisation mapped to
    ``Lambda`` and ``B_eff = gamma B``; the gated cells' matrices as they are)."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    if cell != "lru":
        return CellWeights(cell, p, provenance=dict(provenance or {}))
    mod = np.exp(-np.exp(p["nu_log"]))
    phase = np.exp(p["theta_log"])
    gamma = np.exp(p["gamma_log"])[:, None]
    arrays = {"lam_re": mod * np.cos(phase), "lam_im": mod * np.sin(phase),
              "B_re": gamma * p["B_re"], "B_im": gamma * p["B_im"],
              "C_re": p["C_re"], "C_im": p["C_im"]}
    return CellWeights("lru", arrays, provenance=dict(provenance or {}))

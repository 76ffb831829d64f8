"""`RNNWeights`: the one interchange format for a trained (or constructed) RNN.

Column-vector convention, with the Keras time indexing (docs/science.md, "Conventions"):

    h(t) = act(W_hh h(t-1) + W_uh u(t)),   h(-1) = 0,   y(t) = W_hy h(t)

``W_uh`` is ``N_h x d_in``, ``W_hh`` is ``N_h x N_h``, ``W_hy`` is ``d_out x N_h``.  Keras stores
the transposes (``kernel = W_uh^T``, ``recurrent_kernel = W_hh^T``, Dense ``kernel = W_hy^T``).
Optional biases (``b_h``, ``b_y``) are carried so that verification can report them; the
theory assumes there are none.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emt.core.atomic import atomic_write_bytes
from emt.numerics.npz_read import read_npz
from emt.theory.arrays import REAL_KINDS as _REAL_KINDS
from emt.theory.arrays import real_matrix as _as_matrix

__all__ = ["RNNWeights", "ACTIVATIONS"]

ACTIVATIONS = ("tanh", "linear")


def _as_vector(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in _REAL_KINDS:
        raise ValueError(f"{name} must be real numbers; got dtype {arr.dtype}")
    arr = arr.astype(np.float64).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have {n} entries; got shape {np.shape(value)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return arr


@dataclass(frozen=True)
class RNNWeights:
    """Named matrices of a one-layer Elman RNN with a linear readout (column-vector convention).

    Validates on construction: 2-D finite real matrices with consistent shapes, a known
    activation.  ``provenance`` is free-form JSON-able metadata (where the weights came from).
    """

    W_uh: np.ndarray
    W_hh: np.ndarray
    W_hy: np.ndarray
    activation: str = "tanh"
    b_h: np.ndarray | None = None
    b_y: np.ndarray | None = None
    provenance: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        W_uh = _as_matrix("W_uh", self.W_uh)
        W_hh = _as_matrix("W_hh", self.W_hh)
        W_hy = _as_matrix("W_hy", self.W_hy)
        n_h = W_hh.shape[0]
        if W_hh.shape != (n_h, n_h):
            raise ValueError(f"W_hh must be square; got shape {W_hh.shape}")
        if W_uh.shape[0] != n_h:
            raise ValueError(
                f"W_uh must have N_h = {n_h} rows (W_hh is {W_hh.shape}); got shape {W_uh.shape}"
            )
        if W_hy.shape[1] != n_h:
            raise ValueError(
                f"W_hy must have N_h = {n_h} columns (W_hh is {W_hh.shape}); got shape "
                f"{W_hy.shape}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}"
            )
        object.__setattr__(self, "W_uh", W_uh)
        object.__setattr__(self, "W_hh", W_hh)
        object.__setattr__(self, "W_hy", W_hy)
        if self.b_h is not None:
            object.__setattr__(self, "b_h", _as_vector("b_h", self.b_h, n_h))
        if self.b_y is not None:
            object.__setattr__(self, "b_y", _as_vector("b_y", self.b_y, W_hy.shape[0]))

    @property
    def n_hidden(self) -> int:
        return int(self.W_hh.shape[0])

    @property
    def d_in(self) -> int:
        return int(self.W_uh.shape[1])

    @property
    def d_out(self) -> int:
        return int(self.W_hy.shape[0])

    @property
    def has_bias(self) -> bool:
        """True when a nonzero bias is present (zero biases are harmless to the theory)."""
        return any(b is not None and np.any(b != 0) for b in (self.b_h, self.b_y))

    # -- npz I/O (our names, column-vector convention; never pickled) -------------------------
    def to_npz_bytes(self) -> bytes:
        arrays = {"W_uh": self.W_uh, "W_hh": self.W_hh, "W_hy": self.W_hy,
                  "activation": np.array(self.activation)}
        if self.b_h is not None:
            arrays["b_h"] = self.b_h
        if self.b_y is not None:
            arrays["b_y"] = self.b_y
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
        return buf.getvalue()

    def save_npz(self, path: str | os.PathLike) -> Path:
        """Write ``W_uh``, ``W_hh``, ``W_hy`` (and biases, activation) atomically."""
        return atomic_write_bytes(Path(path), self.to_npz_bytes())

    @classmethod
    def load_npz(cls, path: str | os.PathLike, activation: str | None = None) -> RNNWeights:
        """Read an npz written by `save_npz` (our names only; ``allow_pickle=False``)."""

        path = Path(path)
        z = read_npz(path)  # limits checked on the headers before anything is decompressed
        missing = {"W_uh", "W_hh", "W_hy"} - set(z)
        if missing:
            raise ValueError(
                f"{path}: missing matrix {', '.join(sorted(missing))} (found: "
                f"{', '.join(sorted(z)) or 'nothing'})"
            )
        act = activation or (str(z["activation"]) if "activation" in z else "tanh")
        try:
            return cls(z["W_uh"], z["W_hh"], z["W_hy"], activation=act,
                       b_h=z.get("b_h"), b_y=z.get("b_y"), provenance={"file": str(path)})
        except ValueError as exc:
            raise ValueError(f"{path}: cannot read weights: {exc}") from None

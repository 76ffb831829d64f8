"""Named arrays -> weights: one naming table for the Elman RNN and the gated cells.

======== ================ ==================== ================== =================== ==========
names     W_ih (W_uh)      W_hh                 W_hy               hidden biases       readout
======== ================ ==================== ================== =================== ==========
ours      ``W_uh``         ``W_hh``             ``W_hy``           ``b_h``             ``b_y``
PyTorch   ``weight_ih_l0`` ``weight_hh_l0``     ``readout.weight`` ``bias_ih_l0``,     ``readout
                                                                   ``bias_hh_l0``      .bias``
Keras     ``kernel``^T     ``recurrent_kernel``^T ``dense_kernel``^T ``bias``          ``dense_
                                                                                       bias``
======== ================ ==================== ================== =================== ==========

PyTorch stores ``x W^T`` weights in the column-vector layout already (no transpose); Keras
stores ``x W`` (transposed here).  A ``state_dict`` whose recurrent layer is an attribute
(``rnn.weight_ih_l0``, ``lstm.weight_hh_l0``) is read with that one prefix removed; a second
layer (``*_l1``) is refused.  The cell is the layout of the recurrent matrix ``W_hh`` (``G N x
N``): ``G = 1`` the Elman RNN, 4 the LSTM (gates i, f, g, o: PyTorch's order and Keras' i, f, c,
o), 3 the GRU (PyTorch r, z, n; Keras z, r, h is permuted to r, z, n, and a Keras GRU's bias
``(2, 3N)`` holds the input and recurrent biases of ``reset_after=True``).  An Elman net's
hidden biases are summed into ``b_h``; an optional ``activation`` string array selects "tanh"
(default) or "linear".  Our own cell files (`numerics.cell_models.CellWeights.save_npz`) carry a
``cell`` entry and the cell's own names.

A ``cell`` named by the caller (``--cell``) must match the layout: a mismatch is a ValueError
naming both, as is every other problem (a missing matrix, NaN, a non-numeric dtype).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emt.numerics.cell_models import GATES, CellWeights
from emt.numerics.weights import RNNWeights

__all__ = ["Convention", "CONVENTIONS", "strip_module_prefix", "layout_of",
           "weights_from_arrays"]


@dataclass(frozen=True)
class Convention:
    """The names of one convention; ``transpose``: matrices stored for ``x W`` (row vectors)."""

    W_ih: str
    W_hh: str
    W_hy: str
    b_ih: str
    b_hh: str | None
    b_y: str
    transpose: bool

    @property
    def matrices(self) -> tuple[str, str, str]:
        return self.W_ih, self.W_hh, self.W_hy

    def shown(self, name: str) -> str:
        """``name`` as the matrix the theory reads (``kernel^T`` for Keras)."""
        return f"{name}^T" if self.transpose else name


CONVENTIONS: dict[str, Convention] = {
    "ours": Convention("W_uh", "W_hh", "W_hy", "b_h", None, "b_y", False),
    "pytorch": Convention("weight_ih_l0", "weight_hh_l0", "readout.weight", "bias_ih_l0",
                          "bias_hh_l0", "readout.bias", False),
    "keras": Convention("kernel", "recurrent_kernel", "dense_kernel", "bias", None, "dense_bias",
                        True),
}
_KERAS_GRU_ORDER = (1, 0, 2)  # Keras z, r, h -> ours r, z, n: take Keras block 1, 0, 2
_BLOCKS = {1: "rnn", **{len(g): c for c, g in GATES.items()}}  # G -> cell
_ROWS = {c: f"{g if g > 1 else ''}N x N" for g, c in _BLOCKS.items()}  # cell -> W_hh's rows


def strip_module_prefix(path: Path, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map a PyTorch ``state_dict`` whose recurrent layer (RNN, LSTM or GRU) sits under an
    attribute (``rnn.weight_ih_l0``) to the bare names; refuse stacked layers (``*_l1``), which
    the theory (one recurrent layer) does not cover."""
    if any(k.endswith(("weight_ih_l1", "weight_hh_l1")) for k in arrays):
        raise ValueError(f"{path}: a multi-layer RNN, stacked recurrent layers (found *_l1); the "
                         "theory and this verifier cover one recurrent layer")
    prefixed = [k for k in arrays if k.endswith(".weight_hh_l0")]
    if "weight_hh_l0" in arrays or len(prefixed) != 1:
        return dict(arrays)
    prefix = prefixed[0][: -len("weight_hh_l0")]
    return {k[len(prefix):] if k.startswith(prefix) and "_l0" in k else k: v
            for k, v in arrays.items()}


def layout_of(W_hh: np.ndarray) -> str | None:
    """The cell whose layout ``W_hh`` (``G N x N``, column-vector form) has: ``"rnn"``,
    ``"lstm"``, ``"gru"``, or ``None`` when ``G`` is no cell's.  A matrix of ``N`` rows or
    fewer, or of no multiple of ``N``, is read as an Elman ``W_hh`` that is not square, which
    `RNNWeights` reports in its own words."""
    rows, n = W_hh.shape
    if n == 0 or rows <= n or rows % n:
        return "rnn"
    return _BLOCKS.get(rows // n)


def _describe(name: str, W_hh: np.ndarray) -> str:
    rows, n = W_hh.shape
    layout = layout_of(W_hh)
    what = f"the {layout} layout" if layout else f"an unknown gate layout of {rows // n} blocks"
    return f"{name} is {rows} x {n}, {what}"


def _check_values(path: Path, names: list[str], arrays: Mapping[str, np.ndarray]) -> None:
    for name in names:
        arr = np.asarray(arrays[name])
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"{path}: {name} must be a real numeric array; got dtype {arr.dtype}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{path}: {name} contains NaN or infinite entries")


def _ours_cell(path: Path, arrays: Mapping[str, np.ndarray], cell: str | None
               ) -> tuple[CellWeights, str]:
    stored = str(arrays["cell"])
    if cell is not None and cell != stored:
        raise ValueError(f"{path}: holds a {stored} cell (its 'cell' entry), not --cell {cell}")
    rest = {k: v for k, v in arrays.items() if k != "cell"}
    try:
        return CellWeights(stored, rest, provenance={"file": str(path)}), "ours"
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _convention(path: Path, arrays: Mapping[str, np.ndarray]) -> str:
    found = next((c for c, conv in CONVENTIONS.items()
                  if any(m in arrays for m in conv.matrices)), None)
    if found is None:
        raise ValueError(f"{path}: no weight matrices found; expected W_uh/W_hh/W_hy, "
                         f"weight_ih_l0/weight_hh_l0/readout.weight or kernel/recurrent_kernel/"
                         f"dense_kernel (found: {', '.join(sorted(arrays)) or 'nothing'})")
    return found


def weights_from_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray],
                        cell: str | None = None) -> tuple[RNNWeights | CellWeights, str]:
    """``(weights, convention)`` from the named arrays of a subject (module docstring):
    `RNNWeights` for the Elman layout, `CellWeights` for a gated cell (or our LRU file)."""
    path = Path(path)
    if "cell" in arrays:
        return _ours_cell(path, arrays, cell)
    arrays = strip_module_prefix(path, arrays)
    name = _convention(path, arrays)
    conv = CONVENTIONS[name]
    missing = [m for m in conv.matrices if m not in arrays]
    if missing:
        raise ValueError(f"{path}: missing matrix {', '.join(missing)} ({name} names; "
                         f"found: {', '.join(sorted(arrays))})")
    present = [b for b in (conv.b_ih, conv.b_hh, conv.b_y) if b is not None and b in arrays]
    _check_values(path, [*conv.matrices, *present], arrays)
    for m in conv.matrices:
        if arrays[m].ndim != 2:
            raise ValueError(f"{path}: {m} must be 2-D; got shape {arrays[m].shape}")
    W_ih, W_hh, W_hy = (np.asarray(arrays[m]).T if conv.transpose else np.asarray(arrays[m])
                        for m in conv.matrices)
    mats = (W_ih, W_hh, W_hy)
    layout = layout_of(W_hh)
    if cell is not None and cell not in _ROWS:
        raise ValueError(f"{path}: --cell {cell}: only our own cell files (with a 'cell' "
                         "entry) hold one")
    if cell is not None and cell != layout:
        need = _ROWS[cell]
        raise ValueError(f"{path}: --cell {cell} needs a recurrent matrix of {need} rows; "
                         f"{_describe(conv.shown(conv.W_hh), W_hh)}")
    if layout is None:
        raise ValueError(f"{path}: unknown gate layout: {conv.W_hh} stacks "
                         f"{W_hh.shape[0] // W_hh.shape[1]} blocks of {W_hh.shape[1]} x "
                         f"{W_hh.shape[1]} ({W_hh.shape[0]} x {W_hh.shape[1]}); known: 4 (lstm, "
                         "gates i, f, g, o), 3 (gru, gates r, z, n), 1 (rnn)")
    biases = {"b_ih": arrays.get(conv.b_ih), "b_hh": arrays.get(conv.b_hh or ""),
              "b_y": arrays.get(conv.b_y)}
    if conv.b_hh is None and biases["b_ih"] is not None and np.ndim(biases["b_ih"]) == 2 \
            and np.shape(biases["b_ih"])[0] == 2:  # Keras GRU reset_after: [input; recurrent]
        biases["b_ih"], biases["b_hh"] = np.asarray(biases["b_ih"])
    if layout == "rnn":
        return _elman(path, conv, name, mats, biases, arrays), name
    gated = {"W_ih": W_ih, "W_hh": W_hh, "W_hy": W_hy,
             **{k: np.asarray(v) for k, v in biases.items() if v is not None}}
    if conv.transpose and layout == "gru":
        gated = _permute_keras_gru(path, gated, W_hh.shape[1])
    try:
        return CellWeights(layout, gated, provenance={"file": str(path), "convention": name}), name
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _elman(path: Path, conv: Convention, name: str,
           mats: tuple[np.ndarray, np.ndarray, np.ndarray],
           biases: dict, arrays: Mapping[str, np.ndarray]) -> RNNWeights:
    """`RNNWeights` with the hidden biases summed and the names of ``conv`` in its errors."""
    hidden = [np.asarray(b, dtype=np.float64).reshape(-1)
              for b in (biases["b_ih"], biases["b_hh"]) if b is not None]
    b_h = None
    if hidden:
        if len({b.shape for b in hidden}) > 1:
            raise ValueError(f"{path}: hidden biases {conv.b_ih}, {conv.b_hh} have different "
                             "shapes")
        b_h = np.sum(hidden, axis=0)
    activation = str(arrays["activation"]) if "activation" in arrays else "tanh"
    try:
        return RNNWeights(*mats, activation=activation, b_h=b_h, b_y=biases["b_y"],
                          provenance={"source": "npz", "file": str(path), "convention": name})
    except ValueError as exc:
        msg = str(exc)
        if conv.transpose:
            for ours, theirs in zip(("W_uh", "W_hh", "W_hy"), conv.matrices, strict=True):
                msg = msg.replace(ours, conv.shown(theirs))
        raise ValueError(f"{path}: {msg}") from None


def _permute_keras_gru(path: Path, mats: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    out = dict(mats)
    for key in ("W_ih", "W_hh", "b_ih", "b_hh"):
        if key in mats:
            arr = np.asarray(mats[key])
            if arr.shape[0] != 3 * n:
                raise ValueError(f"{path}: GRU {key} has {arr.shape[0]} gate rows; expected "
                                 f"3N = {3 * n}")
            out[key] = np.concatenate([arr[k * n:(k + 1) * n] for k in _KERAS_GRU_ORDER])
    return out

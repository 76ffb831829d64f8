"""Load a verification subject into `RNNWeights` (and its task, when the subject names one).

Accepted subjects:

* a run directory from ``emt train`` (``model.json`` + ``weights.npz``; the task comes from
  ``model.json``), read by `emt.numerics.rundir.load_run`;
* an ``.npz`` of named matrices, read with ``allow_pickle=False``, in one of three conventions:

  ======== ================== ================== ================== ==========================
  names     W_uh               W_hh               W_hy               biases
  ======== ================== ================== ================== ==========================
  ours      ``W_uh``           ``W_hh``           ``W_hy``           ``b_h``, ``b_y``
  PyTorch   ``weight_ih_l0``   ``weight_hh_l0``   ``readout.weight`` ``bias_ih_l0`` +
                                                                     ``bias_hh_l0``,
                                                                     ``readout.bias``
  Keras     ``kernel``^T       ``recurrent_kernel``^T ``dense_kernel``^T ``bias``, ``dense_bias``
  ======== ================== ================== ================== ==========================

  (PyTorch stores ``x W^T`` weights in the column-vector layout already: no transpose.  A
  ``state_dict`` saved from a module whose RNN is an attribute, e.g. ``rnn.weight_ih_l0``, is
  read with that one prefix removed; a second RNN layer (``weight_ih_l1``) is refused.)
  An optional ``activation`` string array selects "tanh" (default) or "linear";
* a ``.safetensors`` file with the same names (`emt.numerics.safetensors_read`, checked from its
  header before a tensor is read; ``docs/in_memory.md``);
* a ``.keras`` file (SimpleRNN + Dense), loaded in Keras safe mode -- the only path that
  imports TensorFlow.

Every problem (pickled or truncated file, a missing matrix, NaN, inconsistent shapes, a d that
does not match the task) is a ``ValueError`` naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emt.core.limits import limit, raise_hint
from emt.core.safe_io import open_regular
from emt.numerics.cell_models import CellWeights
from emt.numerics.npz_read import read_npz
from emt.numerics.safetensors_read import read_safetensors
from emt.numerics.weights import RNNWeights
from emt.theory.taskspec import TaskSpec

__all__ = ["Subject", "load_subject", "load_npz_weights", "file_sha256", "CONVENTIONS"]

# convention -> (W_uh, W_hh, W_hy) names, transpose?, hidden-bias names, readout-bias name
CONVENTIONS: dict[str, tuple[tuple[str, str, str], bool, tuple[str, ...], str]] = {
    "ours": (("W_uh", "W_hh", "W_hy"), False, ("b_h",), "b_y"),
    "pytorch": (("weight_ih_l0", "weight_hh_l0", "readout.weight"), False,
                ("bias_ih_l0", "bias_hh_l0"), "readout.bias"),
    "keras": (("kernel", "recurrent_kernel", "dense_kernel"), True, ("bias",), "dense_bias"),
}


@dataclass(frozen=True, eq=False)
class Subject:
    """A loaded subject: its weights, the task it names (run directories only), the path, the
    SHA-256 of the weights file and the naming convention it used."""

    path: Path
    weights: RNNWeights | CellWeights  # CellWeights for an LSTM, GRU or LRU
    task: TaskSpec | None
    sha256: str
    convention: str

    @property
    def name(self) -> str:
        return self.path.name or str(self.path)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an npz (``allow_pickle=False``, headers checked against the limits before
    anything is decompressed: `emt.numerics.npz_read`), or of a ``.safetensors`` file (checked
    from its header: `emt.numerics.safetensors_read`); ValueError for anything unreadable."""
    if path.suffix == ".safetensors":
        return read_safetensors(path, "weights file")
    return read_npz(path, "weights file")


def strip_module_prefix(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map a PyTorch ``state_dict`` whose recurrent layer (RNN, LSTM or GRU) sits under an
    attribute (``rnn.weight_ih_l0``) to the bare names; refuse stacked layers (``*_l1``), which
    the theory (one recurrent layer) does not cover."""
    if any(k.endswith(("weight_ih_l1", "weight_hh_l1")) for k in arrays):
        raise ValueError(f"{path}: a multi-layer RNN, stacked recurrent layers (found *_l1); the "
                         "theory and this verifier cover one recurrent layer")
    prefixed = [k for k in arrays if k.endswith(".weight_hh_l0")]
    if "weight_hh_l0" in arrays or len(prefixed) != 1:
        return arrays
    prefix = prefixed[0][: -len("weight_hh_l0")]
    return {k[len(prefix):] if k.startswith(prefix) and "_l0" in k else k: v
            for k, v in arrays.items()}


def load_npz_weights(path: str | os.PathLike, arrays: dict[str, np.ndarray] | None = None
                     ) -> tuple[RNNWeights, str]:
    """Read an ``.npz`` in any of the `CONVENTIONS` (or take its ``arrays`` already read, named
    by ``path``); returns ``(weights, convention)``."""
    path = Path(path)
    arrays = strip_module_prefix(path, _read_arrays(path) if arrays is None else dict(arrays))
    found = sorted(arrays)
    convention = next((c for c, (mats, *_rest) in CONVENTIONS.items()
                       if any(m in arrays for m in mats)), None)
    if convention is None:
        raise ValueError(f"{path}: no weight matrices found; expected W_uh/W_hh/W_hy, "
                         f"weight_ih_l0/weight_hh_l0/readout.weight or kernel/recurrent_kernel/"
                         f"dense_kernel (found: {', '.join(found) or 'nothing'})")
    mats, transpose, hidden_bias, readout_bias = CONVENTIONS[convention]
    missing = [m for m in mats if m not in arrays]
    if missing:
        raise ValueError(f"{path}: missing matrix {', '.join(missing)} ({convention} names; "
                         f"found: {', '.join(found)})")
    for name in (*mats, *hidden_bias, readout_bias):
        if name in arrays:
            arr = arrays[name]
            if arr.dtype.kind not in "iuf":
                raise ValueError(f"{path}: {name} must be a real numeric array; got dtype "
                                 f"{arr.dtype}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{path}: {name} contains NaN or infinite entries")
    for name in mats:
        if arrays[name].ndim != 2:
            raise ValueError(f"{path}: {name} must be 2-D; got shape {arrays[name].shape}")
    W_uh, W_hh, W_hy = (arrays[m].T if transpose else arrays[m] for m in mats)
    present = [arrays[b] for b in hidden_bias if b in arrays]
    b_h = None
    if present:
        try:
            b_h = np.sum([np.asarray(b, dtype=np.float64).reshape(-1) for b in present], axis=0)
        except ValueError:
            raise ValueError(f"{path}: hidden biases {', '.join(hidden_bias)} have different "
                             "shapes") from None
    b_y = arrays.get(readout_bias)
    activation = "tanh"
    if "activation" in arrays:
        activation = str(arrays["activation"])
    try:
        weights = RNNWeights(W_uh, W_hh, W_hy, activation=activation, b_h=b_h, b_y=b_y,
                             provenance={"source": "npz", "file": str(path),
                                         "convention": convention})
    except ValueError as exc:
        names = dict(zip(("W_uh", "W_hh", "W_hy"), mats, strict=True))
        msg = str(exc)
        if transpose:
            for ours, theirs in names.items():
                msg = msg.replace(ours, f"{theirs}^T")
        raise ValueError(f"{path}: {msg}") from None
    return weights, convention


def _check_against_task(subject: Subject, task: TaskSpec) -> None:
    w = subject.weights
    if w.d_in != task.d or w.d_out != task.d:
        raise ValueError(f"{subject.path}: weights have d_in = {w.d_in}, d_out = {w.d_out} "
                         f"but task {task.label} has d = {task.d}")


def _check_keras_file(path: Path) -> None:
    """A regular file (a FIFO would block the loader) of at most ``MAX_NPZ_BYTES`` (a
    ``.keras`` file is a zip of the same weights)."""
    cap = limit("MAX_NPZ_BYTES")
    with open_regular(path, "weights file") as fh:
        size = os.fstat(fh.fileno()).st_size
    if size > cap:
        raise ValueError(f"{path}: {size} bytes, above the limit {cap} (MAX_NPZ_BYTES; "
                         f"{raise_hint('MAX_NPZ_BYTES')})")




def _keras_cell_kind(path: Path) -> str | None:
    """``"lstm"``/``"gru"`` when a ``.keras`` archive's config names such a layer (read as JSON
    from the zip, nothing deserialised), else ``None``."""
    import json

    try:
        with zipfile.ZipFile(path) as zf:
            if zf.getinfo("config.json").file_size > limit("MAX_TEXT_FILE_BYTES"):
                return None  # not a model configuration we would parse; the loader says why
            text = zf.read("config.json").decode("utf-8")
        json.loads(text)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None  # the Elman loader reports what is wrong with the file
    for kind in ("LSTM", "GRU"):
        if f'"class_name": "{kind}"' in text:
            return kind.lower()
    return None


def load_subject(path: str | os.PathLike, task: TaskSpec | None = None,
                 cell: str | None = None) -> Subject:
    """Load a run directory, ``.npz`` or ``.keras`` subject (module docstring).

    ``task`` (when given) overrides the run directory's own task and is checked against the
    weights' input and output dimension.  LSTM, GRU and LRU subjects (recognised from their
    arrays, or named by ``cell``) load as `numerics.cell_models.CellWeights` through
    `verify.cell_subject`.  A subject without a task and no ``task`` argument is
    returned with ``task=None``; the caller must supply one.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_dir():
        from emt.numerics import rundir

        if not rundir.is_run_dir(path):
            raise ValueError(f"{path}: a directory without model.json is not a run directory")
        from emt.numerics.rundir import load_run

        weights, run_task, _meta = load_run(path)
        subject = Subject(path, weights, run_task, file_sha256(path / rundir.WEIGHTS), "run")
    elif path.suffix == ".keras":
        _check_keras_file(path)
        kind = _keras_cell_kind(path)
        if cell in ("lstm", "gru") or kind is not None:
            from emt.verify.cell_subject import load_keras_cell

            keras_weights: RNNWeights | CellWeights = load_keras_cell(path, cell)
        else:
            from emt.numerics.model import load_keras_file  # the only TensorFlow import here

            keras_weights = load_keras_file(path)
        subject = Subject(path, keras_weights, None, file_sha256(path), "keras-file")
    elif path.suffix in (".npz", ".safetensors"):
        from emt.verify.cell_subject import cell_of_arrays, load_cell_npz

        arrays = _read_arrays(path)
        npz_weights: RNNWeights | CellWeights
        by_shape = None
        if cell in (None, "rnn"):  # a named cell is checked against the shape by its loader
            try:
                by_shape = cell_of_arrays(arrays)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
        if cell not in (None, "rnn") or by_shape is not None:
            npz_weights, convention = load_cell_npz(path, arrays, cell)
        else:
            npz_weights, convention = load_npz_weights(path, arrays)
        subject = Subject(path, npz_weights, None, file_sha256(path), convention)
    else:
        raise ValueError(f"{path}: unknown subject type; expected a run directory, an .npz, "
                         "a .safetensors or a .keras file")
    if task is not None:
        subject = Subject(subject.path, subject.weights, task, subject.sha256, subject.convention)
    if subject.task is not None:
        _check_against_task(subject, subject.task)
    return subject

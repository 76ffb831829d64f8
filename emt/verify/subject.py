"""Load a verification subject: a file or run directory -> its weights (and its task, when the
subject names one).  Loading sits below judging (`verify.judge`, `verify.cell_subject`) and
imports neither.

Accepted subjects:

* a run directory from ``emt train`` (``model.json`` + ``weights.npz``; the task and the cell
  come from ``model.json``), read by `emt.numerics.rundir.load_run`;
* an ``.npz`` of named arrays, read with ``allow_pickle=False`` and its headers checked against
  the limits before anything is decompressed (`emt.numerics.npz_read`), in any convention of
  the one naming table `verify.conventions` (ours, PyTorch ``state_dict`` names, Keras names),
  for the Elman RNN, the LSTM and the GRU alike, or our own cell file (a ``cell`` entry);
* a ``.keras`` file (``[Input,] SimpleRNN | LSTM | GRU + Dense``), its layer sizes checked from
  its ``config.json`` before Keras builds anything, then loaded in safe mode
  (`verify.keras_subject`, the only path that imports TensorFlow).

``cell`` (``--cell``) names the cell the caller expects; a subject of another layout is a
ValueError naming both.  Every problem (pickled or truncated file, a missing matrix, NaN,
inconsistent shapes, a d that does not match the task) is a ``ValueError`` naming the file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

from emt.numerics import rundir
from emt.numerics.cell_models import CellWeights
from emt.numerics.npz_read import read_npz
from emt.numerics.safetensors_read import read_safetensors
from emt.numerics.weights import RNNWeights
from emt.theory.taskspec import TaskSpec
from emt.verify.conventions import weights_from_arrays
from emt.verify.keras_subject import load_keras

__all__ = ["Subject", "load_subject", "load_npz_weights", "file_sha256"]


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


def load_npz_weights(path: str | os.PathLike, cell: str | None = None
                     ) -> tuple[RNNWeights | CellWeights, str]:
    """Read an ``.npz`` or ``.safetensors`` subject (`verify.conventions`; a safetensors file is
    checked from its header before a tensor is read, `emt.numerics.safetensors_read`); returns
    ``(weights, convention)``."""
    read = read_safetensors if Path(path).suffix == ".safetensors" else read_npz
    return weights_from_arrays(path, read(path, "weights file"), cell)


def _cell_of(weights: RNNWeights | CellWeights) -> str:
    return weights.cell if isinstance(weights, CellWeights) else "rnn"


def _load_run(path: Path, cell: str | None) -> Subject:
    if not rundir.is_run_dir(path):
        raise ValueError(f"{path}: a directory without model.json is not a run directory")
    weights, task, _meta = rundir.load_run(path)
    if cell is not None and cell != _cell_of(weights):
        raise ValueError(f"{path}: a run of the {_cell_of(weights)} cell (model.json), not "
                         f"--cell {cell}")
    return Subject(path, weights, task, file_sha256(path / rundir.WEIGHTS), "run")


def load_subject(path: str | os.PathLike, task: TaskSpec | None = None,
                 cell: str | None = None) -> Subject:
    """Load a run directory, ``.npz`` or ``.keras`` subject (module docstring).

    ``task`` (when given) overrides the run directory's own task and is checked against the
    weights' input and output dimension.  LSTM, GRU and LRU subjects load as
    `numerics.cell_models.CellWeights`.  A subject without a task and no ``task`` argument is
    returned with ``task=None``; the caller must supply one.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if path.is_dir():
        subject = _load_run(path, cell)
    elif path.suffix == ".keras":
        subject = Subject(path, load_keras(path, cell), None, file_sha256(path), "keras-file")
    elif path.suffix in (".npz", ".safetensors"):
        weights, convention = load_npz_weights(path, cell)
        subject = Subject(path, weights, None, file_sha256(path), convention)
    else:
        raise ValueError(f"{path}: unknown subject type; expected a run directory, an .npz, "
                         "a .safetensors or a .keras file")
    if task is not None:
        subject = replace(subject, task=task)
    if subject.task is not None:
        w, t = subject.weights, subject.task
        if w.d_in != t.d or w.d_out != t.d:
            raise ValueError(f"{path}: weights have d_in = {w.d_in}, d_out = {w.d_out} but "
                             f"task {t.label} has d = {t.d}")
    return subject

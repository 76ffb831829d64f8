"""In-memory models as verification subjects: a torch module, a Keras model or a mapping of arrays.

`model_subject` turns what a user holds in a Python session into the `verify.subject.Subject`
that ``emt verify`` builds from a file, through the same naming conventions (nothing here
re-reads a weight by its own rules):

* **torch** (detected from the classes' module names, so torch is imported only when a torch
  object is passed; it is no dependency): a ``torch.nn.RNN`` (``nonlinearity="tanh"``),
  ``nn.LSTM`` or ``nn.GRU`` with one layer, one direction and no projection, and the readout as
  a ``torch.nn.Linear(N_h, d)`` given as ``readout=``; or a module holding exactly one such layer
  and one ``Linear`` (and only containers besides).  Their tensors are named as a
  ``state_dict`` (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``,
  ``readout.weight``, ``readout.bias``) and read by `verify.conventions.weights_from_arrays`
  (one naming table for Elman and gated cells) -- the reader of a PyTorch ``.npz``.
* **Keras**: a model of one ``SimpleRNN``, ``LSTM`` or ``GRU`` layer and a ``Dense`` readout,
  read by `numerics.model.weights_from_keras_model` / `verify.keras_subject.keras_cell_weights`,
  the readers of a ``.keras`` file.
* **a mapping** of arrays (a ``state_dict``, torch tensors or numpy arrays) in any of the
  conventions of an ``.npz`` subject (ours, PyTorch, Keras names).

Biases are kept (the ``no_bias`` check reports them, as for a file).  What the theory does not
cover -- stacked (``num_layers > 1``) or bidirectional layers, a projection, another cell type,
a readout of the wrong type or shape, a non-tanh nonlinearity, a tensor that is not real
floating point -- is a ``ValueError`` naming what was found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emt.numerics.cell_models import CellWeights
from emt.numerics.model import weights_from_keras_model
from emt.numerics.weights import RNNWeights
from emt.theory.taskspec import TaskSpec
from emt.verify.conventions import weights_from_arrays
from emt.verify.keras_subject import keras_cell_weights
from emt.verify.subject import Subject

__all__ = ["model_subject", "model_family", "arrays_sha256"]

_TORCH_LAYERS = ("RNN", "LSTM", "GRU")  # the torch.nn recurrent layers the theory covers
_KERAS_LAYERS = ("SimpleRNN", "LSTM", "GRU")


def model_family(obj: Any) -> str | None:
    """``"torch"`` / ``"keras"`` when a class of ``obj``'s type comes from that package (read
    from the module names: nothing is imported), ``"mapping"`` for a mapping, else None."""
    for cls in type(obj).__mro__:
        root = cls.__module__.split(".")[0]
        if root == "torch":
            return "torch"
        if root in ("keras", "tf_keras"):
            return "keras"
    return "mapping" if isinstance(obj, Mapping) else None


def arrays_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes (in name order): the in-memory
    counterpart of a file's SHA-256 in the report."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _tensor(name: str, value: Any) -> np.ndarray:
    """A torch tensor or array-like as a numpy array (a copy: the report must not change when
    the model trains on)."""
    if model_family(value) == "torch":
        if not value.is_floating_point() or str(value.dtype) == "torch.bfloat16":
            raise ValueError(f"{name} has dtype {value.dtype}; weights must be float16, "
                             "float32 or float64")
        return np.array(value.detach().cpu().numpy(), copy=True)
    arr = np.array(value, copy=True)
    if arr.dtype.hasobject:
        raise ValueError(f"{name} is not a numeric array (dtype object)")
    return arr


def _torch_layer_arrays(layer: Any) -> tuple[str, dict[str, Any]]:
    """``(description, state_dict names -> tensors)`` of one torch recurrent layer."""
    kind = type(layer).__name__
    if kind not in _TORCH_LAYERS or type(layer).__module__ != "torch.nn.modules.rnn":
        raise ValueError(f"{type(layer).__module__}.{kind} is not a torch.nn.RNN, LSTM or GRU")
    desc = f"torch.nn.{kind}({layer.input_size}, {layer.hidden_size})"
    if layer.num_layers != 1:
        raise ValueError(f"{desc} with num_layers={layer.num_layers}: stacked recurrent layers; "
                         "the theory and this verifier cover one layer")
    if layer.bidirectional:
        raise ValueError(f"{desc} is bidirectional; the theory covers one forward layer")
    if getattr(layer, "proj_size", 0):
        raise ValueError(f"{desc} with proj_size={layer.proj_size}: a projected LSTM is not "
                         "covered")
    if kind == "RNN" and layer.nonlinearity != "tanh":
        raise ValueError(f"{desc} with nonlinearity={layer.nonlinearity!r}; the theory's Elman "
                         "RNN is tanh")
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    return desc, {n: getattr(layer, n) for n in names if getattr(layer, n, None) is not None}


def _torch_arrays(model: Any, readout: Any) -> tuple[str, dict[str, np.ndarray]]:
    """``(description, PyTorch-named arrays)`` of a torch layer + ``Linear`` readout, or of a
    module holding exactly one of each (module docstring)."""
    import torch  # deferred: torch is optional and imported only for a torch object

    layer = model
    if not isinstance(model, torch.nn.RNNBase) and readout is None:
        leaves = [m for m in model.modules() if not list(m.children())]
        rec = [m for m in leaves if isinstance(m, torch.nn.RNNBase)]
        lin = [m for m in leaves if isinstance(m, torch.nn.Linear)]
        other = sorted({type(m).__name__ for m in leaves if m not in rec and m not in lin})
        if len(rec) != 1 or len(lin) != 1 or other:
            raise ValueError(
                f"{type(model).__name__}: expected one torch.nn.RNN/LSTM/GRU and one "
                f"nn.Linear readout; found {len(rec)} recurrent layer(s), {len(lin)} Linear"
                + (f" and {', '.join(other)}" if other else ""))
        layer, readout = rec[0], lin[0]
    desc, tensors = _torch_layer_arrays(layer)
    if readout is None:
        raise ValueError(f"{desc}: give the readout as readout=torch.nn.Linear({layer.hidden_size}"
                         ", d)")
    if not isinstance(readout, torch.nn.Linear):
        raise ValueError(f"readout must be a torch.nn.Linear; got {type(readout).__name__}")
    if readout.in_features != layer.hidden_size:
        raise ValueError(f"readout Linear({readout.in_features}, {readout.out_features}) does not "
                         f"read the {layer.hidden_size} hidden units of {desc}")
    tensors["readout.weight"] = readout.weight
    if readout.bias is not None:
        tensors["readout.bias"] = readout.bias
    desc += f" + Linear({readout.in_features}, {readout.out_features})"
    return desc, {name: _tensor(name, t) for name, t in tensors.items()}


def _keras_weights(model: Any, where: Path) -> RNNWeights | CellWeights:
    """One SimpleRNN/LSTM/GRU layer + Dense of a Keras model, by the ``.keras`` file readers."""

    kinds = [type(la).__name__ for la in getattr(model, "layers", [])
             if type(la).__name__ != "InputLayer"]
    if not any(k in _KERAS_LAYERS for k in kinds):
        raise ValueError(f"{where}: expected one Keras SimpleRNN, LSTM or GRU layer and a Dense "
                         f"readout; found [{', '.join(kinds) or 'no layers'}]")
    if "SimpleRNN" in kinds:
        try:
            return weights_from_keras_model(model)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return keras_cell_weights(model, where, "lstm" if "LSTM" in kinds else "gru")


def model_subject(model: Any, task: TaskSpec, readout: Any = None,
                  name: str | None = None) -> Subject:
    """The `Subject` of an in-memory ``model`` (module docstring) judged against ``task``;
    ``name`` labels it in the report (default: what it is, e.g. ``torch.nn.LSTM(3, 32) +
    Linear(32, 3)``).  Its ``sha256`` is `arrays_sha256` of the arrays read."""
    family = model_family(model)
    if family == "torch":
        desc, arrays = _torch_arrays(model, readout)
        weights, convention = weights_from_arrays(Path(name or desc), arrays)
        digest = arrays_sha256(arrays)
    elif readout is not None:
        raise ValueError(f"readout= is for a torch layer; a {family or type(model).__name__} "
                         "subject holds its own readout")
    elif family == "keras":
        desc = f"Keras model {getattr(model, 'name', '')}".strip()
        weights = _keras_weights(model, Path(name or desc))
        convention = "keras"
        digest = arrays_sha256({str(i): np.asarray(w) for i, w in enumerate(model.get_weights())})
    elif family == "mapping":
        desc = "arrays"
        arrays = {str(k): _tensor(str(k), v) for k, v in model.items()}
        weights, convention = weights_from_arrays(Path(name or desc), arrays)
        digest = arrays_sha256(arrays)
    else:
        raise ValueError(f"cannot read a {type(model).__module__}.{type(model).__name__}: "
                         "expected a torch.nn.RNN/LSTM/GRU (+ readout=Linear), a Keras model "
                         "with a SimpleRNN, LSTM or GRU layer and a Dense readout, or a mapping "
                         "of named arrays")
    # (the verifiers check d_in = d_out = task.d and say so naming the subject)
    return Subject(Path(name or desc), weights, task, digest, convention)

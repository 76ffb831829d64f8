"""``.keras`` subjects: ``[Input,] SimpleRNN | LSTM | GRU + Dense``, sized before Keras builds.

Keras builds every layer its ``config.json`` declares, allocating its weights, before it reads
one weight: a 20 KB archive declaring an LSTM of 6,000 units makes it allocate gigabytes first.
So `keras_layout` reads ``config.json`` itself (a zip member, at most ``MAX_TEXT_FILE_BYTES``,
parsed as JSON within ``MAX_NESTING``, nothing deserialised), refuses any layer but
``InputLayer``, ``SimpleRNN``, ``LSTM``, ``GRU`` and ``Dense``, and checks every ``units`` and
input width against ``MAX_HIDDEN`` and every weight matrix a layer would allocate (``G units x
max(units, d_in)``, ``G`` gates) against ``MAX_ARRAY_ELEMENTS``, the same bounds an ``.npz``
meets.  Only then is the file loaded, in Keras safe mode (no arbitrary code) -- the only place
here that imports TensorFlow.  The gated layer's arrays are then read through the one naming
table (`verify.conventions`, Keras names); the Elman layer through `numerics.model`.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from emt.core.limits import limit, raise_hint
from emt.core.safe_io import open_regular, parse_json
from emt.numerics.cell_models import CellWeights
from emt.numerics.model import load_keras_file, load_keras_model
from emt.numerics.weights import RNNWeights
from emt.verify.conventions import weights_from_arrays

__all__ = ["KERAS_LAYERS", "check_keras_file", "keras_layout", "load_keras", "keras_cell_weights"]

# layer class -> the cell it holds (None: no recurrence) and its weight blocks G
KERAS_LAYERS: dict[str, tuple[str | None, int]] = {
    "InputLayer": (None, 0), "Dense": (None, 1), "SimpleRNN": ("rnn", 1), "LSTM": ("lstm", 4),
    "GRU": ("gru", 3)}
_MODELS = ("Sequential", "Functional", "Model")
_EXPECTED = "expected a model of [Input,] SimpleRNN, LSTM or GRU + Dense"


def check_keras_file(path: Path) -> None:
    """A regular file (a FIFO would block the loader) of at most ``MAX_NPZ_BYTES`` (a
    ``.keras`` file is a zip of the same weights)."""
    cap = limit("MAX_NPZ_BYTES")
    with open_regular(path, "weights file") as fh:
        size = os.fstat(fh.fileno()).st_size
    if size > cap:
        raise ValueError(f"{path}: {size} bytes, above the limit {cap} (MAX_NPZ_BYTES; "
                         f"{raise_hint('MAX_NPZ_BYTES')})")


def _config_text(path: Path) -> str:
    cap = limit("MAX_TEXT_FILE_BYTES")
    try:
        with open_regular(path, "weights file") as fh, zipfile.ZipFile(fh) as zf:
            info = zf.getinfo("config.json")
            if info.file_size > cap:
                raise ValueError(f"{path}: config.json is {info.file_size} bytes, above the "
                                 f"limit {cap} (MAX_TEXT_FILE_BYTES; "
                                 f"{raise_hint('MAX_TEXT_FILE_BYTES')})")
            with zf.open(info) as member:
                data = member.read(cap + 1)
    except KeyError:
        raise ValueError(f"{path}: not a Keras model file (no config.json in the archive)"
                         ) from None
    except (OSError, EOFError, RuntimeError, NotImplementedError, zlib.error,
            zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise ValueError(f"{path}: not a readable .keras archive ({type(exc).__name__}: "
                         f"{str(exc)[:200]})") from None
    if len(data) > cap:
        raise ValueError(f"{path}: config.json is above the limit of {cap} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: config.json is not UTF-8 text ({exc.reason})") from None


def _size(path: Path, where: str, value: Any, name: str) -> int:
    """A positive integer within ``MAX_HIDDEN``; ValueError naming the layer otherwise."""
    cap = limit("MAX_HIDDEN")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{path}: {where} {name} must be a positive integer; got "
                         f"{str(value)[:40]!r}")
    if value > cap:
        raise ValueError(f"{path}: {where} declares {name} = {value}, above the limit {cap} "
                         f"(MAX_HIDDEN; {raise_hint('MAX_HIDDEN')}); refused before Keras "
                         "allocates it")
    return value


def _input_width(layer: dict) -> Any:
    """The last entry of the layer's declared input shape, or None when it declares none."""
    cfg = layer["config"]
    build = layer.get("build_config")
    for shape in (cfg.get("batch_shape"), cfg.get("batch_input_shape"),
                  build.get("input_shape") if isinstance(build, dict) else None):
        if isinstance(shape, list) and shape and shape[-1] is not None:
            return shape[-1]
    return None


def keras_layout(path: str | os.PathLike) -> str:
    """The cell (``"rnn"``, ``"lstm"``, ``"gru"``) of a ``.keras`` archive, read from its
    ``config.json`` and checked against the limits before anything is built (module
    docstring)."""
    path = Path(path)
    doc = parse_json(_config_text(path), f"{path}: config.json")
    if not isinstance(doc, dict):
        doc = {}
    cfg = doc.get("config")
    layers = cfg.get("layers") if isinstance(cfg, dict) else None
    if doc.get("class_name") not in _MODELS or not isinstance(layers, list) or not all(
            isinstance(la, dict) and isinstance(la.get("config"), dict) for la in layers):
        raise ValueError(f"{path}: {_EXPECTED}; config.json holds no such model")
    kinds = [str(la.get("class_name"))[:40] for la in layers]
    unknown = [k for k in kinds if k not in KERAS_LAYERS]
    if unknown:
        raise ValueError(f"{path}: {_EXPECTED}; found [{', '.join(kinds)}]")
    cap = limit("MAX_ARRAY_ELEMENTS")
    cells = []
    for kind, layer in zip(kinds, layers, strict=True):
        cell, blocks = KERAS_LAYERS[kind]
        where = f"layer {str(layer['config'].get('name', kind))[:40]!r} ({kind})"
        width = _input_width(layer)
        d_in = _size(path, where, width, "input width") if width is not None else 0
        if kind == "InputLayer":
            continue
        units = _size(path, where, layer["config"].get("units"), "units")
        largest = blocks * units * max(units if cell else 0, d_in)
        if largest > cap:
            raise ValueError(f"{path}: {where} would allocate a {blocks * units} x "
                             f"{max(units if cell else 0, d_in)} weight matrix, above the limit "
                             f"{cap} elements (MAX_ARRAY_ELEMENTS; "
                             f"{raise_hint('MAX_ARRAY_ELEMENTS')})")
        if cell is not None:
            cells.append(cell)
    if len(cells) != 1 or len(kinds) - kinds.count("InputLayer") != 2 or kinds[-1] != "Dense":
        raise ValueError(f"{path}: {_EXPECTED}; found [{', '.join(kinds)}]")
    return cells[0]


def load_keras(path: str | os.PathLike, cell: str | None = None) -> RNNWeights | CellWeights:
    """The weights of a ``.keras`` subject whose layout (`keras_layout`) is ``cell`` when one is
    named; ValueError naming both when it is not."""
    path = Path(path)
    check_keras_file(path)
    layout = keras_layout(path)
    if cell is not None and cell != layout:
        raise ValueError(f"{path}: holds a {_layer_name(layout)} layer (the {layout} layout), "
                         f"not --cell {cell}")
    if layout == "rnn":
        return load_keras_file(path)
    return _load_gated(path, layout)


def _layer_name(cell: str) -> str:
    return next(k for k, (c, _) in KERAS_LAYERS.items() if c == cell)


def _load_gated(path: Path, layout: str) -> CellWeights:
    """One ``LSTM``/``GRU`` layer + ``Dense``, loaded in safe mode, its arrays read by name."""
    return keras_cell_weights(load_keras_model(path), path, layout)


def keras_cell_weights(model: Any, path: str | os.PathLike, layout: str) -> CellWeights:
    """The `CellWeights` of a Keras ``model`` (named ``path``) of one ``LSTM``/``GRU`` layer
    (``layout`` "lstm"/"gru") and a ``Dense`` readout, its arrays read by name."""
    path = Path(path)
    layers = [la for la in model.layers if la.__class__.__name__ != "InputLayer"]
    layer, dense = layers
    kind = layer.__class__.__name__
    cfg = layer.get_config()
    if cfg.get("activation", "tanh") != "tanh" or cfg.get("recurrent_activation",
                                                           "sigmoid") != "sigmoid":
        raise ValueError(f"{path}: {kind} with activation {cfg.get('activation')!r} / "
                         f"recurrent_activation {cfg.get('recurrent_activation')!r}; only "
                         "tanh / sigmoid (the PyTorch cell) is supported")
    if layout == "gru" and not cfg.get("reset_after", True):
        raise ValueError(f"{path}: GRU with reset_after=False applies the reset gate before "
                         "W_hn (different equations); only reset_after=True is supported")
    ws = [np.asarray(w) for w in layer.get_weights()]
    dw = [np.asarray(w) for w in dense.get_weights()]
    arrays = dict(zip(("kernel", "recurrent_kernel", "bias"), ws, strict=False))
    arrays.update(zip(("dense_kernel", "dense_bias"), dw, strict=False))
    weights, _ = weights_from_arrays(path, arrays, layout)
    assert isinstance(weights, CellWeights)  # the layout is a gated cell's
    return weights

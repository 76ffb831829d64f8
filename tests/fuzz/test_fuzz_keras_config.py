"""Fuzz: ``.keras`` archives whose config.json declares a layer above the size limits, in random
model structures, through `emt verify FILE --task repeat-copy-3 --out DIR`: always exit 2 with
one line and nothing written, in bounded time and memory, and Keras is never asked to build the
model (the sizes are read from config.json first)."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from unittest import mock

import pytest
from fuzz_harness import check_contract
from hypothesis import given
from hypothesis import strategies as st

import emt.numerics.model as keras_model
from emt.core.limits import MAX_HIDDEN
from emt.verify import keras_subject

pytestmark = pytest.mark.fuzz

CLASSES = ["SimpleRNN", "LSTM", "GRU", "Dense", "InputLayer", "RNN", "Bidirectional",
           "Embedding", "Sequential"]
SMALL = st.integers(1, 8)
HUGE = st.one_of(st.integers(MAX_HIDDEN + 1, 10**6), st.integers(10**6, 10**30))


def _layer(draw, cls: str, units) -> dict:
    cfg: dict = {"name": draw(st.text(max_size=8)), "units": units}
    if draw(st.booleans()):
        cfg["batch_shape"] = [None, None, draw(st.one_of(SMALL, HUGE, st.none()))]
    layer = {"module": "keras.layers", "class_name": cls, "config": cfg}
    if draw(st.booleans()):
        layer["build_config"] = {"input_shape": [None, None, draw(st.one_of(SMALL, HUGE))]}
    return layer


@st.composite
def well_formed(draw) -> list[dict]:
    """``[Input,] SimpleRNN | LSTM | GRU + Dense`` with one size (units or input width) huge."""
    rec = draw(st.sampled_from(["SimpleRNN", "LSTM", "GRU"]))
    which = draw(st.sampled_from(["rec", "dense", "width"]))
    width = draw(HUGE) if which == "width" else 3
    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": {"batch_shape": [None, None, width]}},
              {"module": "keras.layers", "class_name": rec,
               "config": {"units": draw(HUGE) if which == "rec" else draw(SMALL)}},
              {"module": "keras.layers", "class_name": "Dense",
               "config": {"units": draw(HUGE) if which == "dense" else 3}}]
    if which != "width" and draw(st.booleans()):  # the input layer is optional
        layers = layers[1:]
    return layers


@st.composite
def keras_configs(draw) -> dict:
    """A model of 1-4 layers of which one (a recurrent or Dense layer) declares a huge size, or
    a well-formed one with a huge size."""
    if draw(st.booleans()):
        layers = draw(well_formed())
    else:
        n = draw(st.integers(1, 4))
        classes = draw(st.lists(st.sampled_from(CLASSES), min_size=n, max_size=n))
        huge_at = draw(st.integers(0, n - 1))
        classes[huge_at] = draw(st.sampled_from(["SimpleRNN", "LSTM", "GRU", "Dense"]))
        layers = [_layer(draw, cls, draw(HUGE) if i == huge_at else draw(
            st.one_of(SMALL, st.none(), st.floats(allow_nan=False), st.text(max_size=4))))
            for i, cls in enumerate(classes)]
    model = draw(st.sampled_from(["Sequential", "Functional", "Model", "Other"]))
    return {"module": "keras", "class_name": model, "config": {"name": "m", "layers": layers}}


@given(keras_configs(), st.sampled_from(["none", "flip", "truncate", "not-an-object"]),
       st.integers(0, 2**16))
def test_keras_configs_with_huge_layers_are_refused_before_building(config: dict, damage: str,
                                                                      where: int) -> None:
    """``damage``: a byte of the (deflated) archive flipped, the archive cut short, or a
    config.json that is JSON but no object; all still exit 2."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "m.keras"
        text = json.dumps([config] if damage == "not-an-object" else config)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
            zf.writestr("config.json", text)
        data = path.read_bytes()
        i = where % len(data)
        if damage == "flip":
            path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
        elif damage == "truncate":
            path.write_bytes(data[:i])
        built = AssertionError("Keras was asked to build a model declaring a huge layer")
        with mock.patch.object(keras_subject, "_load_gated", side_effect=built), \
                mock.patch.object(keras_model, "load_keras_file", side_effect=built):
            code = check_contract(["verify", str(path), "--task", "repeat-copy-3", "--out",
                                   str(work / "out")], work)
        assert code == 2

"""Fuzz: hostile weight files through `emt verify FILE --task repeat-copy-3 --out DIR` (exit 0,
1 or 2; one line and nothing written on 2; bounded time and memory)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_harness import check_contract
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.fuzz

NAMES = ["W_uh", "W_hh", "W_hy", "b_h", "b_y", "activation", "weight_ih_l0", "weight_hh_l0",
         "readout.weight", "kernel", "recurrent_kernel", "dense_kernel", "rnn.weight_ih_l0",
         "weight_ih_l1", "x"]
DTYPES = ["f8", "f4", "f2", "i4", "u1", "?", "c16", "m8[s]", "M8[s]", "U6", "S3", "O"]
SPECIALS = [0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e308, 5e-324]


@st.composite
def arrays(draw) -> np.ndarray:
    shape = tuple(draw(st.lists(st.sampled_from([0, 1, 3, 4, 12]), max_size=3)))
    dtype = draw(st.sampled_from(DTYPES))
    values = np.array(draw(st.lists(st.sampled_from(SPECIALS), min_size=1, max_size=4)))
    size = int(np.prod(shape))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    data = rng.normal(size=size) if draw(st.booleans()) else np.resize(values, size)
    if dtype == "O":
        return np.array([None] * size, dtype=object).reshape(shape)
    if dtype.startswith(("U", "S")):
        return np.array(draw(st.sampled_from(["tanh", "linear", "relu", ""]))).astype(dtype)
    with np.errstate(all="ignore"):
        return data.reshape(shape).astype(dtype)


def _valid_weights(draw) -> dict[str, np.ndarray]:
    n_h = draw(st.sampled_from([1, 3, 12]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return {"W_uh": rng.normal(size=(n_h, 3)), "W_hh": rng.normal(size=(n_h, n_h)) / n_h,
            "W_hy": rng.normal(size=(3, n_h))}


@st.composite
def npz_bytes(draw) -> bytes:
    content = _valid_weights(draw) if draw(st.booleans()) else {}
    content.update(draw(st.dictionaries(st.sampled_from(NAMES), arrays(), max_size=4)))
    buf = io.BytesIO()
    (np.savez_compressed if draw(st.booleans()) else np.savez)(buf, **content)
    data = buf.getvalue()
    damage = draw(st.sampled_from(["none", "truncate", "flip", "header", "prefix"]))
    if damage == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1:]
    elif damage == "header":  # an .npy header that claims an enormous shape
        big = io.BytesIO()
        np.lib.format.write_array_header_1_0(big, {
            "descr": "<f8", "fortran_order": False,
            "shape": tuple(draw(st.lists(st.integers(10**4, 10**7), min_size=2, max_size=3)))})
        zbuf = io.BytesIO()
        with zipfile.ZipFile(zbuf, "w") as zf:
            zf.writestr("W_hh.npy", big.getvalue())
        data = zbuf.getvalue()
    elif damage == "prefix":
        data = draw(st.sampled_from([b"\x80\x04", b"\x93NUMPY", b"hello", b"PK\x03\x04"])) + data
    return data


@given(npz_bytes(), st.sampled_from([[], ["--cell", "rnn"], ["--cell", "lstm"],
                                      ["--cell", "gru"]]))
def test_hostile_npz_files(data, cell: list[str]) -> None:
    """Also read as a named cell: a file of another layout is bad input, never a crash."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "w.npz").write_bytes(data)
        argv = ["verify", str(work / "w.npz"), "--task", "repeat-copy-3", *cell, "--out",
                str(work / "out")]
        check_contract(argv, work)

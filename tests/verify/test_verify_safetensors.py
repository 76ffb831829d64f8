"""`.safetensors` subjects: the same naming conventions and verdicts as the `.npz` with the same
arrays; a malformed file is refused from its header (exit 2, one line, nothing written)."""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from emt.cli import main
from emt.numerics.safetensors_read import read_safetensors

TASK = "repeat-copy-4"
RUN = Path(__file__).resolve().parents[2] / "results" / "cells-quick" / "runs" / \
    "c43aebd50b73851b" / "run"  # tanh RNN, N_h = 64, repeat copy s = d = 4: passes both claims


def _run_arrays() -> dict[str, np.ndarray]:
    """The committed net's W_uh, W_hh, W_hy (float32, as trained)."""
    with np.load(RUN / "weights.npz", allow_pickle=False) as z:
        return {k: z[k] for k in ("W_uh", "W_hh", "W_hy")}


def _verify_json(path: Path, capsys: pytest.CaptureFixture, *extra: str) -> tuple[int, dict]:
    code = main(["verify", str(path), "--task", TASK, "--format", "json", "--horizon", "60",
                 *extra])
    return code, json.loads(capsys.readouterr().out)


def _checks(doc: dict) -> list[tuple[str, object, bool]]:
    return [(c["name"], c["value"], c["passed"]) for c in doc["checks"]]


@pytest.mark.skipif(not RUN.is_dir(), reason="no committed runs")
@pytest.mark.parametrize("convention", ["ours", "pytorch", "keras"])
def test_safetensors_gets_the_npz_verdict(tmp_path: Path, capsys: pytest.CaptureFixture,
                                          convention: str) -> None:
    w = _run_arrays()
    arrays = {"ours": w,
              "pytorch": {"rnn.weight_ih_l0": w["W_uh"], "rnn.weight_hh_l0": w["W_hh"],
                          "readout.weight": w["W_hy"]},
              "keras": {"kernel": w["W_uh"].T.copy(), "recurrent_kernel": w["W_hh"].T.copy(),
                        "dense_kernel": w["W_hy"].T.copy()}}[convention]
    np.savez(tmp_path / "net.npz", **arrays)
    save_file(arrays, str(tmp_path / "net.safetensors"))
    by_npz = _verify_json(tmp_path / "net.npz", capsys, "--claim", "both")
    by_st = _verify_json(tmp_path / "net.safetensors", capsys, "--claim", "both")
    assert by_npz[0] == by_st[0] == 0  # the committed net passes both claims
    assert _checks(by_npz[1]) == _checks(by_st[1])
    assert by_st[1]["metadata"]["convention"] == convention
    # a wrong model fails the same way in either format: the readout with its sign flipped
    # (a positive gain is no failure)
    bad = dict(arrays)
    key = {"ours": "W_hy", "pytorch": "readout.weight", "keras": "dense_kernel"}[convention]
    bad[key] = -arrays[key]
    np.savez(tmp_path / "bad.npz", **bad)
    save_file(bad, str(tmp_path / "bad.safetensors"))
    bad_npz, bad_st = (_verify_json(tmp_path / f"bad.{ext}", capsys)
                       for ext in ("npz", "safetensors"))
    assert bad_npz[0] == bad_st[0] == 1
    assert _checks(bad_npz[1]) == _checks(bad_st[1])


def test_metadata_carries_activation_and_cell(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    w = {"W_uh": rng.normal(size=(8, 3)), "W_hh": rng.normal(size=(8, 8)),
         "W_hy": rng.normal(size=(3, 8))}
    save_file(w, str(tmp_path / "lin.safetensors"), metadata={"activation": "linear",
                                                              "note": "ignored"})
    arrays = read_safetensors(tmp_path / "lin.safetensors")
    assert str(arrays["activation"]) == "linear" and "note" not in arrays
    np.testing.assert_array_equal(arrays["W_hh"], w["W_hh"])
    assert main(["verify", str(tmp_path / "lin.safetensors"), "--task", "repeat-copy-3",
                 "--horizon", "10"]) in (0, 1)


# -- malformed files -----------------------------------------------------------------------------

def _raw(header: dict | bytes, data: bytes = b"", length: int | None = None) -> bytes:
    """A .safetensors byte string from a header (JSON-encoded unless bytes) and data; ``length``
    overrides the 8-byte header length."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def _entry(dtype: str, shape: list[int], begin: int, end: int) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def _malformed(tmp: Path) -> dict[str, tuple[Path, str]]:
    good = tmp / "good.safetensors"
    save_file({"W_uh": np.ones((4, 3), np.float32), "W_hh": np.eye(4, dtype=np.float32),
               "W_hy": np.ones((3, 4), np.float32)}, str(good))
    raw = good.read_bytes()
    files = {
        "empty": (b"", "too short for a .safetensors file"),
        "truncated": (raw[: len(raw) - 10], "truncated or corrupt"),
        "header longer than the file": (_raw({"a": _entry("F32", [1], 0, 4)}, b"\0" * 4,
                                             length=10_000), "the header length says 10000"),
        "absurd header length": (_raw(b"{}", length=2 ** 63), "the header length says"),
        "not JSON": (_raw(b"\x80\x04pickle!"), "not UTF-8 JSON"),
        "JSON array": (_raw(b"[1, 2]"), "not an object"),
        "BF16": (_raw({"W_hh": _entry("BF16", [2, 2], 0, 8)}, b"\0" * 8), "'BF16'"),
        "F8": (_raw({"W_hh": _entry("F8_E4M3", [2, 2], 0, 4)}, b"\0" * 4), "'F8_E4M3'"),
        "int": (_raw({"W_hh": _entry("I32", [2, 2], 0, 16)}, b"\0" * 16),
                "integers and booleans are not weights"),
        "claims 298 GiB": (_raw({"W_hh": _entry("F64", [200_000, 200_000], 0, 8)}, b"\0" * 8),
                           "MAX_ARRAY_ELEMENTS"),
        "offsets past the data": (_raw({"W_hh": _entry("F32", [2, 2], 0, 16)}, b"\0" * 8),
                                  "data_offsets [0, 16]"),
        "too many tensors": (_raw({f"x{i}": _entry("F32", [0], 0, 0) for i in range(70)}),
                             "MAX_NPZ_MEMBERS"),
        "negative shape": (_raw({"W_hh": _entry("F32", [-1, 2], 0, 0)}), "non-negative"),
        "deeply nested": (_raw(b"[" * 100_000 + b"]" * 100_000), "MAX_NESTING"),
    }
    out = {}
    for name, (data, needle) in files.items():
        path = tmp / (name.replace(" ", "_") + ".safetensors")
        path.write_bytes(data)
        out[name] = (path, needle)
    os.mkfifo(tmp / "fifo.safetensors")
    out["fifo"] = (tmp / "fifo.safetensors", "not a regular file (it is a FIFO)")
    return out


CASES = ["empty", "truncated", "header longer than the file", "absurd header length", "not JSON",
         "JSON array", "BF16", "F8", "int", "claims 298 GiB", "offsets past the data",
         "too many tensors", "negative shape", "deeply nested", "fifo"]


@pytest.mark.parametrize("name", CASES)
def test_malformed_safetensors_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                  name: str) -> None:
    d = tmp_path / "in"
    d.mkdir()
    path, needle = _malformed(d)[name]
    out = tmp_path / "out"
    start = time.monotonic()
    assert main(["verify", str(path), "--task", "repeat-copy-3", "--out", str(out)]) == 2
    assert time.monotonic() - start < 10.0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err, err
    assert not out.exists()


def test_the_size_caps_are_read_from_the_header(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.safetensors"
    save_file({"W_hh": np.zeros((100, 100))}, str(path))
    monkeypatch.setenv("EMT_LIMIT_MAX_NPZ_BYTES", "1000")
    with pytest.raises(ValueError, match=r"file bytes = \d+ is above the limit 1000"):
        read_safetensors(path)
    monkeypatch.setenv("EMT_LIMIT_MAX_NPZ_BYTES", "200000")
    monkeypatch.setenv("EMT_LIMIT_MAX_ARRAY_ELEMENTS", "9999")
    with pytest.raises(ValueError, match="elements = 10000 is above the limit 9999"):
        read_safetensors(path)
    monkeypatch.delenv("EMT_LIMIT_MAX_ARRAY_ELEMENTS")
    assert read_safetensors(path)["W_hh"].shape == (100, 100)

"""Hostile weight files: refused from their headers before anything is decompressed, with a
message that names what the file is (exit 2, one line, nothing written)."""

from __future__ import annotations

import io
import os
import pickle
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from emt.cli import main
from emt.numerics.npz_read import read_npz

TASK = "repeat-copy-3"  # d = 3


def _weights(n_h: int = 12, dtype=np.float64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"W_uh": rng.normal(size=(n_h, 3)).astype(dtype),
            "W_hh": rng.normal(size=(n_h, n_h)).astype(dtype),
            "W_hy": rng.normal(size=(3, n_h)).astype(dtype)}


def _npy_with_header(shape: tuple[int, ...], dtype: str = "<f8", payload: bytes = b"") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _savez(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    w = _weights()
    os.mkfifo(tmp / "fifo.npz")
    (tmp / "text.npz").write_text("W_hh = [[1, 2], [3, 4]]\n")
    (tmp / "pickle.npz").write_bytes(pickle.dumps({"W_hh": [[1.0]]}))
    os.symlink("/etc/hostname" if Path("/etc/hostname").exists() else "/etc/passwd",
               tmp / "link.npz")
    np.save(tmp / "single.npz.npy", w["W_hh"])
    os.replace(tmp / "single.npz.npy", tmp / "single.npz")
    huge = _npy_with_header((200_000, 200_000))  # claims 298 GiB, holds nothing
    return {
        "fifo": (tmp / "fifo.npz", "not a regular file (it is a FIFO)"),
        "text": (tmp / "text.npz", "not an .npz file (no zip signature)"),
        "pickle": (tmp / "pickle.npz", "a Python pickle, not an .npz"),
        "link to a text file": (tmp / "link.npz", "not an .npz file (no zip signature)"),
        "single npy": (tmp / "single.npz", "a single .npy array"),
        "claims 298 GiB": (_zip(tmp / "huge.npz", {"W_hh.npy": huge}),
                           "(200000, 200000) (40000000000 elements), above the limit"),
        "object array": (_savez(tmp / "obj.npz", W_uh=w["W_uh"], W_hy=w["W_hy"],
                                W_hh=np.array([[None, 1]], dtype=object)),
                         "holds Python objects (pickled data)"),
        "timedelta": (_savez(tmp / "td.npz", **{**w, "W_hh": w["W_hh"].astype("m8[s]")}),
                      "timedelta64"),
        "datetime": (_savez(tmp / "dt.npz", **{**w, "W_hh": w["W_hh"].astype("M8[s]")}),
                     "datetime64"),
        "N_h = 0": (_savez(tmp / "empty.npz", W_uh=np.zeros((0, 3)), W_hh=np.zeros((0, 0)),
                           W_hy=np.zeros((3, 0))), "is empty"),
        "truncated": (tmp / "trunc.npz", "truncated or corrupt"),
        "too many arrays": (_savez(tmp / "many.npz", **w,
                                   **{f"x{i}": np.zeros(1) for i in range(70)}),
                            "MAX_NPZ_MEMBERS"),
        "bool": (_savez(tmp / "bool.npz", **{**w, "W_hh": w["W_hh"] > 0}),
                 "must be a real numeric array"),
    }


@pytest.fixture
def cases(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    good = _savez(d / "good.npz", **_weights())
    (d / "trunc.npz").write_bytes(good.read_bytes()[:200])
    return _cases(d)


CASE_NAMES = ["fifo", "text", "pickle", "link to a text file", "single npy", "claims 298 GiB",
              "object array", "timedelta", "datetime", "N_h = 0", "truncated",
              "too many arrays", "bool"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_npz_is_one_line_exit_2(cases, tmp_path, capsys, name) -> None:
    path, needle = cases[name]
    out = tmp_path / "out"
    start = time.monotonic()
    assert main(["verify", str(path), "--task", TASK, "--out", str(out)]) == 2
    assert time.monotonic() - start < 10.0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err, err
    assert not out.exists()
    if name != "object array":  # the old message blamed pickles for any unreadable file
        assert "pickled data" not in err


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path, monkeypatch) -> None:
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, W_hh=np.zeros((1000, 1000)), W_uh=np.zeros((1000, 3)),
                        W_hy=np.zeros((3, 1000)))
    assert path.stat().st_size < 100_000  # 8 MB of arrays in a few kB
    monkeypatch.setenv("EMT_LIMIT_MAX_NPZ_BYTES", str(4_000_000))
    with pytest.raises(ValueError, match="more than 4000000 bytes in memory.*MAX_NPZ_BYTES"):
        read_npz(path)
    monkeypatch.delenv("EMT_LIMIT_MAX_NPZ_BYTES")
    assert read_npz(path)["W_hh"].shape == (1000, 1000)


def test_good_npz_still_loads(tmp_path) -> None:
    path = _savez(tmp_path / "good.npz", **_weights(), activation=np.array("linear"))
    arrays = read_npz(path)
    assert set(arrays) == {"W_uh", "W_hh", "W_hy", "activation"}
    np.testing.assert_array_equal(arrays["W_hh"], _weights()["W_hh"])

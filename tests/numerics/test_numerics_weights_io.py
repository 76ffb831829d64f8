"""RNNWeights npz I/O: a corrupt file is a ValueError (not zipfile's error), written files get
ordinary permissions, and a round trip is exact."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from emt.core.atomic import atomic_write_bytes
from emt.numerics.model import init_weights
from emt.numerics.weights import RNNWeights


def test_npz_round_trip_is_exact(tmp_path) -> None:
    w = init_weights(6, 2, "linear", seed=1)
    back = RNNWeights.load_npz(w.save_npz(tmp_path / "w.npz"))
    for n in ("W_uh", "W_hh", "W_hy"):
        np.testing.assert_array_equal(getattr(back, n), getattr(w, n))
    assert back.activation == "linear"


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04 truncated zip"])
def test_corrupt_npz_is_a_value_error_naming_the_file(tmp_path, content: bytes) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match="bad.npz"):
        RNNWeights.load_npz(bad)


def test_atomic_write_gives_umask_permissions(tmp_path) -> None:
    path = atomic_write_bytes(tmp_path / "f.json", b"{}")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]

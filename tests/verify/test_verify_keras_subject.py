"""`.keras` subjects: read in safe mode (float32 weights), verified like the .npz; another
architecture is bad input (exit 2, nothing written).  Imports TensorFlow (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emt.cli import main
from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.tasks import get
from emt.verify.subject import load_subject

TASK = "repeat-copy-3"


def test_keras_file_verifies_like_the_npz(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from emt.numerics.model import build_keras_model

    task = get(TASK)
    c = Circuit(task, np.linalg.qr(random_psi(task, 12, 0))[0])
    w = RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear")
    path = tmp_path / "circuit.keras"
    build_keras_model(w).save(path)
    subj = load_subject(path, task)
    assert subj.convention == "keras-file"
    assert np.allclose(subj.weights.W_hh, w.W_hh, atol=1e-6)  # stored as float32
    assert main(["verify", str(path), "--task", TASK, "--tol", "markov=1e-4"]) == 0
    capsys.readouterr()


def test_keras_file_with_another_architecture_is_bad_input(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    import keras

    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(3)])
    path = tmp_path / "dense.keras"
    model.save(path)
    out = tmp_path / "out"
    assert main(["verify", str(path), "--task", TASK, "--out", str(out)]) == 2
    assert "SimpleRNN" in capsys.readouterr().err
    assert not out.exists()
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    assert main(["verify", str(broken), "--task", TASK, "--out", str(out)]) == 2
    assert "broken.keras" in capsys.readouterr().err and not out.exists()

"""`.keras` subjects: read in safe mode (float32 weights), verified like the .npz; another
architecture is bad input (exit 2, nothing written).  Imports TensorFlow (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emt.cli import main
from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
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
    assert main(["verify", str(path), "--task", TASK, "--tol", "markov=1e-4",
                 "--claim", "both"]) == 0
    capsys.readouterr()


RUN = Path(__file__).resolve().parents[2] / "results" / "table1-quick" / "runs" / \
    "b1da9f5845c6badd" / "run"  # T3 seed 1


@pytest.mark.skipif(not RUN.is_dir(), reason="no committed runs")
def test_committed_t3_net_as_keras_file_gets_the_run_directory_verdicts(tmp_path: Path) -> None:
    from emt.numerics.model import build_keras_model
    from emt.numerics.rundir import load_run
    from emt.verify.entry import verify_subject

    w, task, _ = load_run(RUN)
    path = tmp_path / "t3.keras"
    build_keras_model(w).save(path)
    as_run, as_keras = verify_subject(RUN), verify_subject(path, task)
    assert {k: v.holds for k, v in as_keras.verdicts.items()} == \
        {k: v.holds for k, v in as_run.verdicts.items()} == {"effective": True, "linear": False,
                                                            "binding": True}


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

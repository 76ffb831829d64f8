"""`verify_model` on Keras models and mappings of arrays held in memory: the same verdicts and
check values as the same weights read from a file; the task by name, `TaskSpec` or file; a
ValueError naming what it found otherwise.  (torch modules: ``tests/test_torch_in_memory.py``.)
Imports TensorFlow (a few seconds)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emt.numerics.weights import RNNWeights
from emt.theory.registry import get
from emt.verify import verify_model
from emt.verify.entry import assert_emt, verify_subject

TASK = "repeat-copy-4"
ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "results" / "cells-quick" / "runs" / "c43aebd50b73851b" / "run"  # passes both
needs_run = pytest.mark.skipif(not RUN.is_dir(), reason="no committed runs")


def _arrays() -> dict[str, np.ndarray]:
    with np.load(RUN / "weights.npz", allow_pickle=False) as z:
        return {k: z[k] for k in ("W_uh", "W_hh", "W_hy")}


def _same(a, b) -> None:
    """Equal verdicts and equal check values (NaN equal to NaN)."""
    assert {k: v.holds for k, v in a.verdicts.items()} == \
        {k: v.holds for k, v in b.verdicts.items()}
    assert [(c.name, c.passed) for c in a.checks] == [(c.name, c.passed) for c in b.checks]
    for x, y in zip(a.checks, b.checks, strict=True):
        assert x.value == y.value or (math.isnan(x.value) and math.isnan(y.value)), x.name


@needs_run
def test_keras_simple_rnn_matches_its_keras_file(tmp_path: Path) -> None:
    from emt.numerics.model import build_keras_model

    w = _arrays()
    model = build_keras_model(RNNWeights(w["W_uh"], w["W_hh"], w["W_hy"]))
    report = verify_model(model, TASK, claim="both")
    assert report.passed and report.metadata["convention"] == "keras"
    model.save(tmp_path / "net.keras")
    _same(report, verify_subject(tmp_path / "net.keras", TASK, claim="both"))
    assert assert_emt(model, TASK).passed
    # a wrong model fails, in memory as from the file
    bad = build_keras_model(RNNWeights(w["W_uh"], w["W_hh"], -w["W_hy"]))
    bad.save(tmp_path / "bad.keras")
    bad_report = verify_model(bad, TASK)
    assert not bad_report.passed
    _same(bad_report, verify_subject(tmp_path / "bad.keras", TASK))


def test_keras_lstm_matches_its_keras_file(tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(None, 4)),
                              keras.layers.LSTM(12, return_sequences=True),
                              keras.layers.Dense(4)])
    report = verify_model(model, TASK, horizon=40)
    assert report.metadata["cell"] == "lstm"
    model.save(tmp_path / "lstm.keras")
    _same(report, verify_subject(tmp_path / "lstm.keras", TASK, horizon=40))


@needs_run
def test_a_mapping_of_arrays_matches_the_npz(tmp_path: Path) -> None:
    w = _arrays()
    np.savez(tmp_path / "net.npz", **w)
    report = verify_model(w, TASK, subject="committed net")
    assert report.metadata["subject"] == "committed net" and report.passed
    _same(report, verify_subject(tmp_path / "net.npz", TASK))
    # PyTorch names with an attribute prefix, as a state_dict holds them
    named = {"rnn.weight_ih_l0": w["W_uh"], "rnn.weight_hh_l0": w["W_hh"],
             "readout.weight": w["W_hy"]}
    _same(report, verify_model(named, TASK))


@needs_run
def test_the_task_by_name_spec_or_file(tmp_path: Path) -> None:
    w = _arrays()
    task_file = tmp_path / "rc4.json"
    task_file.write_text(json.dumps(get(TASK).to_json()))
    by = [verify_model(w, t, horizon=40) for t in (TASK, get(TASK), task_file, str(task_file))]
    for other in by[1:]:
        _same(by[0], other)
    with pytest.raises(ValueError, match="unknown task 'repeat-copy-99'; known tasks"):
        verify_model(w, "repeat-copy-99")


def test_unreadable_models_name_what_they_are() -> None:
    import keras

    bidi = keras.Sequential([keras.Input(shape=(None, 4)),
                             keras.layers.Bidirectional(keras.layers.SimpleRNN(4)),
                             keras.layers.Dense(4)])
    with pytest.raises(ValueError, match=r"found \[Bidirectional, Dense\]"):
        verify_model(bidi, TASK)
    relu = keras.Sequential([keras.Input(shape=(None, 4)),
                             keras.layers.SimpleRNN(4, activation="relu", return_sequences=True),
                             keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="activation must be one of tanh, linear; found 'relu'"):
        verify_model(relu, TASK)
    with pytest.raises(ValueError, match="readout= is for a torch layer"):
        verify_model(relu, TASK, readout=keras.layers.Dense(4))
    with pytest.raises(ValueError, match="cannot read a builtins.list"):
        verify_model([np.eye(4)], TASK)
    with pytest.raises(ValueError, match="no weight matrices found"):
        verify_model({"x": np.eye(4)}, TASK)
    with pytest.raises(ValueError, match="unknown gate layout"):
        verify_model({"weight_ih_l0": np.ones((8, 4)), "weight_hh_l0": np.ones((8, 4)),
                      "readout.weight": np.ones((4, 4))}, TASK)


def test_torch_is_imported_only_for_a_torch_object() -> None:
    code = ("import sys, numpy as np\n"
            "from emt.verify import verify_model\n"
            "r = verify_model({'W_uh': np.eye(4), 'W_hh': np.eye(4), 'W_hy': np.eye(4),\n"
            "                  'activation': np.array('linear')}, 'repeat-copy-4', horizon=8)\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
            "print(r.passed)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("True", "False")


def test_the_in_memory_doc_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/in_memory.md's ```python blocks run as written (the torch one does nothing
    without torch)."""
    import re

    text = (ROOT / "docs" / "in_memory.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, "docs/in_memory.md", "exec"), {"__name__": "doc"})  # noqa: S102

"""Loading before building: a ``.keras`` archive's layer sizes are read from its config.json and
refused before Keras allocates anything; a subject read as the wrong cell (``--cell``) is bad
input naming both its layout and the flag (exit 2, one line, nothing written); and the
generalisation batches are one stream for every cell."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import emt.numerics.model as keras_model
from emt.cli import main
from emt.numerics.cell_models import (
    CellWeights,
    cell_dynamics,
    cell_weights_from_params,
    init_cell_params,
)
from emt.numerics.simulate import ElmanDynamics
from emt.numerics.weights import RNNWeights
from emt.theory.registry import get
from emt.verify import keras_subject
from emt.verify.cell_subject import verify_cell
from emt.verify.generalisation import GENERALISATION_STREAM, drive, generalisation_score
from emt.verify.judge import verify_weights

TASK = "repeat-copy-3"  # s = d = 3


def keras_archive(path: Path, layer: str, units, d: int = 3, extra: dict | None = None) -> Path:
    """A hand-made ``.keras`` zip: config.json declaring ``Input -> layer(units) -> Dense(d)``
    in Keras 3's own format, and no weights (a few hundred bytes)."""
    rec = {"module": "keras.layers", "class_name": layer,
           "config": {"name": "rec", "units": units, "return_sequences": True, **(extra or {})},
           "build_config": {"input_shape": [None, None, d]}}
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None, None, d], "name": "u"}},
        rec,
        {"module": "keras.layers", "class_name": "Dense",
         "config": {"name": "readout", "units": d},
         "build_config": {"input_shape": [None, None, units]}}]}}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        zf.writestr("config.json", json.dumps(config))
    return path


@pytest.fixture
def no_keras(monkeypatch):
    """Fail the test if anything would be built by Keras."""
    def refuse(*args, **kwargs):
        raise AssertionError("Keras was asked to build the model")

    monkeypatch.setattr(keras_subject, "_load_gated", refuse)
    monkeypatch.setattr(keras_model, "load_keras_file", refuse)


@pytest.mark.parametrize(("layer", "units"), [("LSTM", 6000), ("SimpleRNN", 20000),
                                               ("GRU", 10**12)])
def test_huge_keras_layer_is_refused_from_its_config(tmp_path: Path, capsys, no_keras,
                                                      layer: str, units: int) -> None:
    path = keras_archive(tmp_path / "huge.keras", layer, units)
    assert path.stat().st_size < 20_000
    out = tmp_path / "out"
    assert main(["verify", str(path), "--task", TASK, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"units = {units}" in err and "MAX_HIDDEN" in err and not out.exists()


def test_keras_layer_whose_weights_exceed_the_array_limit_is_refused(tmp_path: Path) -> None:
    # 2100 units are within MAX_HIDDEN, but the LSTM's 4N x N recurrent kernel is 17.6 M
    # elements, above MAX_ARRAY_ELEMENTS (the bound an .npz of the same weights meets)
    path = keras_archive(tmp_path / "wide.keras", "LSTM", 2100)
    with pytest.raises(ValueError, match="8400 x 2100 weight matrix.*MAX_ARRAY_ELEMENTS"):
        keras_subject.keras_layout(path)
    assert keras_subject.keras_layout(keras_archive(tmp_path / "ok.keras", "LSTM", 8)) == "lstm"


@pytest.mark.parametrize(("units", "needle"), [(True, "positive integer"), (-3, "positive"),
                                                ("6000", "positive integer"),
                                                (6e3, "positive integer")])
def test_keras_units_of_the_wrong_type_are_refused(tmp_path: Path, units, needle: str) -> None:
    path = keras_archive(tmp_path / "odd.keras", "LSTM", units)
    with pytest.raises(ValueError, match=needle):
        keras_subject.keras_layout(path)


def test_keras_archive_with_another_layer_or_no_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"found \[InputLayer, Embedding, Dense\]"):
        keras_subject.keras_layout(keras_archive(tmp_path / "e.keras", "Embedding", 4))
    bare = tmp_path / "bare.keras"
    with zipfile.ZipFile(bare, "w") as zf:
        zf.writestr("metadata.json", "{}")
    with pytest.raises(ValueError, match="no config.json"):
        keras_subject.keras_layout(bare)


def _lstm(n: int = 4, d: int = 3) -> CellWeights:
    return cell_weights_from_params("lstm", init_cell_params("lstm", n, d, seed=1))


def test_a_file_read_as_the_wrong_cell_is_bad_input_naming_both(tmp_path: Path, capsys,
                                                                 no_keras) -> None:
    a = _lstm().arrays
    torch = tmp_path / "lstm_state_dict.npz"
    np.savez(torch, weight_ih_l0=a["W_ih"], weight_hh_l0=a["W_hh"],
             **{"readout.weight": a["W_hy"]})
    ours = _lstm().save_npz(tmp_path / "ours.npz")
    rng = np.random.default_rng(0)
    elman = tmp_path / "elman.npz"
    np.savez(elman, W_uh=rng.normal(size=(4, 3)), W_hh=rng.normal(size=(4, 4)) / 4,
             W_hy=rng.normal(size=(3, 4)))
    keras_lstm = keras_archive(tmp_path / "lstm.keras", "LSTM", 4)
    cases = [(torch, "rnn", ("--cell rnn", "16 x 4, the lstm layout")),
             (torch, "gru", ("--cell gru", "the lstm layout")),
             (ours, "rnn", ("holds a lstm cell", "--cell rnn")),
             (elman, "lstm", ("--cell lstm needs a recurrent matrix of 4N x N", "the rnn layout")),
             (keras_lstm, "rnn", ("holds a LSTM layer (the lstm layout)", "--cell rnn"))]
    for path, flag, needles in cases:
        out = tmp_path / "out"
        code = main(["verify", str(path), "--task", TASK, "--cell", flag, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2, (path, flag, err)
        assert len(err.strip().splitlines()) == 1 and all(n in err for n in needles), err
        assert not out.exists()


def test_a_run_directory_read_as_the_wrong_cell_is_bad_input(capsys) -> None:
    run = Path(__file__).resolve().parents[2] / "results" / "cells" / "lstm-repeat-copy-4"
    assert main(["verify", str(run), "--cell", "gru"]) == 2
    err = capsys.readouterr().err
    assert "a run of the lstm cell" in err and "--cell gru" in err, err


def test_generalisation_batches_are_one_stream_for_every_cell() -> None:
    """An Elman net and an LSTM of the same task and seed are driven with the same inputs, drawn
    from SeedSequence([seed, 200]); each report's generalisation check scores that drive."""
    task, seed, H = get(TASK), 3, 12
    rng = np.random.default_rng(np.random.SeedSequence([seed, GENERALISATION_STREAM]))
    window = rng.choice(np.array([-1.0, 1.0]), size=(640, task.s, task.d))
    r = np.random.default_rng(1)
    elman = RNNWeights(r.normal(size=(6, 3)), r.normal(size=(6, 6)) / 3, r.normal(size=(3, 6)))
    lstm = _lstm()
    runs = [drive(ElmanDynamics(elman), task, seed, H), drive(cell_dynamics(lstm), task, seed, H)]
    for run in runs:
        assert np.array_equal(run.inputs[:, :task.s], window)
        assert not np.any(run.inputs[:, task.s:])
    reports = [verify_weights(elman, task, seed=seed, horizon=H),
               verify_cell(lstm, task, seed=seed, horizon=H)]
    models = [ElmanDynamics(elman), cell_dynamics(lstm)]
    for model, report in zip(models, reports, strict=True):  # the sequential test at the bar
        run = drive(model, task, seed, H, bar=report.check("generalisation").tolerance)
        assert report.check("generalisation").value == generalisation_score(
            run.outputs, run.targets, seed)[0]

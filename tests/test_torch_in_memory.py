"""`verify_model` on torch modules held in memory: the same verdicts and check values as the same
weights saved as a ``state_dict`` ``.npz`` (the path ``emt verify`` takes), and a ValueError
naming what it found for anything the theory does not cover.

torch is not a project dependency: without it this file is skipped (``tox -e torch`` runs it).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from emt.theory.registry import get
from emt.verify import verify_model
from emt.verify.entry import assert_emt, verify_subject

torch = pytest.importorskip("torch")

TASK = "repeat-copy-4"  # s = d = 4
RUNS = Path(__file__).resolve().parents[1] / "results" / "cells-quick" / "runs"
RNN_RUN = RUNS / "c43aebd50b73851b" / "run"  # tanh RNN, N_h = 64: passes both claims
LSTM_RUN = RUNS / "a0f424aabb646135" / "run"  # LSTM, N_h = 64: fails both (docs/cells.md)
needs_runs = pytest.mark.skipif(not (RNN_RUN.is_dir() and LSTM_RUN.is_dir()),
                                reason="no committed runs")


def _arrays(run: Path) -> dict[str, np.ndarray]:
    with np.load(run / "weights.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files if z[k].dtype.kind == "f"}


def _load(module: torch.nn.Module, values: dict[str, np.ndarray]) -> None:
    """Copy ``values`` (by parameter name) into ``module``'s parameters."""
    with torch.no_grad():
        for name, value in values.items():
            getattr(module, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))


class Net(torch.nn.Module):
    """A recurrent layer under ``rnn`` and an ``nn.Linear`` under ``readout``: the layout of
    most ``state_dict``s."""

    def __init__(self, layer: torch.nn.Module, readout: torch.nn.Linear) -> None:
        super().__init__()
        self.rnn = layer
        self.readout = readout


def _file_report(tmp_path: Path, layer: torch.nn.Module, readout: torch.nn.Linear, **kw):
    """The report of ``emt verify`` on the module's ``state_dict`` saved as an ``.npz``."""
    path = tmp_path / "state_dict.npz"
    np.savez(path, **{k: v.detach().numpy() for k, v in Net(layer, readout).state_dict().items()})
    return verify_subject(path, TASK, **kw)


def _same(a, b) -> None:
    """Equal verdicts and equal check values (NaN equal to NaN)."""
    assert {k: v.holds for k, v in a.verdicts.items()} == \
        {k: v.holds for k, v in b.verdicts.items()}
    assert [c.name for c in a.checks] == [c.name for c in b.checks]
    for x, y in zip(a.checks, b.checks, strict=True):
        assert x.passed == y.passed, x.name
        assert x.value == y.value or (math.isnan(x.value) and math.isnan(y.value)), x.name


def _committed(kind: str, run: Path, w_ih: str) -> tuple[torch.nn.Module, torch.nn.Linear,
                                                          dict[str, np.ndarray]]:
    """A bias-free ``torch.nn.<kind>(4, 64)`` and ``Linear(64, 4)`` holding a committed net
    (its input matrix named ``w_ih``), and the net's arrays."""
    w = _arrays(run)
    layer = getattr(torch.nn, kind)(4, 64, bias=False, batch_first=True)
    readout = torch.nn.Linear(64, 4, bias=False)
    _load(layer, {"weight_ih_l0": w[w_ih], "weight_hh_l0": w["W_hh"]})
    _load(readout, {"weight": w["W_hy"]})
    return layer, readout, w


@needs_runs
def test_torch_rnn_matches_its_state_dict_file(tmp_path: Path) -> None:
    rnn, readout, w = _committed("RNN", RNN_RUN, "W_uh")
    report = verify_model(rnn, TASK, readout=readout, claim="both")
    assert report.passed and report.metadata["convention"] == "pytorch"
    assert report.metadata["subject"] == "torch.nn.RNN(4, 64) + Linear(64, 4)"
    _same(report, _file_report(tmp_path, rnn, readout, claim="both"))
    assert assert_emt(rnn, TASK, readout=readout, claim="both").passed
    # a wrong model fails, in memory as from the file: the readout scaled by 1.5
    _load(readout, {"weight": -w["W_hy"]})
    bad = verify_model(rnn, get(TASK), readout=readout)
    assert not bad.passed
    _same(bad, _file_report(tmp_path, rnn, readout))
    with pytest.raises(AssertionError, match="FAIL"):
        assert_emt(rnn, TASK, readout=readout)


def test_torch_rnn_with_biases_reports_them(tmp_path: Path) -> None:
    torch.manual_seed(0)
    rnn, readout = torch.nn.RNN(4, 16), torch.nn.Linear(16, 4)  # PyTorch's default biases
    report = verify_model(rnn, TASK, readout=readout, horizon=40)
    assert not report.check("no_bias").passed
    _same(report, _file_report(tmp_path, rnn, readout, horizon=40))


@needs_runs
def test_torch_lstm_matches_the_run_directory(tmp_path: Path) -> None:
    lstm, readout, _ = _committed("LSTM", LSTM_RUN, "W_ih")
    report = verify_model(lstm, TASK, readout=readout, claim="both")
    assert report.metadata["cell"] == "lstm"
    _same(report, verify_subject(LSTM_RUN, claim="both"))
    _same(report, _file_report(tmp_path, lstm, readout, claim="both"))
    # the module and its state_dict (torch tensors) are read alike
    _same(report, verify_model(Net(lstm, readout), TASK, claim="both"))
    _same(report, verify_model(Net(lstm, readout).state_dict(), TASK, claim="both"))


def test_torch_gru_with_biases_matches_its_file(tmp_path: Path) -> None:
    torch.manual_seed(1)
    gru, readout = torch.nn.GRU(4, 12), torch.nn.Linear(12, 4)
    report = verify_model(gru, TASK, readout=readout, horizon=40)
    assert report.metadata["cell"] == "gru" and not report.passed
    _same(report, _file_report(tmp_path, gru, readout, horizon=40))


class WithDropout(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn, self.drop, self.fc = (torch.nn.GRU(4, 8), torch.nn.Dropout(0.1),
                                        torch.nn.Linear(8, 4))


UNREADABLE = {
    "stacked": (lambda: torch.nn.RNN(4, 8, num_layers=2), "num_layers=2: stacked"),
    "bidirectional": (lambda: torch.nn.LSTM(4, 8, bidirectional=True), "is bidirectional"),
    "relu": (lambda: torch.nn.RNN(4, 8, nonlinearity="relu"), "nonlinearity='relu'"),
    "projection": (lambda: torch.nn.LSTM(4, 8, proj_size=2), "proj_size=2"),
    "a cell": (lambda: torch.nn.GRUCell(4, 8), "GRUCell is not a torch.nn.RNN, LSTM or GRU"),
    "another module": (WithDropout, "found 1 recurrent layer(s), 1 Linear and Dropout"),
    "bfloat16": (lambda: torch.nn.RNN(4, 8).to(torch.bfloat16), "torch.bfloat16"),
}


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_unreadable_torch_models_name_what_they_are(name: str) -> None:
    make, needle = UNREADABLE[name]
    readout = None if name == "another module" else torch.nn.Linear(8, 4)
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        verify_model(make(), TASK, readout=readout)


@pytest.mark.parametrize(("readout", "needle"), [
    (None, r"give the readout as readout=torch.nn.Linear\(8, d\)"),
    ("linear(5, 4)", r"readout Linear\(5, 4\) does not read the 8 hidden units"),
    ("conv", "readout must be a torch.nn.Linear; got Conv1d"),
    ("linear(8, 3)", "d_out = 3 but task repeat-copy-4 has d = 4"),
])
def test_a_wrong_readout_is_named(readout: str | None, needle: str) -> None:
    made = {None: None, "linear(5, 4)": torch.nn.Linear(5, 4),
            "linear(8, 3)": torch.nn.Linear(8, 3), "conv": torch.nn.Conv1d(8, 4, 1)}[readout]
    with pytest.raises(ValueError, match=needle):
        verify_model(torch.nn.RNN(4, 8), TASK, readout=made)

"""Our PyTorch-named LSTM/GRU import against torch itself.

A real ``nn.LSTM`` / ``nn.GRU`` (under an attribute, the layout most ``state_dict``s have) with an
``nn.Linear`` readout is saved as ``.npz`` under its own ``state_dict`` names and loaded through
`load_subject`, the path ``emt verify`` takes.  The numpy dynamics of the loaded weights must
reproduce torch's forward pass -- ``h(t)`` at every step and the readout ``y(t)`` -- to float32
rounding, with and without biases; biases are kept and reported by ``no_bias``.  This pins the
gate orders (i, f, g, o / r, z, n) and PyTorch's GRU candidate
``n = tanh(W_in u + b_in + r * (W_hn h + b_hn))`` to torch rather than to our own reading of
its documentation.

torch is not a project dependency: without it this file is skipped.  To run it,
``pip install torch==2.13.0 && pytest tests/test_torch_cells.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emt.numerics.cell_models import CellWeights, cell_dynamics
from emt.numerics.dynamics import rollout_dynamics
from emt.theory.registry import get
from emt.verify.cell_subject import verify_cell
from emt.verify.subject import load_subject

torch = pytest.importorskip("torch")

B, T = 3, 25  # sequences and steps of the compared rollout
# float32: torch's own rounding over T steps; float64: the same equations, to round-off
TOL = {"float32": 1e-5, "float64": 1e-12}


def torch_net(cell: str, d: int, n: int, bias: bool, seed: int) -> torch.nn.Module:
    """``cell`` (an nn.LSTM or nn.GRU, batch first) under the attribute ``cell`` and a
    ``readout`` nn.Linear(N, d), PyTorch's default initialisation from ``seed``; a nonzero bias
    (PyTorch draws it from the same U(-1/sqrt(N), 1/sqrt(N)) as the weights) when ``bias``."""

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
            self.add_module(cell, layer(d, n, bias=bias, batch_first=True))
            self.readout = torch.nn.Linear(n, d, bias=bias)

        def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, ...]:
            h, last = getattr(self, cell)(u)
            return (h, self.readout(h), *(last if cell == "lstm" else (last,)))

    torch.manual_seed(seed)
    return Net()


def save_state_dict(net: torch.nn.Module, path: Path) -> dict[str, np.ndarray]:
    """The ``state_dict`` as an ``.npz`` under its own names (``lstm.weight_ih_l0``, ...)."""
    arrays = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    np.savez(path, **arrays)
    return arrays


def inputs(d: int, dtype: str) -> np.ndarray:
    """The compared input sequences, ``(B, T, d)``, standard normal."""
    return np.random.default_rng(3).standard_normal((B, T, d)).astype(dtype)


def torch_and_ours(cell: str, d: int, n: int, bias: bool, dtype: str, tmp_path: Path
                   ) -> tuple[CellWeights, dict[str, np.ndarray], list[np.ndarray],
                              tuple[np.ndarray, np.ndarray]]:
    """``(loaded weights, saved arrays, torch outputs, our (states, outputs))`` on one random
    input sequence."""
    net = torch_net(cell, d, n, bias, seed=7).to(getattr(torch, dtype))
    saved = save_state_dict(net, tmp_path / f"{cell}.npz")
    subject = load_subject(tmp_path / f"{cell}.npz")
    assert subject.convention == "pytorch"
    assert isinstance(subject.weights, CellWeights) and subject.weights.cell == cell
    u = inputs(d, dtype)
    with torch.no_grad():
        theirs = [t.numpy() for t in net(torch.from_numpy(u))]
    return subject.weights, saved, theirs, rollout_dynamics(cell_dynamics(subject.weights), u)


def assert_matches_torch(cell: str, n: int, theirs: list[np.ndarray],
                         ours: tuple[np.ndarray, np.ndarray], tol: float) -> None:
    states, y = ours
    h_t, y_t = theirs[0], theirs[1]
    # h(t) and y(t) reach 0.1 to 1 here (checked), so the absolute bound is also a relative one
    assert np.abs(h_t).max() > 0.1 and np.abs(y_t).max() > 0.1
    np.testing.assert_allclose(states[:, :, :n], h_t, rtol=tol, atol=tol)  # every h(t)
    np.testing.assert_allclose(y, y_t, rtol=tol, atol=tol)
    if cell == "lstm":  # torch's (h_n, c_n), num_layers x B x N: our last state (h, c)
        np.testing.assert_allclose(states[:, -1, n:], theirs[3][0], rtol=tol, atol=tol)


def swapped_gates(w: CellWeights) -> CellWeights:
    """The weights with the first two gate blocks exchanged (i <-> f, r <-> z): what a loader
    with the wrong gate order would build."""
    n, a = w.n_hidden, dict(w.arrays)
    for k in ("W_ih", "W_hh", "b_ih", "b_hh"):
        if k in a:
            a[k] = np.concatenate([a[k][n:2 * n], a[k][:n], a[k][2 * n:]])
    return CellWeights(w.cell, a)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("cell", "d", "n"), [("lstm", 2, 8), ("lstm", 4, 16), ("gru", 3, 8),
                                              ("gru", 4, 16)])
def test_bias_free_cells_compute_torchs_forward(cell: str, d: int, n: int, dtype: str,
                                                tmp_path: Path) -> None:
    weights, saved, theirs, ours = torch_and_ours(cell, d, n, False, dtype, tmp_path)
    assert sorted(saved) == sorted([f"{cell}.weight_ih_l0", f"{cell}.weight_hh_l0",
                                    "readout.weight"])
    assert set(weights.arrays) == {"W_ih", "W_hh", "W_hy"} and not weights.has_bias
    assert_matches_torch(cell, n, theirs, ours, TOL[dtype])
    # the comparison can fail: the wrong gate order is far outside the bound
    _, y_wrong = rollout_dynamics(cell_dynamics(swapped_gates(weights)), inputs(d, dtype))
    assert np.abs(y_wrong - theirs[1]).max() > 1e3 * TOL["float32"]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_biases_are_kept_computed_like_torch_and_reported(cell: str, tmp_path: Path) -> None:
    d, n = 4, 8  # d of repeat-copy-4, for the report
    weights, saved, theirs, ours = torch_and_ours(cell, d, n, True, "float32", tmp_path)
    for ours_name, torch_name in (("b_ih", f"{cell}.bias_ih_l0"),
                                  ("b_hh", f"{cell}.bias_hh_l0"), ("b_y", "readout.bias")):
        np.testing.assert_array_equal(weights.arrays[ours_name], saved[torch_name])
    assert weights.has_bias
    assert_matches_torch(cell, n, theirs, ours, TOL["float32"])
    no_bias = verify_cell(weights, get("repeat-copy-4"), horizon=40).check("no_bias")
    largest = max(float(np.abs(saved[k]).max()) for k in saved if "bias" in k)
    assert no_bias.passed is False and no_bias.value == pytest.approx(largest)
    assert "b_ih, b_hh, b_y present" in no_bias.detail

"""LSTM, GRU and LRU cells: validated weights, numpy Dynamics equal to the TF training forward
pass, PyTorch/ring initialisation, npz round trip, and run directories that record the cell."""

from __future__ import annotations

import numpy as np
import pytest

from emt.numerics.cell_models import (
    CellWeights,
    cell_dynamics,
    cell_weights_from_params,
    init_cell_params,
)
from emt.numerics.dynamics import Dynamics, rollout_dynamics


@pytest.mark.parametrize("cell", ["lstm", "gru", "lru"])
def test_numpy_dynamics_equals_tf_forward(cell: str) -> None:
    from emt.numerics.step_cell import CellNet

    params = init_cell_params(cell, 8, 3, seed=2)
    net = CellNet(cell, params, s=2, lr=1e-3, clip=1.0, l2=0.0)
    u = np.random.default_rng(0).choice([-1.0, 1.0], size=(4, 12, 3)).astype(np.float32)
    u[:, 4:] = 0.0
    y_tf = net.forward(u).numpy()
    model = cell_dynamics(net.weights())
    assert isinstance(model, Dynamics)
    _, y_np = rollout_dynamics(model, u)
    np.testing.assert_allclose(y_np, y_tf, rtol=0, atol=2e-5)  # float32 against float64
    # another seed's weights give a different output: the comparison can fail
    other = cell_dynamics(cell_weights_from_params(cell, init_cell_params(cell, 8, 3, seed=3)))
    assert np.max(np.abs(rollout_dynamics(other, u)[1] - y_tf)) > 1e-2


def test_lstm_state_is_h_and_c() -> None:
    w = cell_weights_from_params("lstm", init_cell_params("lstm", 5, 2, seed=1))
    model = cell_dynamics(w)
    assert model.state_dim == 10
    x = model.step(model.initial_state(1), np.ones((1, 2)))
    a = w.arrays
    pre = np.ones(2) @ a["W_ih"].T
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    c = sig(pre[:5]) * np.tanh(pre[10:15])
    np.testing.assert_allclose(x[0, 5:], c, atol=1e-12)
    np.testing.assert_allclose(x[0, :5], sig(pre[15:]) * np.tanh(c), atol=1e-12)


def test_gated_init_is_pytorch_uniform_and_seeded() -> None:
    p = init_cell_params("lstm", 64, 4, seed=7)
    assert p["W_hh"].shape == (256, 64) and p["W_ih"].shape == (256, 4)
    k = 1 / np.sqrt(64)
    assert np.abs(p["W_hh"]).max() <= k and np.abs(p["W_hh"]).max() > 0.95 * k
    q = init_cell_params("lstm", 64, 4, seed=7)
    assert all(np.array_equal(p[n], q[n]) for n in p)
    assert not np.array_equal(p["W_hh"], init_cell_params("lstm", 64, 4, seed=8)["W_hh"])


def test_lru_ring_init_fills_the_unit_disc() -> None:
    w = cell_weights_from_params("lru", init_cell_params("lru", 4000, 2, seed=0))
    mod = np.abs(w.lam)
    assert mod.max() < 1
    # |lam|^2 uniform on [0, 1): its quartiles sit near 1/4, 1/2, 3/4
    np.testing.assert_allclose(np.quantile(mod ** 2, [0.25, 0.5, 0.75]), [0.25, 0.5, 0.75],
                               atol=0.03)
    # B is normalised by gamma = sqrt(1 - |lam|^2): the stationary variance per mode is ~1
    p = init_cell_params("lru", 4000, 2, seed=0)
    gamma = np.exp(p["gamma_log"])
    np.testing.assert_allclose(gamma, np.sqrt(1 - mod ** 2), rtol=1e-9)


def test_npz_round_trip_and_errors(tmp_path) -> None:
    w = cell_weights_from_params("gru", init_cell_params("gru", 6, 2, seed=1))
    path = w.save_npz(tmp_path / "g.npz")
    back = CellWeights.load_npz(path)
    assert back.cell == "gru" and all(np.array_equal(back.arrays[k], w.arrays[k])
                                      for k in w.arrays)
    bad = dict(w.arrays)
    bad["W_hh"] = bad["W_hh"][:12]
    with pytest.raises(ValueError, match=r"gru W_hh must be 3N x N"):
        CellWeights("gru", bad)
    bad = dict(w.arrays)
    bad["W_ih"] = np.full_like(bad["W_ih"], np.nan)
    with pytest.raises(ValueError, match="NaN"):
        CellWeights("gru", bad)
    with pytest.raises(ValueError, match="cell must be one of"):
        CellWeights("elman", w.arrays)


def test_train_records_the_cell_and_resumes(tmp_path) -> None:
    from emt.numerics import rundir
    from emt.numerics.train import TrainConfig, resume_run, train
    from emt.theory.registry import get

    config = TrainConfig(task=get("repeat-copy-3"), cell="gru", hidden=8, steps=6,
                         checkpoint_every=3, test_batches=1, seed=3)
    whole = train(config, tmp_path / "whole", progress=False)
    half = train(TrainConfig(**{**config.__dict__, "steps": 3}), tmp_path / "half",
                 progress=False)
    assert half.metrics["steps_done"] == 3
    resumed = resume_run(tmp_path / "half", steps=6, progress=False)
    for k in whole.weights.arrays:  # resuming is exact for the cells too
        np.testing.assert_array_equal(resumed.weights.arrays[k], whole.weights.arrays[k])
    weights, task, meta = rundir.load_run(tmp_path / "whole")
    assert meta["cell"] == "gru" and meta["config"]["cell"] == "gru"
    assert isinstance(weights, CellWeights) and weights.cell == "gru"
    with pytest.raises(ValueError, match="applies to the Elman RNN only"):
        TrainConfig(task=get("repeat-copy-3"), cell="lstm", activation="linear")

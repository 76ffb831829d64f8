"""PyTorch ``state_dict`` files from independent code: an RNN under an attribute name
(``rnn.weight_ih_l0``) is read like the bare names; a stacked RNN is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emt.verify.subject import load_npz_weights

W_uh = np.array([[1.0, 2.0], [3.0, 4.0], [0.5, 0.0]])
W_hh = np.arange(9.0).reshape(3, 3) / 10
W_hy = np.array([[5.0, 6.0, 7.0], [8.0, 9.0, 1.0]])


def test_prefixed_state_dict_reads_like_bare_names(tmp_path: Path) -> None:
    path = tmp_path / "sd.npz"
    np.savez(path, **{"rnn.weight_ih_l0": W_uh, "rnn.weight_hh_l0": W_hh,
                      "readout.weight": W_hy})
    weights, convention = load_npz_weights(path)
    assert convention == "pytorch"
    np.testing.assert_array_equal(weights.W_uh, W_uh)
    np.testing.assert_array_equal(weights.W_hh, W_hh)
    np.testing.assert_array_equal(weights.W_hy, W_hy)
    assert weights.b_h is None


def test_prefixed_biases_are_carried(tmp_path: Path) -> None:
    path = tmp_path / "sd.npz"
    np.savez(path, **{"net.weight_ih_l0": W_uh, "net.weight_hh_l0": W_hh,
                      "net.bias_ih_l0": np.ones(3), "net.bias_hh_l0": np.ones(3),
                      "readout.weight": W_hy})
    weights, _ = load_npz_weights(path)
    assert weights.has_bias and np.all(weights.b_h == 2.0)


def test_stacked_rnn_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sd.npz"
    np.savez(path, **{"rnn.weight_ih_l0": W_uh, "rnn.weight_hh_l0": W_hh,
                      "rnn.weight_ih_l1": W_hh, "rnn.weight_hh_l1": W_hh,
                      "readout.weight": W_hy})
    with pytest.raises(ValueError, match="multi-layer RNN"):
        load_npz_weights(path)

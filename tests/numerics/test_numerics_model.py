"""Keras model <-> RNNWeights: the transpose convention, rollout agreement, file round trip."""

from __future__ import annotations

import numpy as np
import pytest

from emt.numerics.model import (
    build_keras_model,
    init_weights,
    load_keras_file,
    weights_from_keras_model,
)
from emt.numerics.simulate import rollout
from emt.numerics.weights import RNNWeights

# Keras runs in float32; over ~20 steps of a contracting tanh/linear net the float32 round-off
# stays near 1e-6, so 1e-5 (the bound) leaves a margin of ~10x.
KERAS_VS_NUMPY_ATOL = 1e-5


def test_transpose_convention_hand_built_2x2() -> None:
    """A 2x2 example whose answer is computed by hand pins which matrix Keras transposes."""
    W_uh = np.array([[1.0, 0.0], [0.0, 0.0]])  # only u_0 drives, only h_0
    W_hh = np.array([[0.0, 0.0], [1.0, 0.0]])  # h_1(t) = h_0(t-1): a shift from 0 to 1
    W_hy = np.array([[0.0, 0.0], [0.0, 2.0]])  # y_1 = 2 h_1
    w = RNNWeights(W_uh, W_hh, W_hy, activation="linear")
    model = build_keras_model(w)
    rnn, dense = model.layers[1], model.layers[2]
    np.testing.assert_array_equal(rnn.get_weights()[0], W_uh.T)
    np.testing.assert_array_equal(rnn.get_weights()[1], W_hh.T)
    np.testing.assert_array_equal(dense.get_weights()[0], W_hy.T)
    u = np.zeros((1, 3, 2), dtype=np.float32)
    u[0, 0, 0] = 1.0  # impulse at t = 0 on input 0
    y = np.asarray(model(u))
    # h(0) = [1, 0]; h(1) = W_hh h(0) = [0, 1]; y(1) = [0, 2]; everything else zero.
    expected = np.zeros((1, 3, 2))
    expected[0, 1, 1] = 2.0
    np.testing.assert_allclose(y, expected, atol=0)
    back = weights_from_keras_model(model)
    np.testing.assert_array_equal(back.W_uh, W_uh)
    np.testing.assert_array_equal(back.W_hh, W_hh)
    np.testing.assert_array_equal(back.W_hy, W_hy)


@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_keras_model_agrees_with_numpy_rollout(activation: str) -> None:
    w = init_weights(16, 3, activation, seed=3)
    u = np.random.default_rng(0).choice([-1.0, 1.0], size=(4, 20, 3)).astype(np.float32)
    u[:, 3:] = 0
    y_keras = np.asarray(build_keras_model(w)(u))
    _, y_np = rollout(w, u)
    np.testing.assert_allclose(y_keras, y_np, atol=KERAS_VS_NUMPY_ATOL)


def test_keras_model_with_biases_round_trips_and_agrees() -> None:
    base = init_weights(5, 2, "tanh", seed=4)
    rng = np.random.default_rng(1)
    w = RNNWeights(base.W_uh, base.W_hh, base.W_hy, b_h=rng.normal(size=5),
                   b_y=rng.normal(size=2))
    model = build_keras_model(w)
    back = weights_from_keras_model(model)
    np.testing.assert_allclose(back.b_h, w.b_h, atol=1e-7)
    np.testing.assert_allclose(back.b_y, w.b_y, atol=1e-7)
    u = rng.normal(size=(2, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model(u)), rollout(w, u)[1], atol=KERAS_VS_NUMPY_ATOL)


def test_init_weights_is_pytorch_uniform_and_seeded() -> None:
    w = init_weights(64, 4, "tanh", seed=7)
    bound = 1 / np.sqrt(64)
    for m in (w.W_uh, w.W_hh, w.W_hy):
        assert np.all(np.abs(m) <= bound)
        assert np.max(np.abs(m)) > 0.9 * bound  # the full range is used, not a narrower law
    again = init_weights(64, 4, "tanh", seed=7)
    np.testing.assert_array_equal(w.W_hh, again.W_hh)
    assert not np.array_equal(w.W_hh, init_weights(64, 4, "tanh", seed=8).W_hh)
    with pytest.raises(ValueError, match="n_hidden"):
        init_weights(0, 4)


def test_keras_file_round_trip(tmp_path) -> None:
    w = init_weights(8, 3, "linear", seed=2)
    path = tmp_path / "m.keras"
    build_keras_model(w).save(path)
    back = load_keras_file(path)
    assert back.activation == "linear"
    # float32 storage: entries of size <= 1/sqrt(8) keep ~7 significant digits.
    for a, b in ((back.W_uh, w.W_uh), (back.W_hh, w.W_hh), (back.W_hy, w.W_hy)):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_load_keras_file_rejects_corrupt_and_other_architectures(tmp_path) -> None:
    import keras

    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="bad.keras"):
        load_keras_file(bad)
    with pytest.raises(FileNotFoundError):
        load_keras_file(tmp_path / "missing.keras")
    inputs = keras.Input(shape=(None, 3))
    lstm = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.LSTM(4, return_sequences=True)(
        inputs)))
    other = tmp_path / "lstm.keras"
    lstm.save(other)
    with pytest.raises(ValueError, match="LSTM"):
        load_keras_file(other)
    with pytest.raises(ValueError, match="SimpleRNN \\+ Dense"):
        weights_from_keras_model(lstm)

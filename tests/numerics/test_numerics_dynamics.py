"""The numpy rollout against a two-step rollout worked out by hand.

    h(t) = act(W_hh h(t-1) + W_uh u(t)),  h(-1) = 0,  y(t) = W_hy h(t)

With N_h = 2, one input and one output, and a W_hh that is not symmetric (so a transposed
W_hh, the usual convention slip, gives different numbers):

    W_uh = [1, 2]^T,  W_hh = [[1/2, 1], [0, -1]],  W_hy = [1, 1],  u(0) = 1,  u(1) = -2

linear:  h(0) = W_uh = [1, 2]                              y(0) = 3
         h(1) = W_hh [1, 2] + W_uh (-2)
              = [1/2 + 2, -2] + [-2, -4] = [1/2, -6]       y(1) = -11/2
tanh:    h(0) = [tanh 1, tanh 2]
         h(1) = tanh([tanh(1)/2 + tanh(2) - 2, -tanh(2) - 4])
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.numerics.simulate import ElmanDynamics, rollout
from emt.numerics.weights import RNNWeights

W_UH = np.array([[1.0], [2.0]])
W_HH = np.array([[0.5, 1.0], [0.0, -1.0]])
W_HY = np.array([[1.0, 1.0]])
U = np.array([[1.0], [-2.0]])            # (T = 2, d_in = 1)

LINEAR_H = np.array([[1.0, 2.0], [0.5, -6.0]])
LINEAR_Y = np.array([[3.0], [-5.5]])
T1, T2 = math.tanh(1.0), math.tanh(2.0)
TANH_H = np.array([[T1, T2], [math.tanh(T1 / 2 + T2 - 2), math.tanh(-T2 - 4)]])
TANH_Y = TANH_H.sum(axis=1, keepdims=True)


def _matches_hand_rollout(weights: RNNWeights, h_hand: np.ndarray, y_hand: np.ndarray) -> bool:
    h, y = rollout(weights, U)
    return bool(np.allclose(h, h_hand, rtol=0, atol=1e-12)
                and np.allclose(y, y_hand, rtol=0, atol=1e-12))


@pytest.mark.parametrize(("activation", "h_hand", "y_hand"),
                         [("linear", LINEAR_H, LINEAR_Y), ("tanh", TANH_H, TANH_Y)])
def test_rollout_matches_the_hand_computed_two_steps(activation, h_hand, y_hand) -> None:
    weights = RNNWeights(W_UH, W_HH, W_HY, activation)
    assert _matches_hand_rollout(weights, h_hand, y_hand)
    # a batch of two: the second sequence is the first negated, and both activations are odd
    h, y = rollout(weights, np.stack([U, -U]))
    np.testing.assert_allclose(h, np.stack([h_hand, -h_hand]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(y, np.stack([y_hand, -y_hand]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_a_wrong_model_fails_the_hand_rollout(activation) -> None:
    hand = {"linear": (LINEAR_H, LINEAR_Y), "tanh": (TANH_H, TANH_Y)}[activation]
    wrong = [RNNWeights(W_UH, W_HH.T, W_HY, activation),          # row-vector convention slip
             RNNWeights(W_UH, W_HH, 1.5 * W_HY, activation),      # wrong readout
             RNNWeights(W_UH, W_HH, W_HY, "tanh" if activation == "linear" else "linear")]
    for weights in wrong:
        assert not _matches_hand_rollout(weights, *hand)


def test_an_initial_state_enters_the_first_step() -> None:
    # h(-1) = [1, 0]: h(0) = W_hh [1, 0] + W_uh = [1/2 + 1, 0 + 2] = [3/2, 2], y(0) = 7/2
    h, y = rollout(RNNWeights(W_UH, W_HH, W_HY, "linear"), U, h_init=np.array([1.0, 0.0]))
    np.testing.assert_allclose(h[0], [1.5, 2.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(y[0], [3.5], rtol=0, atol=1e-12)


class _Counter:
    """A Dynamics written out by hand: x(t) = x(t-1) + u(t), y(t) = 10 x(t)."""

    cell, d_in, d_out, state_dim = "counter", 1, 1, 1

    def initial_state(self, batch: int) -> np.ndarray:
        return np.zeros((batch, 1))

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        return state + u

    def readout(self, state: np.ndarray) -> np.ndarray:
        return 10 * state


def test_rollout_dynamics_iterates_any_state_map() -> None:
    model = _Counter()
    assert isinstance(model, Dynamics) and isinstance(
        ElmanDynamics(RNNWeights(W_UH, W_HH, W_HY)), Dynamics)
    xs, ys = rollout_dynamics(model, np.array([[[1.0], [-2.0], [4.0]]]))
    np.testing.assert_array_equal(xs[0, :, 0], [1.0, -1.0, 3.0])
    np.testing.assert_array_equal(ys[0, :, 0], [10.0, -10.0, 30.0])
    # keep = (1, 2) keeps the first two states and every output
    xs, ys = rollout_dynamics(model, np.ones((2, 3, 1)), keep=(1, 2))
    assert xs.shape == (1, 2, 1) and ys.shape == (2, 3, 1)
    np.testing.assert_array_equal(xs[0, :, 0], [1.0, 2.0])

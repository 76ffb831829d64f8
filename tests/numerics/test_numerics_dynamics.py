"""The Dynamics protocol: an Elman RNN seen as a state map rolls out exactly as `rollout`."""

from __future__ import annotations

import numpy as np

from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.numerics.model import init_weights
from emt.numerics.simulate import ElmanDynamics, rollout


def test_elman_dynamics_matches_rollout() -> None:
    weights = init_weights(16, 3, seed=4)
    model = ElmanDynamics(weights)
    assert isinstance(model, Dynamics)
    u = np.random.default_rng(0).standard_normal((5, 9, 3))
    h, y = rollout(weights, u)
    xs, ys = rollout_dynamics(model, u)
    np.testing.assert_allclose(xs, h, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ys, y, rtol=0, atol=1e-12)
    # a different network gives a different rollout (the comparison can fail)
    other = ElmanDynamics(init_weights(16, 3, seed=5))
    assert not np.allclose(rollout_dynamics(other, u)[1], y)

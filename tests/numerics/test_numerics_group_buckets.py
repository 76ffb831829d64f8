"""Horizon buckets (`numerics.group`): members at different curriculum stages are trained by
separate calls of the compiled step, so none computes a time step it does not use, and each
ends with the weights it gets alone (bit for bit at this size; at N_h 128 the batched products
can sum in another order for another number of members, see `numerics.group_layout`)."""

from __future__ import annotations

import numpy as np

from emt.numerics.group import train_group
from emt.numerics.train import TrainConfig
from emt.theory.registry import get

NAMES = ("W_uh", "W_hh", "W_hy")


def _stages_apart(steps: int = 60) -> list[TrainConfig]:
    """Three members whose thresholds put them at different horizons for most steps."""
    common = dict(hidden=32, batch=16, curriculum=(4, 8, 16), test_horizon=20, test_batches=1)
    return [TrainConfig(task=get("T1"), seed=1, steps=steps, threshold=0.6, **common),
            TrainConfig(task=get("T2"), seed=2, steps=steps, l2=1e-3, threshold=0.9, **common),
            TrainConfig(task=get("T3"), seed=3, steps=steps - 20, lr=3e-3, clip=0.5,
                        threshold=0.55, **common)]


def _time_steps(config: TrainConfig, advances: list[dict], steps: int) -> int:
    """Sum over the member's steps of s + H(step): what it uses, from its curriculum advances."""
    total, H, moves = 0, config.curriculum[0], {a["step"]: a["to_H"] for a in advances}
    for step in range(1, steps + 1):
        total += config.task.s + H
        H = moves.get(step, H)
    return total


def test_members_at_different_stages_compute_only_their_horizon_and_match_alone() -> None:
    configs = _stages_apart()
    group = train_group(configs, progress=False, threads=1)
    assert group.ok
    horizons = {a["to_H"] for r in group.results for a in r.advances}
    assert horizons and group.padded_fraction > 0  # the members' horizons differed
    # No member computed a time step beyond its own horizon.
    assert group.time_steps == sum(_time_steps(c, r.advances, c.steps)
                                   for c, r in zip(configs, group.results, strict=True))
    for config, member in zip(configs, group.results, strict=True):
        alone = train_group([config], progress=False, threads=1).results[0]
        assert member.advances == alone.advances and member.history == alone.history
        for n in NAMES:  # the same float32 operations on the member's rows: equal bits
            np.testing.assert_array_equal(getattr(member.weights, n), getattr(alone.weights, n))

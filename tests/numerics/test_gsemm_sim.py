"""The continuous GSEMM approaches the reduction's discrete map as T_h, T_d -> 0 (T_f = 1)."""

from __future__ import annotations

import numpy as np
import pytest

from emt.numerics.gsemm_sim import (
    GsemmNetwork,
    convergence_table,
    iterate_map,
    random_network,
    simulate_euler_features,
)

# The reduction's limits should hold to this accuracy at the smallest setting.
LIMIT_TOLERANCE = 1e-3
# Both errors are O(T_h + T_d): a decade in T should cut them by about 10; 4 allows for the
# constant in front without accepting a stalled (non-converging) error.
MIN_RATE_PER_DECADE = 4.0

TIMES = (1e-2, 1e-3, 1e-4)


@pytest.fixture(scope="module")
def table():  # type: ignore[no-untyped-def]
    return convergence_table(TIMES, TIMES, steps=6, seed=0).set_index(["T_h", "T_d"])


@pytest.mark.parametrize("column", ["flow_error", "map_error"])
def test_error_falls_with_the_fast_time_constants(table, column: str) -> None:  # type: ignore[no-untyped-def]
    err = table[column]
    for fixed in TIMES:  # along each axis with the other held fixed: never rises
        along_h = [err[(th, fixed)] for th in TIMES]
        along_d = [err[(fixed, td)] for td in TIMES]
        assert along_h == sorted(along_h, reverse=True), (column, "T_h", fixed, along_h)
        assert along_d == sorted(along_d, reverse=True), (column, "T_d", fixed, along_d)
    diagonal = [err[(t, t)] for t in TIMES]
    for big, small in zip(diagonal, diagonal[1:], strict=False):
        assert big / small > MIN_RATE_PER_DECADE, (column, diagonal)
    assert diagonal[-1] < LIMIT_TOLERANCE, (column, diagonal)


def test_the_euler_gap_is_why_the_comparison_object_matters(table) -> None:  # type: ignore[no-untyped-def]
    # The slaved flow's time-1 samples are far from the map: comparing the continuous system
    # with the map directly could never pass, whatever T_h and T_d are.
    assert table["euler_gap"].min() > 100 * LIMIT_TOLERANCE


def test_the_map_of_a_different_network_does_not_match() -> None:
    net = random_network(6, 3, seed=0)
    wrong = GsemmNetwork(net.xi, net.phi.T)  # Phi in place of Phi^T
    v0 = np.random.default_rng(1).standard_normal(6)
    euler = simulate_euler_features(net, v0, 1e-4, 1e-4, steps=4)
    assert np.max(np.abs(euler[1:] - iterate_map(net, v0, 4)[1:])) < LIMIT_TOLERANCE
    assert np.max(np.abs(euler[1:] - iterate_map(wrong, v0, 4)[1:])) > 10 * LIMIT_TOLERANCE


def test_bad_inputs_are_value_errors() -> None:
    with pytest.raises(ValueError, match="N_h x N_h"):
        GsemmNetwork(np.ones((4, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="finite"):
        GsemmNetwork(np.full((4, 2), np.nan), np.ones((2, 2)))
    with pytest.raises(ValueError, match="a_s = a_c = 1"):
        GsemmNetwork(np.ones((4, 2)), np.ones((2, 2)), a_s=2.0).discrete_map(np.zeros(4))
    with pytest.raises(ValueError, match="positive"):
        convergence_table([0.0], [1e-2])
    with pytest.raises(ValueError, match="n_h"):
        random_network(2, 3)

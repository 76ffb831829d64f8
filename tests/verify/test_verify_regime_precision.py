"""The regime and long-horizon descriptors run an Elman net in float32 (verify.regime,
"Precision"): they agree with the same net run in float64 to float32 rounding, fall back to
float64 where float32 would lose the state (a fading net) or the sign of an exactly cancelling
output, and the comparison fails a wrong model or a wrong value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from emt.numerics.data import continue_sequence
from emt.numerics.dynamics import rollout_dynamics
from emt.numerics.simulate import ElmanDynamics
from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
from emt.theory.taskspec import TaskSpec
from emt.verify.effective import effective_analysis
from emt.verify.effective_data import drive, random_windows
from emt.verify.regime import long_horizon, regime
from emt.verify.scoring import decided_sign_accuracy
from emt.verify.tolerances import resolve
from emt.verify.zero_input import SINGLE_RANGE

# Relative agreement of the float32 descriptors with float64 ones: the largest difference
# measured on the N_h = 1024 circuits and PyTorch-style initialisations of repeat-copy-4, T1
# and T2 was 2.6e-6 (benchmarks/RESULTS.md), and the descriptors report 3-4 digits.
FLOAT32_AGREEMENT = 1e-5
TASK = get("repeat-copy-4")


class Float64:
    """The same net as a `Dynamics` that is not an `ElmanDynamics`: run in float64 throughout."""

    def __init__(self, net: ElmanDynamics) -> None:
        self.net, self.cell = net, net.cell
        self.d_in, self.d_out, self.state_dim = net.d_in, net.d_out, net.state_dim

    def initial_state(self, batch: int) -> np.ndarray:
        return self.net.initial_state(batch)

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        return self.net.step(state, u)

    def readout(self, state: np.ndarray) -> np.ndarray:
        return self.net.readout(state)


def _net(task: TaskSpec, n: int, gain: float = 1.0, contraction: float = 1.0,
         activation: str = "linear") -> ElmanDynamics:
    c = Circuit(task, random_psi(task, n, np.random.default_rng(0)))
    return ElmanDynamics(RNNWeights(gain * c.w_uh, gain * contraction * c.w_hh, c.w_hy / gain,
                                    activation=activation))


def _numbers(tree: Any, path: str = "") -> dict[str, Any]:
    """The leaves of a descriptor (numbers and the class) by path."""
    if isinstance(tree, list):
        tree = {f"[{i}]": sub for i, sub in enumerate(tree)}
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items()
                for k, v in _numbers(sub, f"{path}/{key}").items()}
    return {path: tree}


def _descriptors(model: Any, task: TaskSpec, fit: Any) -> dict[str, Any]:
    lh, over = long_horizon(model, task, fit.A, seed=0, horizon=300)
    return _numbers({"regime": regime(model, task, fit.A, fit.A_pinv, seed=0, horizon=200),
                     "long_horizon": lh, "fit_over_time": over})


def _worst(a: dict[str, Any], b: dict[str, Any]) -> float:
    """The largest relative difference of the numbers (inf where anything else differs)."""
    assert a.keys() == b.keys()
    worst = 0.0
    for k in a:
        if isinstance(a[k], float) and isinstance(b[k], float) and a[k] != b[k]:
            worst = max(worst, abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k])))
        elif a[k] != b[k]:
            return float("inf")
    return worst


@pytest.mark.parametrize(("contraction", "activation"), [
    (1.0, "linear"),  # the circuit: linear regime
    (0.97, "linear"),  # a contracting circuit: leaky
    (0.5, "tanh"),  # a fading tanh net: float64 until its states are within 1e-5 of 0
])
def test_float32_descriptors_agree_with_float64(contraction: float, activation: str) -> None:
    net = _net(TASK, 24, 1.0, contraction, activation)
    fit = effective_analysis(_net(TASK, 24), TASK, resolve(), 0).fit
    single, double = _descriptors(net, TASK, fit), _descriptors(Float64(net), TASK, fit)
    worst = _worst(single, double)
    assert 0.0 < worst <= FLOAT32_AGREEMENT  # float32 ran (it rounds), to its rounding only


def test_a_saturating_tanh_net_runs_in_float64() -> None:
    """Gain 3 on a unit-modulus circuit: its step is never affine, and a float32 rounding would
    send its long run to another attractor, so it runs in float64: the same numbers to float64's
    rounding (its row-major copy of the matrices may sum in another order)."""
    net = _net(TASK, 24, gain=3.0, activation="tanh")
    fit = effective_analysis(net, TASK, resolve(), 0).fit
    assert _worst(_descriptors(net, TASK, fit), _descriptors(Float64(net), TASK, fit)) <= 1e-12


def test_the_comparison_fails_a_wrong_model_and_a_wrong_value() -> None:
    net = _net(TASK, 24)
    fit = effective_analysis(net, TASK, resolve(), 0).fit
    double = _descriptors(Float64(net), TASK, fit)
    wrong_model = _descriptors(_net(TASK, 24, contraction=0.999), TASK, fit)
    assert _worst(wrong_model, double) > FLOAT32_AGREEMENT
    wrong_value = dict(_descriptors(net, TASK, fit))
    wrong_value["/regime/decay"] *= 1 + 10 * FLOAT32_AGREEMENT
    assert _worst(wrong_value, double) > FLOAT32_AGREEMENT


def test_a_fading_net_continues_in_float64() -> None:
    """Every mode at 0.5: the loaded states fall to about 1e-60 in 200 steps, below float32's
    range (a pure float32 run ends at exactly 0 and would class the net divergent)."""
    net, unit = _net(TASK, 24, contraction=0.5), _net(TASK, 24)
    fit = effective_analysis(unit, TASK, resolve(), 0).fit
    start = np.ones((1, net.state_dim))
    pure, _ = rollout_dynamics(ElmanDynamics(net.weights, np.float32),
                               np.zeros((1, 200, TASK.d)), state_init=start, dtype=np.float32)
    assert not np.any(pure[:, -1])
    single, double = _descriptors(net, TASK, fit), _descriptors(Float64(net), TASK, fit)
    assert single["/regime/class"] == "leaky" and 0 < single["/regime/amplitude/1"] < \
        SINGLE_RANGE[0]
    assert _worst(single, double) <= FLOAT32_AGREEMENT


def test_exactly_cancelling_outputs_are_scored_as_in_float64() -> None:
    """The T2 circuit driven from its inputs leaves outputs that cancel to 1e-16 in float64
    (no credit: inside the zero band) but to about 1e-7 in float32 (credit by the sign of the
    rounding): the long horizon continues in float64 and scores as float64 does."""
    task = get("T2")
    net = _net(task, 64)
    fit = effective_analysis(net, task, resolve(), 0).fit
    lh, _ = long_horizon(net, task, fit.A, seed=0, horizon=300)
    reference, _ = long_horizon(Float64(net), task, fit.A, seed=0, horizon=300)
    assert lh["sign_accuracy_by_block"] == reference["sign_accuracy_by_block"]
    window = random_windows(task, 8, 0, 8302)  # the long horizon's windows (its private tag)
    _, y = rollout_dynamics(ElmanDynamics(net.weights, np.float32), np.zeros((8, 300, task.d)),
                            state_init=drive(net, window, 0)[:, -1], dtype=np.float32)
    pure = decided_sign_accuracy(y, continue_sequence(task, window, 300))
    assert pure > reference["sign_accuracy"] + 0.05  # what an unguarded float32 run would say

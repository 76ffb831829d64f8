"""The binding part's two shortcuts compute what the plain runs compute: an odd net's Walsh
windows are driven once (its negatives' states are the negated states), and an Elman net's
descriptor runs use row-major copies of its matrices (the same numbers to float64's rounding).
Each comparison fails a wrong model."""

from __future__ import annotations

from typing import Any

import numpy as np

from emt.numerics.simulate import ElmanDynamics
from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
from emt.verify.binding import binding_part
from emt.verify.effective import effective_analysis
from emt.verify.regime import long_horizon, regime
from emt.verify.tolerances import resolve

TASK = get("repeat-copy-4")
# row-major and transposed-view products may sum in another order: float64 rounding, amplified
# at most a few times over the 1,200 steps (measured <= 2.5e-16 at N_h = 1024)
SAME_TO_ROUNDING = 1e-12


class Plain:
    """The same net as a `Dynamics` that is not an `ElmanDynamics`: no shortcut applies."""

    def __init__(self, net: ElmanDynamics) -> None:
        self.net, self.cell = net, net.cell
        self.d_in, self.d_out, self.state_dim = net.d_in, net.d_out, net.state_dim

    def initial_state(self, batch: int) -> np.ndarray:
        return self.net.initial_state(batch)

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        return self.net.step(state, u)

    def readout(self, state: np.ndarray) -> np.ndarray:
        return self.net.readout(state)


def _net(gain: float = 1.5, activation: str = "tanh", bias: float = 0.0) -> ElmanDynamics:
    c = Circuit(TASK, random_psi(TASK, 24, np.random.default_rng(0)))
    b_h = None if bias == 0 else np.full(24, bias)
    return ElmanDynamics(RNNWeights(gain * c.w_uh, gain * c.w_hh, c.w_hy / gain,
                                    activation=activation, b_h=b_h))


def _leaves(tree: Any, path: str = "") -> dict[str, Any]:
    if isinstance(tree, list):
        tree = {f"[{i}]": sub for i, sub in enumerate(tree)}
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items()
                for k, v in _leaves(sub, f"{path}/{key}").items()}
    return {path: tree}


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


def _binding(model: Any, fit: Any) -> tuple[list, dict[str, Any]]:
    checks, descriptors = binding_part(model, TASK, fit, resolve(), 0)
    return [(c.name, c.value, c.passed, c.interval) for c in checks], _leaves(descriptors)


def test_an_odd_net_is_driven_once_with_the_same_result() -> None:
    net = _net()
    fit = effective_analysis(net, TASK, resolve(), 0).fit
    (checks, fast), (plain_checks, plain) = _binding(net, fit), _binding(Plain(net), fit)
    assert checks == plain_checks
    walsh = {k: v for k, v in fast.items() if k.startswith("/walsh/")}
    assert walsh and walsh == {k: v for k, v in plain.items() if k.startswith("/walsh/")}
    assert _worst(fast, plain) <= SAME_TO_ROUNDING


def test_a_net_with_a_bias_is_driven_on_both_halves() -> None:
    """A bias makes the net not odd: its Walsh spectrum has an even part, which the shortcut
    (negated states) would set to exactly 0."""
    net = _net(bias=0.3)
    fit = effective_analysis(net, TASK, resolve(), 0).fit
    _, fast = _binding(net, fit)
    assert fast["/walsh/even"] > 1e-3


def test_row_major_runs_give_the_descriptors_to_rounding_and_fail_a_wrong_model() -> None:
    net = _net(gain=1.0, activation="linear")
    fit = effective_analysis(net, TASK, resolve(), 0).fit

    def descriptors(model: Any) -> dict[str, Any]:
        lh, over = long_horizon(model, TASK, fit.A, seed=0, horizon=300)
        return _leaves({"regime": regime(model, TASK, fit.A, fit.A_pinv, seed=0, horizon=200),
                        "long_horizon": lh, "fit_over_time": over})

    row_major = descriptors(ElmanDynamics(net.weights, contiguous=True))
    assert _worst(row_major, descriptors(net)) <= SAME_TO_ROUNDING
    w = net.weights
    wrong = ElmanDynamics(RNNWeights(w.W_uh, 0.999 * w.W_hh, w.W_hy, "linear"), contiguous=True)
    assert _worst(descriptors(wrong), descriptors(net)) > SAME_TO_ROUNDING

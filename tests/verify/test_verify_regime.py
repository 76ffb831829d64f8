"""The regime descriptor and the other binding descriptors (verify.regime, verify.walsh): the
linear circuit is `linear`, a saturating tanh circuit an `attractor`, a contracting one `leaky`;
the Walsh estimator finds the degree of known functions."""

from __future__ import annotations

import numpy as np
import pytest

from emt.numerics.simulate import ElmanDynamics
from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
from emt.verify.effective import effective_analysis
from emt.verify.regime import long_horizon, regime, regime_class
from emt.verify.tolerances import resolve
from emt.verify.walsh import krawtchouk, walsh_spectrum

TASK = get("repeat-copy-4")


def _model(gain: float = 1.0, activation: str = "linear", contraction: float = 1.0):
    """The circuit with ``gain`` on W_hh and W_uh, W_hh also scaled by ``contraction``."""
    c = Circuit(TASK, random_psi(TASK, 24, np.random.default_rng(0)))
    return ElmanDynamics(RNNWeights(gain * c.w_uh, gain * contraction * c.w_hh, c.w_hy / gain,
                                    activation=activation))


def _regime(model) -> dict:
    fit = effective_analysis(model, TASK, resolve(), 0).fit
    return regime(model, TASK, fit.A, fit.A_pinv, seed=0, horizon=200)


def test_the_linear_circuit_is_linear() -> None:
    r = _regime(_model())
    assert r["class"] == "linear" and r["amplitude_ratio"] == pytest.approx(0.5, abs=1e-9)
    assert r["decay"] == pytest.approx(1.0, abs=1e-9)
    assert set(r["amplitude"]) == {"0.25", "0.5", "0.75", "1", "1.25", "1.5"}


def test_a_saturating_tanh_circuit_is_an_attractor() -> None:
    r = _regime(_model(gain=3.0, activation="tanh"))  # gain 3 on a unit-modulus circuit
    assert r["class"] == "attractor" and r["amplitude_ratio"] > 0.9


def test_a_contracting_circuit_is_leaky() -> None:
    model = _model(contraction=0.97)  # every mode at |lambda| = 0.97: 0.97^200 = 0.002
    fit = effective_analysis(_model(), TASK, resolve(), 0).fit  # the unit circuit's image
    r = regime(model, TASK, fit.A, fit.A_pinv, seed=0, horizon=200)
    assert r["class"] == "leaky" and r["decay"] < 0.5


def test_class_rule_edges() -> None:
    assert regime_class(0.5, 1.0) == "linear" and regime_class(0.74, 1.0) == "linear"
    assert regime_class(0.75, 1.0) == "attractor" and regime_class(0.34, 1.0) == "leaky"
    assert regime_class(1.0, 0.4) == "leaky" and regime_class(float("nan"), 1.0) == "divergent"


def test_long_horizon_and_fit_over_time_of_the_circuit() -> None:
    model = _model()
    fit = effective_analysis(model, TASK, resolve(), 0).fit
    lh, over = long_horizon(model, TASK, fit.A, seed=0, horizon=300)
    assert lh["sign_accuracy"] == 1.0 and len(lh["rms_ratio_by_block"]) == 10
    assert np.allclose(lh["rms_ratio_by_block"], 1.0) and np.allclose(over["r2_by_block"], 1.0)
    bad = _model(contraction=0.97)  # fades: magnitude and fit fall over time
    lh, over = long_horizon(bad, TASK, fit.A, seed=0, horizon=300)
    assert lh["rms_ratio_by_block"][-1] < 0.01 < lh["rms_ratio_by_block"][0]
    assert over["r2_by_block"][-1] == -1.0  # the floor: the states vanished


def test_krawtchouk_is_the_elementary_symmetric_sum() -> None:
    from itertools import combinations

    n = 6
    rng = np.random.default_rng(1)
    u, v = rng.choice([-1, 1], size=(2, n))
    p = u * v
    for k in range(4):
        direct = sum(np.prod(p[list(S)]) for S in combinations(range(n), k))
        assert krawtchouk(k, p.sum(), n) == pytest.approx(direct)


@pytest.mark.parametrize(("name", "degree"), [("constant", 0), ("linear", 1), ("pair", 2),
                                              ("triple", 3)])
def test_walsh_finds_the_degree_of_known_functions(name: str, degree: int) -> None:
    rng = np.random.default_rng(2)
    n, N, D = 16, 1024, 5  # degree-3 noise about sqrt(C(16, 3)) / (N / 2) = 0.05
    u = rng.choice([-1.0, 1.0], size=(N, n))
    mix = rng.standard_normal((4, D))

    def f(v: np.ndarray) -> np.ndarray:
        terms = {"constant": np.ones((len(v), 1)), "linear": v[:, :4],
                 "pair": v[:, :4] * v[:, 4:8], "triple": v[:, :4] * v[:, 4:8] * v[:, 8:12]}
        t = terms[name]
        return t @ mix[: t.shape[1]]

    out = walsh_spectrum(u, f(u), f(-u))
    assert out[f"degree_{degree}"] == pytest.approx(1.0, abs=0.1), out
    others = [out[f"degree_{k}"] for k in range(4) if k != degree]
    assert max(abs(v) for v in others) < 0.1, out
    assert out["even"] == pytest.approx(float(degree % 2 == 0), abs=1e-12)

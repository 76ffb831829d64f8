"""The effective-circuit checks (verify.effective): the circuit and the committed nets that solve
their tasks pass; nets that do not, untrained and wrong-task nets, and a lookup network that
solves its task without a linear embedding of the window fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emt.numerics.model import init_weights
from emt.numerics.rundir import load_run
from emt.numerics.simulate import ElmanDynamics
from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get, repeat_copy
from emt.theory.taskspec import TaskSpec
from emt.verify.effective import EFFECTIVE_CHECKS, effective_analysis, run_effective
from emt.verify.tolerances import resolve

RUNS = Path(__file__).resolve().parents[2] / "results" / "table1-quick" / "runs"
# (task, seed) -> run key of the committed quick-profile runs
COMMITTED = {
    ("T1", 1): "b402cf16b451302c", ("T1", 2): "aedbc4a5a334b6bf", ("T1", 3): "0134ae2b62ff750e",
    ("T2", 1): "52e2cc53669b053c",
    ("T3", 1): "b1da9f5845c6badd", ("T3", 2): "eefb1e7897ee14fb", ("T3", 3): "a96c6f2df3016dcf",
    ("T4", 1): "5530261dc296d717", ("T4", 2): "f9db7cdaaaab1d9e", ("T4", 3): "b7e68694086be324",
}


def _committed(task: str, seed: int) -> tuple[RNNWeights, TaskSpec]:
    w, spec, meta = load_run(RUNS / COMMITTED[(task, seed)] / "run")
    assert spec.label == task and meta["seed"] == seed
    return w, spec


def _verdict(model, task: TaskSpec) -> tuple[bool, dict]:
    checks, descriptors = run_effective(model, task, resolve(), seed=0)
    assert [c.name for c in checks] == list(EFFECTIVE_CHECKS)
    return all(c.passed for c in checks), {c.name: c for c in checks}


def _circuit(task: TaskSpec, n_hidden: int = 24) -> RNNWeights:
    c = Circuit(task, random_psi(task, n_hidden, np.random.default_rng(0)))
    return RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear")


def test_constructed_circuit_passes_exactly() -> None:
    task = get("repeat-copy-4")
    ok, checks = _verdict(ElmanDynamics(_circuit(task)), task)
    assert ok
    assert checks["effective.embedding"].value > 1 - 1e-9
    assert checks["effective.embedding"].interval[0] > 1 - 1e-9  # an exact code: no spread
    assert checks["effective.rank"].metrics["rank"] == 16
    assert checks["effective.even"].value == 0.0  # a bias-free net is odd
    assert checks["effective.tracking"].value < 1e-9
    a = effective_analysis(ElmanDynamics(_circuit(task)), task, resolve(), seed=0)
    assert a.descriptors["effective_step_error"] < 1e-9 and a.coordinates == "h"


@pytest.mark.parametrize(("task", "seed"), [(t, seed) for t in ("T1", "T3", "T4")
                                            for seed in (1, 2, 3)])
def test_committed_nets_that_solve_their_task_pass(task: str, seed: int) -> None:
    w, spec = _committed(task, seed)
    ok, checks = _verdict(ElmanDynamics(w), spec)
    assert ok, {n: (c.value, c.detail) for n, c in checks.items()}


def test_t2_seed_1_which_did_not_learn_fails() -> None:
    w, spec = _committed("T2", 1)  # accuracy 0.742 at H = 200
    ok, checks = _verdict(ElmanDynamics(w), spec)
    assert not ok
    assert not checks["effective.loaded_state"].passed


def test_untrained_and_wrong_task_nets_fail() -> None:
    task = get("T3")
    ok, checks = _verdict(ElmanDynamics(init_weights(64, task.d, seed=0)), task)
    assert not ok and not checks["effective.embedding"].passed
    w, _ = _committed("T3", 1)
    ok, checks = _verdict(ElmanDynamics(w), get("T4"))
    assert not ok  # every check but the even part (zero: a bias-free net is odd) fails
    assert not any(checks[name].passed for name in EFFECTIVE_CHECKS if name != "effective.even")


def test_descriptors_and_figure_data() -> None:
    w, spec = _committed("T4", 1)
    a = effective_analysis(ElmanDynamics(w), spec, resolve(), seed=0)
    d = a.descriptors
    assert 0.5 < d["mean_gain"] < 1 and 0 <= d["saturated_fraction"] < 0.5
    lyap = [d[f"lyapunov_{i}"] for i in range(1, 9)]
    assert lyap == sorted(lyap, reverse=True) and lyap[0] < 0  # contracts onto the embedding
    traj = a.trajectory
    assert traj.decoded.shape == traj.truth.shape == (3 * spec.s + 1, spec.n_slots)
    late = traj.times >= a.t0  # after the window's dead part has vanished
    assert np.corrcoef(traj.decoded[late][:, traj.live].ravel(),
                       traj.truth[late][:, traj.live].ravel())[0, 1] > 0.99


def test_same_seed_same_result_and_bad_input_named() -> None:
    task = repeat_copy(2, 2)
    model = ElmanDynamics(init_weights(16, 2, seed=3))
    a, b = run_effective(model, task, resolve(), seed=5), run_effective(model, task, {}, seed=5)
    assert [c.to_json() for c in a[0]] == [c.to_json() for c in b[0]] and a[1] == b[1]
    with pytest.raises(ValueError, match="d = 3"):
        run_effective(model, repeat_copy(2, 3), resolve())
    with pytest.raises(ValueError, match="Dynamics"):
        run_effective(init_weights(16, 2, seed=3), task, resolve())  # weights, not a Dynamics
    with pytest.raises(ValueError, match="seed"):
        run_effective(model, task, resolve(), seed=-1)
    with pytest.raises(ValueError, match="effective.rank_gap must be finite"):
        run_effective(model, task, {"effective.rank_gap": float("nan")})
    with pytest.raises(ValueError, match="unknown tolerance"):
        run_effective(model, task, {"effective.nonsense": 1.0})


class LookupDynamics:
    """A hand-built network that solves a signed-copy task by table lookup: its state is the
    one-hot code of the sequence read so far (a prefix during the input phase, then the window),
    ``step`` snaps the state to its largest entry and moves to the next code, ``readout`` is the
    newest vector of the code.  It is exact on its task, but its state is not a linear image of
    the window (one-hot codes of the 2^n windows span 2^n dimensions, the window n)."""

    cell = "lookup"

    def __init__(self, task: TaskSpec) -> None:
        self.task = task
        s, d = task.s, task.d
        self.codes: list[tuple[float, ...]] = [()]
        for k in range(1, s + 1):  # every prefix of length k of +-1 vectors
            grid = np.array(np.meshgrid(*[[-1.0, 1.0]] * (k * d), indexing="ij"))
            self.codes += [tuple(c) for c in grid.reshape(k * d, -1).T]
        self.index = {c: i for i, c in enumerate(self.codes)}
        self.d_in = self.d_out = d
        self.state_dim = len(self.codes)
        self.R = np.array([c[-d:] if c else (0.0,) * d for c in self.codes])  # newest vector

    def initial_state(self, batch: int) -> np.ndarray:
        out = np.zeros((batch, self.state_dim))
        out[:, 0] = 1.0
        return out

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        s, d = self.task.s, self.task.d
        F = self.task.F_numeric()
        out = np.zeros_like(state)
        for b, i in enumerate(np.argmax(state, axis=1)):
            code = self.codes[i]
            if len(code) < s * d:  # input phase: append the input's signs
                nxt = code + tuple(np.where(u[b] >= 0, 1.0, -1.0))
            else:  # output phase: the task's next window
                w = np.array(code)
                nxt = tuple(w[d:]) + tuple(w @ F)
            out[b, self.index[nxt]] = 1.0
        return out

    def readout(self, state: np.ndarray) -> np.ndarray:
        return state @ self.R


# staggered-2: x_0(t) = x_0(t-1), x_1(t) = x_1(t-2) (one dead slot)
STAGGERED_2 = TaskSpec(2, 2, [[0, 0], [0, 1], [1, 0], [0, 0]], name="staggered-2")


# Not repeat_copy(2, 1): its window has two bits, and every odd function of two +-1 bits is
# linear (the odd monomials of degree <= 2 are w_1 and w_2), so the odd part of any code of it,
# the one-hot lookup code included, IS a linear image of the window: the claim holds there.
@pytest.mark.parametrize("task", [repeat_copy(2, 2), STAGGERED_2], ids=lambda t: t.label)
def test_lookup_network_solves_its_task_but_fails_the_effective_claim(task: TaskSpec) -> None:
    from emt.numerics.data import continue_sequence
    from emt.numerics.dynamics import rollout_dynamics

    model = LookupDynamics(task)
    rng = np.random.default_rng(0)
    window = rng.choice([-1.0, 1.0], size=(64, task.s, task.d))
    inputs = np.concatenate([window, np.zeros((64, 40, task.d))], axis=1)
    _, y = rollout_dynamics(model, inputs)
    assert np.array_equal(y[:, task.s:], continue_sequence(task, window, 40))  # solves it
    ok, checks = _verdict(model, task)
    assert not ok and not checks["effective.embedding"].passed
    assert checks["effective.embedding"].interval[1] < 0.8  # degree-3 terms of its odd part
    assert not checks["effective.tracking"].passed  # its state leaves the fitted embedding


class StackedStateDynamics:
    """The constructed circuit seen through a two-part state x = (h, c) with c = -2 h, as an
    LSTM-like cell would present it: the checks must find the same circuit."""

    cell = "stacked"

    def __init__(self, weights: RNNWeights) -> None:
        self.w = weights
        self.d_in, self.d_out, self.state_dim = weights.d_in, weights.d_out, 2 * weights.n_hidden

    def initial_state(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.state_dim))

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        h = state[:, : self.w.n_hidden] @ self.w.W_hh.T + u @ self.w.W_uh.T
        return np.concatenate([h, -2.0 * h], axis=1)

    def readout(self, state: np.ndarray) -> np.ndarray:
        return state[:, : self.w.n_hidden] @ self.w.W_hy.T


def test_any_cell_with_a_linear_embedding_passes_and_gain_is_explained() -> None:
    task = get("repeat-copy-3")
    a = effective_analysis(StackedStateDynamics(_circuit(task, 12)), task, resolve(), seed=1)
    assert all(c.passed for c in a.checks)
    assert "mean_gain" not in a.descriptors and "tanh output" in a.notes["gain"]
    # |lambda| = 1 modes: exponent 0, up to the finite-time bias log(cond) / LYAPUNOV_STEPS of
    # the non-orthogonal (h, -2 h) embedding (log(sqrt 5 cond Psi) / 50 < 0.05)
    assert a.descriptors["lyapunov_1"] == pytest.approx(0.0, abs=0.05)


class WeakSlotDynamics(StackedStateDynamics):
    """The circuit with one live slot embedded 1e5 times weaker than the others, plus an extra
    state unit that holds an odd nonlinear function of the state (size 0.05, so it survives in
    the odd part): the readout still decodes every slot (the extra unit is outside range(Psi)),
    R^2 stays near 1, but the weak slot moves the state less than the noise edge of the fit, so
    the numerical rank is r - 1."""

    def __init__(self, weights: RNNWeights) -> None:
        super().__init__(weights)
        self.state_dim = weights.n_hidden + 1

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        h = state[:, : self.w.n_hidden] @ self.w.W_hh.T + u @ self.w.W_uh.T
        extra = 0.05 * np.tanh(3.0 * h.sum(axis=1, keepdims=True)) ** 3
        return np.concatenate([h, extra], axis=1)


def test_rank_check_can_fail_alone() -> None:
    task = get("repeat-copy-3")
    psi = random_psi(task, 12, np.random.default_rng(0))
    psi[:, 0] *= 1e-5  # the oldest slot of dimension 0, barely embedded
    c = Circuit(task, psi)
    model = WeakSlotDynamics(RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear"))
    a = effective_analysis(model, task, resolve(), seed=0).in_h
    emb, rank = a.check_embedding(), a.check_rank()
    assert emb.passed and emb.value > 0.99
    assert rank.metrics["rank"] == 8 and rank.failed
    assert a.check_loaded_state().value == 1.0  # the task itself is still solved


class BrokenDynamics(StackedStateDynamics):
    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        return state[:, :3]


class OverflowingDynamics(StackedStateDynamics):
    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        return 1e30 * (state + np.concatenate([u, u, np.zeros((len(u), self.state_dim - 2 * len(
            u[0])))], axis=1)) + 1.0


def test_broken_and_overflowing_models() -> None:
    task = repeat_copy(2, 1)
    w = _circuit(task, 4)
    with pytest.raises(ValueError, match="step returns shape"):
        run_effective(BrokenDynamics(w), task, resolve())
    checks, descriptors = run_effective(OverflowingDynamics(w), task, resolve())
    assert all(c.passed is False and np.isfinite(c.value) for c in checks)
    assert all(np.isfinite(v) for v in descriptors.values())


def test_lyapunov_exponents_of_the_fibonacci_circuit() -> None:
    """x(t) = x(t-1) + x(t-2): Phi has eigenvalues (1 +- sqrt 5) / 2, each twice (d = 2), so the
    exponents are +-log of the golden ratio; finite-time bias log(cond Psi) / 50 < 0.05."""
    task = get("fibonacci-2")
    a = effective_analysis(ElmanDynamics(_circuit(task, 8)), task, resolve(), seed=0)
    golden = np.log((1 + np.sqrt(5)) / 2)
    lyap = [a.descriptors[f"lyapunov_{i}"] for i in range(1, 5)]
    assert lyap == pytest.approx([golden, golden, -golden, -golden], abs=0.05)
    assert a.descriptors["mean_gain"] == 1.0 and "linear" in a.notes["gain"]


class ShiftedDynamics:
    """The circuit around a shifted operating point: ``x = x_circuit + c`` (what a gated cell
    that carries a constant can do); the step and readout undo the shift."""

    cell = "rnn"

    def __init__(self, weights: RNNWeights, offset: np.ndarray) -> None:
        self.inner, self.c = ElmanDynamics(weights), offset
        self.d_in, self.d_out, self.state_dim = weights.d_in, weights.d_out, len(offset)

    def initial_state(self, batch: int) -> np.ndarray:
        return self.inner.initial_state(batch) + self.c

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        return self.inner.step(state - self.c, u) + self.c

    def readout(self, state: np.ndarray) -> np.ndarray:
        return self.inner.readout(state - self.c)


def test_the_affine_reading_finds_a_shifted_circuit_that_the_claim_refuses() -> None:
    task = get("repeat-copy-4")
    circuit = _circuit(task)
    shifted = ShiftedDynamics(circuit, np.full(circuit.n_hidden, 3.0))
    analysis = effective_analysis(shifted, task, resolve(), seed=0)
    assert not all(c.passed for c in analysis.checks)  # the claim asks for x = A z, no constant
    affine = analysis.affine
    assert affine["embedding_r2_affine"] > 1 - 1e-9
    assert affine["affine_step_error"] < 1e-9 and affine["affine_tracking_error"] < 1e-9
    assert affine["affine_loaded_accuracy"] == 1.0
    # and it is no free pass: an untrained net is no affine circuit either
    untrained = effective_analysis(ElmanDynamics(init_weights(64, task.d, seed=0)), task,
                                   resolve(), seed=0).affine
    assert untrained["embedding_r2_affine"] < 0.95 and untrained["affine_step_error"] > 0.1
    assert untrained["affine_loaded_accuracy"] < 0.95

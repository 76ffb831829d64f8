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
from emt.theory.tasks import TaskSpec, get, repeat_copy
from emt.verify.effective import EFFECTIVE_CHECKS, effective_analysis, run_effective
from emt.verify.tolerances import resolve

RUNS = Path(__file__).resolve().parents[2] / "results" / "table1-quick" / "runs"
# (task, seed) -> run key of the committed quick-profile runs
COMMITTED = {
    ("T1", 1): "b402cf16b451302c", ("T2", 1): "52e2cc53669b053c",
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
    assert checks["effective.embedding"].metrics["rank"] == 16
    assert checks["effective.step"].value < 1e-9
    assert checks["effective.loaded_state"].metrics["tracking_error_max"] < 1e-9


@pytest.mark.parametrize(("task", "seed"), [("T1", 1), ("T3", 1), ("T3", 2), ("T3", 3),
                                            ("T4", 1), ("T4", 2), ("T4", 3)])
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
    assert not ok
    assert not checks["effective.embedding"].passed and not checks["effective.step"].passed


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


@pytest.mark.parametrize("task", [repeat_copy(2, 1), repeat_copy(2, 2), STAGGERED_2],
                         ids=lambda t: t.label)
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
    assert checks["effective.embedding"].value < 0.5

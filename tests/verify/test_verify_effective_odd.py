"""The effective claim on constructed nets: the odd part, both coordinate systems, the transient
rule, the rank against the random-matrix edge, the readout's sign margin at a positive gain and
the inconclusive verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emt.cli import main
from emt.numerics.simulate import ElmanDynamics
from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get, repeat_copy
from emt.theory.taskspec import TaskSpec
from emt.verify.effective import effective_analysis
from emt.verify.embedding import fit_embedding, top_singular_pair
from emt.verify.judge import verify_weights
from emt.verify.tolerances import resolve


def _circuit(task: TaskSpec, n_hidden: int = 12, seed: int = 0) -> RNNWeights:
    c = Circuit(task, random_psi(task, n_hidden, np.random.default_rng(seed)))
    return RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear")


def _windows(task: TaskSpec) -> np.ndarray:
    """Every window a net meets from h = 0: the zero window, the input phase's prefixes (zeros
    in the slots not yet written) and the full windows."""
    s, d = task.s, task.d
    out = [np.zeros(s * d)]
    for k in range(1, s + 1):
        grid = np.array(np.meshgrid(*[[-1.0, 1.0]] * (k * d), indexing="ij"))
        out += [np.r_[np.zeros((s - k) * d), g] for g in grid.reshape(k * d, -1).T]
    return np.array(out)


def preactivation_circuit(task: TaskSpec, n_hidden: int, gain: float) -> RNNWeights:
    """A tanh net whose pre-activation runs the circuit exactly: ``a(t) = g Psi w(t)``,
    ``h = tanh(a)``.  ``W_hh`` is the least-squares map from ``tanh(g Psi w)`` to ``g Psi Phi w``
    over every window the net meets (exact: more units than windows), ``W_hy`` the one to the
    newest slot.  Repeat copy, so that Phi w is also the input phase's shift on prefixes (their
    oldest slot is zero)."""
    n, d = task.n_slots, task.d
    psi = np.random.default_rng(0).standard_normal((n_hidden, n)) / np.sqrt(n)  # unit std rows
    W = _windows(task)
    nxt = np.c_[W[:, d:], W @ task.F_numeric()]  # Phi w
    H = np.tanh(gain * W @ psi.T)
    W_hh = np.linalg.lstsq(H, gain * nxt @ psi.T, rcond=None)[0].T
    W_hy = np.linalg.lstsq(H, W[:, -d:], rcond=None)[0].T
    return RNNWeights(gain * psi[:, -d:], W_hh, W_hy, activation="tanh")


def test_an_exact_preactivation_circuit_holds_in_a_and_fails_in_h() -> None:
    from emt.numerics.data import continue_sequence
    from emt.numerics.dynamics import rollout_dynamics

    task = repeat_copy(2, 2)
    model = ElmanDynamics(preactivation_circuit(task, 128, 3.0))
    window = np.random.default_rng(1).choice([-1.0, 1.0], size=(64, 2, 2))
    _, y = rollout_dynamics(model, np.concatenate([window, np.zeros((64, 40, 2))], axis=1))
    assert np.max(np.abs(y[:, 2:] - continue_sequence(task, window, 40))) < 1e-9  # solves it
    a = effective_analysis(model, task, resolve(), seed=0)
    assert a.coordinates == "a" and all(c.passed for c in a.checks)
    assert a.checks[0].value > 1 - 1e-9 and a.checks[0].detail.startswith("[pre-activation a]")
    h_embedding = a.in_h.check_embedding()
    assert h_embedding.failed and h_embedding.value < 0.95  # tanh(g Psi w): not linear in w
    assert a.descriptors["effective_in_preactivation"] == 1.0


class NonlinearCode:
    """State = tanh(G f(w)) with f(w) the window, its pairwise products w_i w_j and its triple
    products w_i w_j w_k (odd and nonlinear): the net decodes the window from the state
    (G has full column rank), steps it by the task and reads the newest slot.  It solves the
    task, and its state is no linear image of the window (not even its odd part)."""

    cell = "nonlinear-code"

    def __init__(self, task: TaskSpec, n_hidden: int = 48) -> None:
        from itertools import combinations

        self.task, n = task, task.n_slots
        self.terms = [c for k in (1, 2, 3) for c in combinations(range(n), k)]
        self.G = np.random.default_rng(2).standard_normal((n_hidden, len(self.terms)))
        self.G /= np.sqrt(len(self.terms))
        self.G_pinv = np.linalg.pinv(self.G)
        self.d_in = self.d_out = task.d
        self.state_dim = n_hidden

    def encode(self, w: np.ndarray) -> np.ndarray:
        f = np.stack([np.prod(w[:, list(t)], axis=1) for t in self.terms], axis=1)
        return np.tanh(f @ self.G.T)

    def decode(self, x: np.ndarray) -> np.ndarray:
        n = self.task.n_slots
        return np.round(np.arctanh(np.clip(x, -1 + 1e-15, 1 - 1e-15)) @ self.G_pinv.T)[:, :n]

    def initial_state(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.state_dim))

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        d = self.task.d
        w = self.decode(state)
        newest = np.where(np.any(u != 0, axis=1, keepdims=True), u, w @ self.task.F_numeric())
        return self.encode(np.c_[w[:, d:], newest])

    def readout(self, state: np.ndarray) -> np.ndarray:
        return self.decode(state)[:, -self.task.d:]


def test_a_nonlinear_code_that_solves_its_task_fails_the_effective_claim() -> None:
    from emt.numerics.data import continue_sequence
    from emt.numerics.dynamics import rollout_dynamics

    task = repeat_copy(2, 2)
    model = NonlinearCode(task)
    window = np.random.default_rng(0).choice([-1.0, 1.0], size=(32, 2, 2))
    _, y = rollout_dynamics(model, np.concatenate([window, np.zeros((32, 20, 2))], axis=1))
    assert np.array_equal(y[:, 2:], continue_sequence(task, window, 20))
    a = effective_analysis(model, task, resolve(), seed=0)
    assert a.checks[0].name == "effective.embedding" and a.checks[0].failed
    assert "no natural pre-activation" in a.notes["coordinates"]


class ExtraUnit:
    """An Elman net (the circuit) with one more state unit after its N_h; subclasses say what
    the unit holds (``step``) and whether the readout sees it."""

    def __init__(self, weights: RNNWeights) -> None:
        self.inner = ElmanDynamics(weights)
        self.d_in, self.d_out = weights.d_in, weights.d_out
        self.state_dim = weights.n_hidden + 1

    def initial_state(self, batch: int) -> np.ndarray:
        return np.zeros((batch, self.state_dim))


class SlowTransient(ExtraUnit):
    """The circuit plus one unit that the input phase loads with an odd nonlinear function of the
    input (the product of its 3 entries, degree 3) and that then decays by ``rho`` per step:
    a non-memory mode outside the live subspace."""

    cell = "transient"

    def __init__(self, weights: RNNWeights, rho: float, size: float) -> None:
        super().__init__(weights)
        self.rho, self.size = rho, size

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        h = self.inner.step(state[:, :-1], u)
        m = self.rho * state[:, -1:] + self.size * np.prod(u, axis=1, keepdims=True)
        return np.concatenate([h, m], axis=1)

    def readout(self, state: np.ndarray) -> np.ndarray:
        return self.inner.readout(state[:, :-1])


def test_a_slowly_decaying_transient_moves_the_fit_start_later() -> None:
    task = repeat_copy(2, 3)
    w = _circuit(task, 12)
    plain = effective_analysis(ElmanDynamics(w), task, resolve(), seed=0)
    slow = effective_analysis(SlowTransient(w, 0.5, 5.0), task, resolve(), seed=0)
    assert plain.t0 == plain.in_h.t_min  # no transient: the first reachable step
    assert slow.t0 > slow.in_h.t_min
    assert slow.checks[0].metrics["share_at_first_reachable"] > 0.05  # would fail from there
    assert all(c.passed for c in slow.checks)


def test_rank_finds_16_live_directions_at_snr_2_in_1024_units() -> None:
    rng = np.random.default_rng(0)
    N, r, sigma = 1024, 16, 1.0
    A = np.linalg.qr(rng.standard_normal((N, r)))[0] * 2.0 * sigma  # per-direction SNR 2

    def states(batch: int) -> tuple[np.ndarray, np.ndarray]:
        z = rng.choice([-1.0, 1.0], size=(batch, 8, r))
        return z, z @ A.T + sigma * rng.standard_normal((batch, 8, N))

    (z, x), (zh, xh) = states(96), states(48)  # 768 fitted, 384 held-out states
    fit = fit_embedding(z, x, zh, xh, 1.0, 0, 0)
    assert fit.rank == 16 and fit.gap_interval[0] > 1.0
    # the previous rule (the largest held-out residual singular value per sample) sits at
    # sigma (1 + sqrt(N / n)) = 2.6 sigma, above every direction's 2 sigma
    resid = (xh - zh @ fit.A.T).reshape(-1, N)
    old_floor = top_singular_pair(resid)[0] / np.sqrt(len(resid))
    assert np.sum(fit.signal > old_floor) < 16


def test_a_readout_with_gain_0_3_keeps_its_margin_and_passes() -> None:
    task = get("repeat-copy-3")
    w = _circuit(task)
    scaled = RNNWeights(w.W_uh, w.W_hh, 0.3 * w.W_hy, activation="linear")
    report = verify_weights(scaled, task, horizon=40)
    readout = report.check("readout")
    assert readout.passed and readout.value == 1.0
    assert abs(readout.metrics["gain_min"] - 0.3) < 1e-9 and report.verdicts["effective"].holds
    flipped = RNNWeights(w.W_uh, w.W_hh, -0.3 * w.W_hy, activation="linear")
    assert verify_weights(flipped, task, horizon=40).check("readout").failed  # wrong sign


def test_an_interval_straddling_its_bar_is_inconclusive_with_exit_status_1(
        tmp_path: Path) -> None:
    task = get("repeat-copy-3")
    w = _circuit(task)
    noisy = RNNWeights(w.W_uh, w.W_hh, w.W_hy + 0.15 * np.random.default_rng(3).standard_normal(
        w.W_hy.shape), activation="linear")
    path = noisy.save_npz(tmp_path / "noisy.npz")
    value = verify_weights(noisy, task, horizon=40).check("readout").value
    assert 0.5 < value < 1.0  # some outputs miss the margin: the value has a spread
    out = tmp_path / "out"
    code = main(["verify", str(path), "--task", task.label, "--horizon", "40", "--format",
                 "json", "--out", str(out), "--tol", f"readout={value}"])
    doc = json.loads(next(out.glob("*.report.json")).read_text())
    assert code == 1 and doc["verdict"] == "inconclusive"
    assert doc["claims"]["effective"]["verdict"] == "inconclusive"
    readout = next(c for c in doc["checks"] if c["name"] == "readout")
    assert readout["status"] == "inconclusive" and readout["interval"][0] < value


class EvenPart(ExtraUnit):
    """The circuit plus one unit holding an even, window-dependent function of the state,
    ``e = (v . h)^2`` (products such as w_i w_j: even and not constant), added to the readout
    with weight ``seen``."""

    cell = "even"

    def __init__(self, weights: RNNWeights, seen: float) -> None:
        super().__init__(weights)
        self.seen = seen
        self.v = np.random.default_rng(4).standard_normal(weights.n_hidden)

    def step(self, state: np.ndarray, u: np.ndarray) -> np.ndarray:
        h = self.inner.step(state[:, :-1], u)
        return np.concatenate([h, (h @ self.v)[:, None] ** 2], axis=1)

    def readout(self, state: np.ndarray) -> np.ndarray:
        return self.inner.readout(state[:, :-1]) + self.seen * state[:, -1:]


def test_an_even_part_must_be_window_constant_or_unseen_by_the_readout() -> None:
    task = get("repeat-copy-3")
    w = _circuit(task)
    unseen = effective_analysis(EvenPart(w, 0.0), task, resolve(), seed=0).in_h.check_even()
    seen = effective_analysis(EvenPart(w, 0.5), task, resolve(), seed=0).in_h.check_even()
    assert unseen.metrics["even_variance_share"] > 0.05  # it varies with the window ...
    assert unseen.passed and unseen.metrics["even_readout_ratio"] == 0.0  # ... but is unseen
    assert seen.failed and seen.metrics["even_readout_ratio"] > 0.05


def test_assert_emt_takes_the_readout_margin_by_keyword() -> None:
    from emt.verify.entry import assert_emt

    task = get("repeat-copy-3")
    w = _circuit(task)
    report = assert_emt(w, task, horizon=20, readout_margin=0.99)  # the circuit is exact
    assert report.check("readout").metrics["margin"] == 0.99


def test_saturated_units_do_not_decide_the_preactivation_fit() -> None:
    """The zoo's sign-code lookup: its newest block's pre-activation is linear in the window but
    thousands of units large, the older blocks hold a sign code (about 75 % linear).  Weighed
    by raw variance the pre-activation fit would pass (R^2 > 0.999); in the knee-scaled
    coordinates every unit counts at most as a unit-RMS one, and the claim fails in both."""
    from emt.experiments.zoo.construct import lookup
    from emt.verify.preactivation import PreactivationDynamics, knee_scale

    task = get("repeat-copy-4")
    w = lookup(task, seed=1)
    model = ElmanDynamics(RNNWeights(w["W_uh"], w["W_hh"], w["W_hy"], activation="tanh"))
    a = effective_analysis(model, task, resolve(), seed=0)
    assert a.in_a is not None and a.in_a.fit.r2 < 0.95 and a.in_h.fit.r2 < 0.95
    assert not all(c.passed for c in a.checks)
    # the mechanism: the same fit in unscaled pre-activation coordinates is dominated
    raw = PreactivationDynamics(model)
    run = a.in_h.transient_run
    scale = knee_scale(raw.of_states(run.odd))
    assert scale.max() > 1e3 and np.sum(scale > 1.0) == len(scale)  # all units past the knee
    odd = raw.of_states(run.odd)[:, 1:1 + a.in_h.span].reshape(-1, len(scale))
    z = a.live.of_windows(run.windows[:, 1:1 + a.in_h.span]).reshape(-1, a.live.rank)
    resid = odd - z @ np.linalg.lstsq(z, odd, rcond=None)[0]
    assert 1 - resid.var(0).sum() / odd.var(0).sum() > 0.999


def test_the_knee_scaled_view_runs_the_same_trajectories() -> None:
    from emt.numerics.dynamics import rollout_dynamics
    from emt.verify.preactivation import PreactivationDynamics

    model = ElmanDynamics(preactivation_circuit(repeat_copy(2, 2), 64, 3.0))
    scale = np.random.default_rng(3).uniform(1.0, 5.0, 64)
    u = np.zeros((8, 12, 2))
    u[:, :2] = np.random.default_rng(4).choice([-1.0, 1.0], size=(8, 2, 2))
    h, y = rollout_dynamics(model, u, keep=(8, 12))
    a, ya = rollout_dynamics(PreactivationDynamics(model, scale), u, keep=(8, 12))
    assert np.max(np.abs(np.tanh(a * scale) - h)) < 1e-12 and np.max(np.abs(ya - y)) < 1e-12
    # the output phase (zero input) converts back: a = atanh(h) / scale
    back = PreactivationDynamics(model, scale).of_states(h[:, 2:])
    assert np.max(np.abs(back - a[:, 2:])) < 1e-6


def test_binding_edits_the_state_the_effective_fit_was_made_in() -> None:
    """An exact pre-activation circuit at gain 3 holds the effective claim in ``a`` only; its
    interventions are then made on ``a`` with ``a``'s fitted columns (and hold)."""
    report = verify_weights(preactivation_circuit(repeat_copy(2, 2), 128, 3.0),
                            repeat_copy(2, 2), claim="binding")
    checks = {c.name: c for c in report.checks}
    assert report.descriptors["effective_in_preactivation"] == 1.0
    assert "columns in the pre-activation a" in checks["binding.interchange"].detail
    assert checks["binding.interchange"].passed and checks["binding.ablation"].passed


def test_the_interventions_act_at_the_fit_start_after_the_transient() -> None:
    """Before the transient rule's start the state still holds a decaying mode outside the
    live image; the binding claim's edits are made where the embedding was fitted."""
    from emt.verify.binding import binding_part

    task = repeat_copy(2, 3)
    model = SlowTransient(_circuit(task, 12), 0.5, 5.0)
    fit = effective_analysis(model, task, resolve(), seed=0).fit
    assert fit.t0 > task.s  # the first reachable step is s for repeat copy (nu = 1)
    checks, _ = binding_part(model, task, fit, resolve(), 0)
    assert [c.detail.split("t0 = ")[1].split()[0].rstrip(",:") for c in checks] == \
        [str(fit.t0)] * 2
    assert all(c.passed for c in checks)

"""The binding claim (verify.interventions via verify.binding): the exact circuit holds it (every
interchange lands, ablation leaves nothing), a committed trained net holds it, and untrained,
wrong-task, lookup and saturating nets fail it."""

from __future__ import annotations

import json
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
from emt.verify.binding import binding_part
from emt.verify.effective import effective_analysis
from emt.verify.interventions import BINDING_CHECKS, independent_targets, slot_frame
from emt.verify.judge import verify_weights
from emt.verify.tolerances import resolve

ROOT = Path(__file__).resolve().parents[2]
T1_SEED_1 = ROOT / "results" / "t1-seeds" / "seed-1"  # T1, N_h 128, accuracy 0.9999 at H = 200
T3_SEED_1 = ROOT / "results" / "table1-quick" / "runs" / "b1da9f5845c6badd" / "run"


def _circuit(task: TaskSpec, n_hidden: int = 24, gain: float = 1.0,
             activation: str = "linear") -> RNNWeights:
    """The circuit with ``gain`` on W_hh and W_uh (a tanh net saturates for gain > 1)."""
    c = Circuit(task, random_psi(task, n_hidden, np.random.default_rng(0)))
    return RNNWeights(gain * c.w_uh, gain * c.w_hh, c.w_hy / gain, activation=activation)


def _binding(model, task: TaskSpec, seed: int = 0) -> tuple[dict, dict]:
    fit = effective_analysis(model, task, resolve(), seed).fit
    checks, descriptors = binding_part(model, task, fit, resolve(), seed)
    assert [c.name for c in checks] == list(BINDING_CHECKS)
    return {c.name: c for c in checks}, descriptors


def test_slot_frame_reads_the_live_slots() -> None:
    t2 = slot_frame(get("T2"))
    assert t2.rule == "unit rows" and len(t2.live) == 36
    w = np.random.default_rng(0).choice([-1.0, 1.0], size=(5, 64))
    from emt.theory.effective import live_coordinates

    pi_w = w @ live_coordinates(get("T2")).projector.T
    assert np.allclose(t2.values(w) @ t2.to_window.T, pi_w)  # Pi w = V y
    assert np.allclose(t2.values(w), w[:, t2.live])  # y = w_L on the cycles
    assert independent_targets(get("T1")) == 64 and independent_targets(get("T2")) == 36
    # a task whose live part is not aligned with slots: Phi = [[1, 1], [1, 1]] (s = 1, d = 2)
    mixed = TaskSpec(1, 2, [[1, 1], [1, 1]], name="mixed")
    frame = slot_frame(mixed)
    assert frame.rule == "pivoted" and len(frame.live) == 1
    pi = live_coordinates(mixed).projector
    assert np.allclose(frame.values(w[:, :2]) @ frame.to_window.T, w[:, :2] @ pi.T)


@pytest.mark.parametrize("task", ["repeat-copy-4", "staggered-4", "T1"])
def test_the_exact_circuit_holds_binding_and_ablation_leaves_chance(task: str) -> None:
    spec = get(task)
    n_hidden = spec.n_slots + 8
    checks, _ = _binding(ElmanDynamics(_circuit(spec, n_hidden)), spec)
    iia, abl = checks["binding.interchange"], checks["binding.ablation"]
    if task == "staggered-4":  # its input phase cannot write the window: the circuit fails
        assert not iia.passed and iia.value < 0.9
        return
    assert iia.passed and iia.value == 1.0 and iia.metrics["flipped_entries"] > 100
    assert all(iia.metrics[f"iia_variable_{k}"] == 1.0 for k in range(spec.s))
    # the state is all live image: ablated, the readout gets exactly nothing (no decided output)
    assert abl.passed and abl.metrics["decided"] == 0 and abl.metrics["accuracy"] == 0.5


def test_a_committed_trained_net_holds_binding() -> None:
    w, spec, _ = load_run(T1_SEED_1)
    report = verify_weights(w, spec, claim="binding", subject="t1-seeds/seed-1")
    assert report.passed and report.verdicts["binding"].holds
    iia = report.check("binding.interchange")
    assert iia.value >= 0.99, iia.detail
    doc = report.to_json()
    assert doc["claims"]["binding"]["checks"] == ["generalisation", "binding.interchange",
                                                  "binding.ablation"]
    regime = doc["descriptors"]["regime"]
    assert {"amplitude_ratio", "class"} <= set(regime) and regime["class"] in (
        "linear", "attractor", "leaky", "divergent")
    json.dumps(doc, allow_nan=False)
    assert "regime.amplitude_ratio" in report.to_markdown()


def test_untrained_and_wrong_task_nets_fail_binding() -> None:
    task = get("T3")
    checks, _ = _binding(ElmanDynamics(init_weights(64, task.d, seed=0)), task)
    assert not checks["binding.interchange"].passed
    assert checks["binding.interchange"].value < 0.7
    w, spec, _ = load_run(T3_SEED_1)
    assert spec.label == "T3"
    checks, _ = _binding(ElmanDynamics(w), get("T4"))
    assert not checks["binding.interchange"].passed
    assert checks["binding.interchange"].value < 0.7


def test_a_lookup_net_that_solves_its_task_fails_binding() -> None:
    import importlib.util

    spec_ = importlib.util.spec_from_file_location(
        "lookup", Path(__file__).with_name("test_verify_effective.py"))
    module = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module)  # the hand-built LookupDynamics of the effective tests
    task = repeat_copy(2, 2)
    checks, _ = _binding(module.LookupDynamics(task), task)
    assert not checks["binding.interchange"].passed, checks["binding.interchange"].detail


def test_a_saturating_circuit_fails_binding_and_is_an_attractor() -> None:
    task = get("T1")
    model = ElmanDynamics(_circuit(task, 72, gain=3.0, activation="tanh"))
    checks, descriptors = _binding(model, task)
    assert not checks["binding.interchange"].passed
    assert descriptors["regime"]["class"] == "attractor"
    assert descriptors["regime"]["amplitude_ratio"] > 0.9


def test_cli_claim_binding_and_all_select_the_exit_status(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    from emt.cli import main

    task = get("repeat-copy-3")
    p = _circuit(task, 12).save_npz(tmp_path / "c.npz")
    base = ["verify", str(p), "--task", "repeat-copy-3", "--ground", "input",
            "--tol", "spectrum.modulus=1e-30"]  # the linear claim fails, the others hold
    assert main([*base, "--claim", "binding"]) == 0
    assert main([*base, "--claim", "all"]) == 1
    assert main([*base, "--claim", "binding", "--tol", "binding.interchange=1.5"]) == 1
    out = capsys.readouterr().out
    assert "* Binding (the live-slot subspaces are causally the variables): HOLDS" in out
    assert "binding.interchange" in out and "regime.class" in out


def test_the_oblique_swap_is_the_one_consistent_with_the_fit() -> None:
    # with a non-orthogonal Psi the orthogonal projection onto one variable's columns drags in
    # the others, so only the oblique swap (the fit's own read-out) lands every interchange
    task = get("repeat-copy-4")
    for orthonormal in (False, True):
        psi = random_psi(task, 20, np.random.default_rng(0))
        c = Circuit(task, np.linalg.qr(psi)[0] if orthonormal else psi)
        model = ElmanDynamics(RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear"))
        fit = effective_analysis(model, task, resolve(), 0).fit
        values = {p: binding_part(model, task, fit, resolve(), 0, projection=p)[0][0]
                  for p in ("oblique", "orthogonal")}
        assert values["oblique"].value == 1.0 and values["oblique"].metrics["oblique"] == 1.0
        assert (values["orthogonal"].value == 1.0) is orthonormal
    with pytest.raises(ValueError, match="projection must be one of"):
        binding_part(model, task, fit, resolve(), 0, projection="diagonal")

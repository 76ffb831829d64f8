"""The calibration zoo's constructed nets (emt/experiments/zoo, docs/zoo.md).

The constructors and trainers must not share code with the checks they calibrate: no module of
the zoo but the harness imports `emt.verify` (read from the source, function-level imports
included).  The committed nets are what the generator builds from their manifest recipes, and
each family does what it is built to do, measured by the zoo's own rollout.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from emt.experiments.zoo import construct
from emt.experiments.zoo.members import CONSTRUCTED, build_weights, kind_of
from emt.experiments.zoo.taskdata import SOLVES_ACCURACY, get_task, phi_of, task_accuracy

ROOT = Path(__file__).resolve().parents[2]
ZOO_SRC = ROOT / "emt" / "experiments" / "zoo"
ZOO = ROOT / "results" / "zoo"
HARNESS = {"calibrate.py", "bar_table.py"}  # the zoo modules that may read the verifier


def _imported_modules(path: Path) -> set[str]:
    mods = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module)
            mods.update(f"{node.module}.{a.name}" for a in node.names)
    return mods


def test_zoo_builders_do_not_import_the_verifier():
    builders = [p for p in sorted(ZOO_SRC.glob("*.py")) if p.name not in HARNESS]
    assert {p.name for p in builders} >= {"construct.py", "taskdata.py", "members.py",
                                          "build.py", "torch_train.py", "rates.py", "report.py"}
    for path in builders:
        bad = {m for m in _imported_modules(path)
               if m == "emt.verify" or m.startswith("emt.verify.")
               or m.startswith("emt.theory.circuit")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_the_import_reader_sees_a_verify_import(tmp_path):
    # the check above is not vacuous: a function-level import is found
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from emt.verify.judge import verify_subject\n")
    assert "emt.verify.judge" in _imported_modules(f)


def test_phi_moves_the_window_by_the_task_recurrence():
    task = get_task("staggered-4")
    rng = np.random.default_rng(0)
    w = rng.choice([-1.0, 1.0], size=task.s * task.d)
    F = np.array(task.F.tolist(), dtype=float)
    nxt = phi_of(task) @ w
    np.testing.assert_array_equal(nxt[: -task.d], w[task.d:])
    np.testing.assert_array_equal(nxt[-task.d:], F.T @ w)


@pytest.mark.parametrize("task", ["repeat-copy-4", "reverse-copy-4"])
def test_each_family_does_what_it_is_built_to_do(task):
    spec = get_task(task)
    assert task_accuracy(construct.circuit_h(spec, 64, 3), spec, 7) == 1.0
    assert task_accuracy(construct.lookup(spec, 3), spec, 7) == 1.0
    one_hot = construct.one_hot_lookup(spec, 3)
    assert task_accuracy(one_hot, spec, 7) == 1.0 and np.any(one_hot["b_h"] != 0)
    circuit = construct.circuit_h(spec, 64, 3)
    assert task_accuracy(construct.shuffled(circuit, 4), spec, 7) < 0.7
    assert task_accuracy(construct.untrained(spec, 64, 3), spec, 7) < 0.7


def test_the_circuit_in_h_is_psi_phi_psi_plus():
    spec = get_task("reverse-copy-4")
    w = construct.circuit_h(spec, 64, 5)
    # W_hh's nonzero spectrum is Phi's: 16 eigenvalues of modulus 1
    eig = np.linalg.eigvals(w["W_hh"])
    assert np.sum(np.abs(eig) > 0.5) == 16
    np.testing.assert_allclose(np.sort(np.abs(eig))[-16:], 1.0, atol=1e-9)


def test_a_task_that_composes_while_loading_is_refused():
    with pytest.raises(ValueError, match="composes inside the input phase"):
        construct.circuit_h(get_task("staggered-4"), 64, 1)


def test_labels():
    assert kind_of("circuit-h", "construct", 1.0, False) == "positive"
    assert kind_of("circuit-h", "construct", 1.0, True) == "null"  # wrong task
    assert kind_of("circuit-a", "construct", SOLVES_ACCURACY - 0.01, False) == "null"
    assert kind_of("lookup", "construct", 1.0, False) == "null"
    assert kind_of("stop-at-1", "torch", 0.99, False) == "positive"


def _manifest() -> dict:
    return json.loads((ZOO / "manifest.json").read_text(encoding="utf-8"))


def test_committed_constructed_nets_rebuild_from_their_recipes():
    members = [m for m in _manifest()["members"]
               if m["trainer"] == "construct" and m["family"] != "wrong-task"]
    assert {m["recipe"]["id"] for m in members} == set(CONSTRUCTED)
    sample = members[:: max(1, len(members) // 8)]  # eight of the sixty-odd nets
    for m in sample:
        rebuilt = build_weights(CONSTRUCTED[m["recipe"]["id"]])
        with np.load(ZOO / m["file"], allow_pickle=False) as z:
            for name in ("W_uh", "W_hh", "W_hy"):
                np.testing.assert_allclose(z[name], rebuilt[name], rtol=0, atol=1e-12,
                                           err_msg=f"{m['id']}: {name}")


def test_manifest_entries_are_consistent():
    data = _manifest()
    ids = [m["id"] for m in data["members"]]
    assert len(ids) == len(set(ids))
    for m in data["members"]:
        assert m["kind"] in ("positive", "null")
        assert m["trainer"] in ("construct", "torch", "emt-train")
        assert (ZOO / m["file"]).exists(), m["file"]
        get_task(m["task"])
        assert isinstance(m["seed"], int) and m["command"]

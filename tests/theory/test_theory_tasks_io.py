"""Task files (`theory.tasks.load`), the id encoding and `is_linearly_solvable`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from emt.theory import registry
from emt.theory.solvability import Solvability, is_linearly_solvable
from emt.theory.task_files import load
from emt.theory.taskspec import TaskSpec, from_ids, to_ids


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_toml_with_fractions(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "t.toml",
        'name = "half"\ns = 2\nd = 1\nF = [["1/2"], [0.25]]\n',
    )
    task = load(path)
    assert (task.s, task.d, task.name) == (2, 1, "half")
    assert list(task.F) == [sp.Rational(1, 2), sp.Rational(1, 4)]


def test_load_json_with_ids_matches_registry(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.json", json.dumps({"s": 3, "d": 3, "ids": [7, 0, 0]}))
    assert load(path).same_task(registry.get("repeat-copy-3"))


def test_load_reads_what_to_json_writes(tmp_path: Path) -> None:
    task = registry.get("T4")
    path = _write(tmp_path, "t4.json", json.dumps(task.to_json()))
    loaded = load(path)
    assert loaded.same_task(task) and loaded.ids == task.ids


def test_load_unknown_suffix_accepts_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, "task.txt", "s = 1\nd = 1\nF = [[-1]]\n")
    assert load(path).F[0, 0] == -1


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.toml", "d = 1\nF = [[1]]\n", "missing field 's'"),
        ("b.toml", "s = 1\nd = 1\n", "missing field 'F'"),
        ("c.toml", "s = 1\nd = 1\nF = [[1]]\ncolour = 3\n", "unknown field"),
        ("d.toml", 's = "two"\nd = 1\nF = [[1]]\n', "field 's' must be a positive integer"),
        ("e.toml", 's = 1\nd = 1\nF = [["abc"]]\n', "'abc' is not a number"),
        ("f.toml", "s = 1\nd = 1\nF = [[1, 2]]\n", "shape"),
        ("g.toml", "s = 1\nd = = 1\n", "malformed TOML"),
        ("h.json", '{"s": 1, "d": 1, "F": [[1]]', "malformed JSON"),
        ("i.json", "[1, 2]", "expected a table"),
        ("j.json", '{"s": 2, "d": 2, "ids": [3, 0, 0], "F": [[0,0],[0,0],[1,0],[0,1]]}',
         "define different tasks"),
        ("k.json", '{"s": 2, "d": 2, "ids": [1, 0, 0]}', "exactly d=2 set bits"),
        ("l.txt", "{{{ nonsense", "neither valid JSON"),
        ("m.json", '{"s": 1, "d": 1, "F": [[NaN]]}', "finite"),
    ],
)
def test_load_rejects_bad_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load(_write(tmp_path, name, text))


def test_load_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load(tmp_path / "nope.toml")
    with pytest.raises(ValueError, match="not a regular file"):
        load(tmp_path)


@pytest.mark.parametrize(
    ("s", "d", "ids", "message"),
    [
        (2, 2, (1, 0, 0), "exactly d=2 set bits"),
        (2, 2, (0b10001, 0, 0), "at or beyond s\\*d"),
        (2, 3, (7, 2 * 3**1, 0), "out of range"),
        (2, 2, (3, 0, 4), "sign bit"),
    ],
)
def test_from_ids_rejects_bad_ids(s: int, d: int, ids: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_ids(s, d, ids)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_taskspec_rejects_non_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        TaskSpec(1, 1, [[bad]])


def test_taskspec_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match="rows"):
        TaskSpec(2, 2, [[1, 0], [0, 1]])


@st.composite
def valid_ids(draw: st.DrawFn) -> tuple[int, int, tuple[int, int, int]]:
    s = draw(st.integers(1, 6))
    d = draw(st.integers(1, 6))
    slots = draw(st.lists(st.integers(0, s * d - 1), min_size=d, max_size=d, unique=True))
    id1 = sum(1 << c for c in slots)
    id2 = sum(draw(st.integers(0, d - 1 - p)) * d**p for p in range(d))
    id3 = draw(st.integers(0, 2**d - 1))
    return s, d, (id1, id2, id3)


@given(valid_ids())
def test_to_ids_inverts_from_ids(case: tuple[int, int, tuple[int, int, int]]) -> None:
    s, d, ids = case
    assert to_ids(from_ids(s, d, ids)) == ids


# -- linear solvability ------------------------------------------------------------------------

EXPECTED_SOLVABLE = {
    "T1": True,
    "T2": False,
    "T3": False,
    "T4": False,
    "repeat-copy-3": True,
    "repeat-copy-4": True,
    "reverse-copy-4": True,
    "staggered-4": False,
    "fibonacci-2": False,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_SOLVABLE))
def test_linear_solvability_of_registered_tasks(name: str) -> None:
    verdict = is_linearly_solvable(registry.get(name))
    assert isinstance(verdict, Solvability)
    assert bool(verdict) is EXPECTED_SOLVABLE[name] is verdict.solvable
    assert (verdict.first_violation is None) is verdict.solvable
    if not verdict.solvable:
        t, tau = verdict.first_violation
        assert f"K({t},{tau})" in verdict.reason


def test_staggered_first_violation_is_the_first_output() -> None:
    # x_j(4) = u_j(j): the lag-4 response to u(0) is e0 e0^T, to u(3) at lag 4 (t = 7) it is 0.
    verdict = is_linearly_solvable(registry.get("staggered-4"))
    assert verdict.first_violation == (4, 0)


def _lti_simulation_matches(task: TaskSpec, horizon: int) -> bool:
    """Oracle: the circuit with Psi = I driven from h = 0 through the input phase (an LTI RNN)
    reproduces the target for every unit input (the targets are linear in the inputs)."""
    from emt.theory.charpoly import phi

    s, d = task.s, task.d
    w_hh = phi(task)
    w_uh = sp.zeros(s * d, d)
    w_uh[(s - 1) * d :, :] = sp.eye(d)
    for tau in range(s):
        for i in range(d):
            xs = [sp.zeros(d, 1) for _ in range(s)]
            xs[tau][i] = 1
            h = sp.zeros(s * d, 1)
            for t in range(s + horizon):
                u = xs[t] if t < s else sp.zeros(d, 1)
                h = w_hh * h + w_uh * u
                if t >= s:
                    xs.append(task.F.T * sp.Matrix.vstack(*xs[t - s : t]))
                    if h[(s - 1) * d :, :] != xs[t]:
                        return False
    return True


@pytest.mark.parametrize("name", ["repeat-copy-3", "reverse-copy-4", "staggered-4", "fibonacci-2"])
def test_solvability_agrees_with_simulating_the_circuit(name: str) -> None:
    task = registry.get(name)
    assert is_linearly_solvable(task).solvable == _lti_simulation_matches(task, 3 * task.s)

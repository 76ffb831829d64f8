"""`emt tasks` and `emt derive`, called in-process through the dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emt import cli
from emt.theory import documents

FAKE_DOCS = {"index.md": "# Derivations\n", "gsemm-energy.md": "# E\n", "tasks/T1.md": "# T1\n"}


@pytest.fixture
def fake_documents(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Stand in for the (slow) real document build; the real one is tested under `derive`."""
    monkeypatch.setattr(documents, "build_documents", lambda: dict(FAKE_DOCS))
    return FAKE_DOCS


def test_tasks_table_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in ("T1", "T4", "fibonacci-2"):
        assert f"| {name} " in out
    assert "36/64" in out


def test_tasks_json_for_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tasks", "--ids", "3", "3", "7", "0", "0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["phi_size"] == [9, 9]
    assert data["charpoly_factored"] == "(lambda**3 - 1)**3"
    assert data["nonzero_eigenvalues"] == 9 and data["linearly_solvable"] is True
    assert data["F"][0] == ["1", "0", "0"]


def test_tasks_from_a_task_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fib.toml"
    path.write_text('s = 2\nd = 1\nF = [[1], [1]]\nname = "fib1"\n')
    assert cli.main(["tasks", "--task-file", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "fib1" and data["charpoly"] == "lambda**2 - lambda - 1"
    assert data["linearly_solvable"] is False


def test_tasks_human_readable_for_t2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tasks", "--task", "T2"]) == 0
    out = capsys.readouterr().out
    assert "characteristic polynomial: lambda**28 * (lambda - 1) * (lambda**2 - 1)" in out
    assert "nonzero eigenvalues: 36 of 64" in out and "linearly solvable: no (K(8,0)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tasks", "--task", "T9"], "unknown task 'T9'"),
        (["tasks", "--ids", "2", "2", "1", "0", "0"], "exactly d=2 set bits"),
        (["tasks", "--task-file", "/nonexistent/task.toml"], "does not exist"),
    ],
)
def test_tasks_bad_input_exits_2(argv: list[str], message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_tasks_file_with_text_in_a_number_field(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"s": 1, "d": 1, "F": [["one"]]}')
    assert cli.main(["tasks", "--task-file", str(path)]) == 2
    assert "'one' is not a number" in capsys.readouterr().err


def test_derive_writes_then_check_passes(tmp_path: Path, fake_documents: dict[str, str]) -> None:
    out = tmp_path / "derivations"
    assert cli.main(["derive", "--out", str(out)]) == 0
    assert (out / "tasks" / "T1.md").read_text() == "# T1\n"
    assert cli.main(["derive", "--out", str(out), "--check"]) == 0


def test_derive_check_names_drift(tmp_path: Path, fake_documents: dict[str, str],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d"
    assert cli.main(["derive", "--out", str(out)]) == 0
    (out / "gsemm-energy.md").write_text("# edited by hand\n")
    (out / "tasks" / "T1.md").unlink()
    (out / "tasks" / "old.md").write_text("stale\n")
    capsys.readouterr()
    assert cli.main(["derive", "--out", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert "differ: gsemm-energy.md" in err
    assert "missing: tasks/T1.md" in err
    assert "extra: tasks/old.md" in err
    # writing repairs all three (the stale generated task file is removed)
    assert cli.main(["derive", "--out", str(out)]) == 0
    assert cli.main(["derive", "--out", str(out), "--check"]) == 0
    assert not (out / "tasks" / "old.md").exists()


def test_derive_check_of_a_missing_directory_fails(tmp_path: Path,
                                                   fake_documents: dict[str, str]) -> None:
    assert cli.main(["derive", "--out", str(tmp_path / "none"), "--check"]) == 1
    assert not (tmp_path / "none").exists()


def test_derive_into_a_file_exits_2_and_writes_nothing(
    tmp_path: Path, fake_documents: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["derive", "--out", str(blocker)]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert cli.main(["derive", "--out", str(blocker / "sub")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.derive
def test_committed_derivations_are_up_to_date_and_deterministic() -> None:
    first = documents.build_documents()
    assert first == documents.build_documents()  # byte for byte, within one process
    committed = Path(__file__).resolve().parents[2] / "derivations"
    assert cli.main(["derive", "--out", str(committed), "--check"]) == 0
    assert set(first) >= {"gsemm-energy.md", "reduction.md", "tasks/T1.md", "tasks/T4.md"}
    t2 = first["tasks/T2.md"]
    assert "36 of 64 eigenvalues are nonzero" in t2 and "**Not solvable**" in t2

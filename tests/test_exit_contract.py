"""The exit-status contract of every verb: 2 for bad input or environment (one stderr line,
nothing written), 3 for an internal error (one line; the traceback only with --debug), one-line
argparse errors.  Verify's 0/1 are covered by the verify tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emt.cli import EXIT_BAD_INPUT, EXIT_INTERNAL, main

# One bad input per verb, each refused before anything is written.  "FILE" becomes a regular
# file, "OUT" a path that must stay absent.
BAD_INPUT = {
    "tasks": ["tasks", "--ids", "100000", "1", "1", "0", "0"],
    "derive": ["derive", "--out", "FILE/sub"],
    "train": ["train", "--task", "T1", "--hidden", str(10**12), "--out", "OUT"],
    "verify": ["verify", "FILE", "--task", "T1", "--horizon", "1000000000", "--out", "OUT"],
    "demo": ["demo", "--hidden", str(10**12), "--out", "OUT"],
    "sweep": ["sweep", "FILE", "--out", "OUT"],
    "reproduce table1": ["reproduce", "table1", "--aggregate-only", "--out", "FILE"],
    "reproduce input-phase": ["reproduce", "input-phase", "--aggregate-only", "--out",
                              "FILE/sub"],
    "reproduce figures": ["reproduce", "figures", "--sweep", "OUT", "--out", "FILE"],
}
# The library function each verb's command calls first, to make it raise a bug.
ENTRY = {
    "tasks": ("emt.commands.theory", "run_tasks"),
    "derive": ("emt.commands.theory", "run_derive"),
    "train": ("emt.commands.train", "run_train"),
    "verify": ("emt.commands.verify", "run_verify"),
    "demo": ("emt.commands.verify", "run_demo"),
    "sweep": ("emt.commands.experiments", "_cmd_sweep"),
    "reproduce table1": ("emt.commands.experiments", "_cmd_table1"),
    "reproduce input-phase": ("emt.commands.experiments", "_cmd_input_phase"),
    "reproduce figures": ("emt.commands.experiments", "_cmd_figures"),
}


def _argv(tmp_path: Path, argv: list[str]) -> list[str]:
    (tmp_path / "FILE").write_text("not what was asked for\n")
    return [str(tmp_path / a) if a.split("/")[0] in ("FILE", "OUT") else a for a in argv]


@pytest.mark.parametrize("verb", sorted(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, verb) -> None:
    argv = _argv(tmp_path, BAD_INPUT[verb])
    before = sorted(os.listdir(tmp_path))
    assert main(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"emt {verb}: error: ")
    assert sorted(os.listdir(tmp_path)) == before
    assert (tmp_path / "FILE").read_text() == "not what was asked for\n"


@pytest.mark.parametrize("verb", sorted(ENTRY))
def test_internal_error_is_exit_3_with_the_traceback_only_under_debug(
        tmp_path, capsys, monkeypatch, verb) -> None:
    import importlib

    module, name = ENTRY[verb]

    def buggy(args):
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    monkeypatch.setattr(importlib.import_module(module), name, buggy)
    argv = _argv(tmp_path, BAD_INPUT[verb])
    assert main(argv) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"emt {verb}: internal error: TypeError") and "--debug" in err
    assert main([*argv, "--debug"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "buggy" in err


@pytest.mark.parametrize(("exc", "needle"), [
    (PermissionError(13, "Permission denied", "/some/out"), "/some/out: Permission denied"),
    (FileExistsError(17, "File exists", "/some/out"), "File exists"),
    (OSError(28, "No space left on device"), "No space left"),
    (MemoryError(), "out of resources (MemoryError)"),
    (RecursionError("maximum recursion depth exceeded"), "out of resources"),
])
def test_environment_errors_are_exit_2(monkeypatch, capsys, exc, needle) -> None:
    import emt.commands.theory as theory_cmd

    def fails(args):
        raise exc

    monkeypatch.setattr(theory_cmd, "run_tasks", fails)
    assert main(["tasks"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err


@pytest.mark.parametrize("argv", [
    ["tasks", "--ids", "1", "2"],
    ["no-such-verb"],
    ["verify", "--format", "pdf", "x.npz"],
    ["train", "--hidden", "many", "--task", "T1", "--out", "x"],
    ["reproduce"],
    [],
])
def test_argparse_errors_are_one_line_exit_2(capsys, argv) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "error:" in err

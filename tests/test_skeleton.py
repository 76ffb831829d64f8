"""The package skeleton: the CLI dispatcher and what importing a layer pulls in."""

from __future__ import annotations

import subprocess
import sys

import pytest

from emt import cli

EVERY_COMMAND = ("tasks", "derive", "train", "verify", "demo", "sweep", "reproduce")


def test_help_lists_every_registered_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    registered = set(cli.build_parser()._subparsers._group_actions[0].choices)  # type: ignore
    assert registered == set(EVERY_COMMAND)
    missing = [c for c in EVERY_COMMAND if f"    {c} " not in out and f"    {c}\n" not in out]
    assert missing == [], f"emt --help does not list {missing}:\n{out}"


@pytest.mark.parametrize("package", ["emt.theory", "emt.verify"])
def test_package_import_does_not_import_tensorflow(package: str, tmp_path) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({package!r}); "
        "importlib.import_module('emt.cli').build_parser(); "
        "sys.exit(1 if 'tensorflow' in sys.modules else 0)"
    )
    # outside the repository, so its folders cannot stand in for the installed package
    run = subprocess.run([sys.executable, "-c", code], check=False, cwd=tmp_path)
    assert run.returncode == 0

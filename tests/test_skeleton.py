"""The package skeleton: the CLI dispatcher and the layering rules of DESIGN.md."""

from __future__ import annotations

import subprocess
import sys

import pytest

from emt import cli


def test_help_lists_every_registered_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "COMMAND" in capsys.readouterr().out


@pytest.mark.parametrize("package", ["theory", "verify"])
def test_package_import_does_not_import_tensorflow(package: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({package!r}); "
        "importlib.import_module('emt.cli').build_parser(); "
        "sys.exit(1 if 'tensorflow' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

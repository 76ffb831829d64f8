"""Every registered task (`emt tasks`) trains with `emt train --task NAME` and default settings:
its default configuration passes validation and two training steps run without overflow,
writing a run record that is standard JSON (no NaN or Infinity)."""

from __future__ import annotations

import json

import pytest

from emt.cli import main
from emt.theory.registry import names


def _no_constants(token: str):
    raise AssertionError(f"model.json holds {token}, which is not standard JSON")


@pytest.mark.parametrize("name", names())
def test_a_registered_task_trains_with_default_settings(tmp_path, capsys, name) -> None:
    out = tmp_path / "run"
    code = main(["train", "--task", name, "--steps", "2", "--quiet", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    record = json.loads((out / "model.json").read_text(), parse_constant=_no_constants)
    assert record["status"] == "finished" and record["metrics"]["steps_done"] == 2
    assert all(h["loss"] is not None for h in record["history"])

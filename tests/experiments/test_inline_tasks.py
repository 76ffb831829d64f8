"""Inline tasks in a sweep grid follow the task-file rule (one parser for every task table)."""

from __future__ import annotations

import pytest

from emt.experiments.sweep_config import parse_sweep_config
from emt.theory.registry import repeat_copy
from emt.theory.task_files import parse_task_table


def _grid(task: dict) -> dict:
    return {"grid": {"task": [task], "hidden": [8], "l2": [0.0], "threshold": [0.9],
                     "seed": [1]}}


def test_inline_task_accepts_ids_and_F_together_when_they_agree() -> None:
    table = {"s": 2, "d": 2, "ids": [3, 0, 0], "F": [[1, 0], [0, 1], [0, 0], [0, 0]]}
    config = parse_sweep_config(_grid(table))
    task = parse_task_table(table)
    assert task.same_task(repeat_copy(2, 2)) and config.jobs[0]["task"] == task.to_json()


@pytest.mark.parametrize(("table", "message"), [
    ({"s": 2, "d": 2, "ids": [3, 0, 0], "F": [[0, 1], [1, 0], [0, 0], [0, 0]]},
     "define different tasks"),
    ({"s": 2, "d": 2}, "missing field 'F'"),
    ({"s": 2, "d": 2, "F": [[1, 0]], "colour": "red"}, "unknown field"),
])
def test_inline_task_errors_are_the_task_file_errors(table: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as from_sweep:
        parse_sweep_config(_grid(table))
    with pytest.raises(ValueError, match=message):
        parse_task_table(table)
    assert "inline task" in str(from_sweep.value)

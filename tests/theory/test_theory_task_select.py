"""`theory.tasks.select`: the one place the CLI turns --task / --task-file into a TaskSpec."""

from __future__ import annotations

from pathlib import Path

import pytest

from emt.theory import registry, task_files, taskspec


def test_select_by_name_and_by_file(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('s = 1\nd = 2\nF = [["1", "0"], ["0", "-1/2"]]\n')
    assert task_files.select("repeat-copy-3", None).same_task(registry.repeat_copy(3, 3))
    loaded = task_files.select(None, path)
    assert loaded is not None and loaded.F[1, 1] == taskspec.exact_number("-1/2")
    assert task_files.select(None, None) is None


def test_select_rejects_both_and_unknown(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        task_files.select("T1", tmp_path / "t.toml")
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        task_files.select("nope", None)

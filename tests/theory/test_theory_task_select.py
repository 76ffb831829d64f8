"""`theory.tasks.select`: the one place the CLI turns --task / --task-file into a TaskSpec."""

from __future__ import annotations

from pathlib import Path

import pytest

from emt.theory import tasks


def test_select_by_name_and_by_file(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('s = 1\nd = 2\nF = [["1", "0"], ["0", "-1/2"]]\n')
    assert tasks.select("repeat-copy-3", None).same_task(tasks.repeat_copy(3, 3))
    loaded = tasks.select(None, path)
    assert loaded is not None and loaded.F[1, 1] == tasks.exact_number("-1/2")
    assert tasks.select(None, None) is None


def test_select_rejects_both_and_unknown(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        tasks.select("T1", tmp_path / "t.toml")
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        tasks.select("nope", None)

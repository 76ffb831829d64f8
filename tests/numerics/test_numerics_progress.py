"""The progress display: drawn on a terminal, silent otherwise."""

from __future__ import annotations

import io

from emt.core.progress import Progress


def test_progress_draws_on_a_terminal_and_nothing_elsewhere() -> None:
    term = io.StringIO()
    with Progress("work", 5, stream=term, force_terminal=True) as bar:
        assert bar.active
        bar.update(5, "status text")
    assert "work" in term.getvalue() and "5/5" in term.getvalue()
    assert "status text" in term.getvalue()
    for kwargs in ({}, {"enabled": False, "force_terminal": True}):
        pipe = io.StringIO()  # not a terminal (a log file, a pipe), or --quiet
        with Progress("work", 5, stream=pipe, **kwargs) as bar:
            assert not bar.active
            bar.update(3, "status text")
        assert pipe.getvalue() == ""

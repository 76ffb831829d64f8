"""One progress display for long work (training steps, sweep jobs), drawn by `rich`.

It draws only on a terminal: redirected to a file or a pipe, or with ``enabled=False`` (the
commands' ``--quiet``), it prints nothing, so logs and captured output stay clean.  `rich` is
already a dependency of Keras; we use it instead of hand-written carriage-return lines because it
handles terminal width, redraw throttling and the final line.
"""

from __future__ import annotations

import sys
from typing import IO, Any

__all__ = ["Progress"]


class Progress:
    """A bar for ``total`` units of work with a free-text ``status`` after it.

    Use as a context manager; `update` sets the completed count and the status text (cheap:
    `rich` redraws at most a few times a second from its own thread).  ``stream`` defaults to
    stderr; ``force_terminal`` overrides `rich`'s terminal detection (tests draw into a buffer).
    """

    def __init__(self, description: str, total: int, *, enabled: bool = True,
                 stream: IO[str] | None = None, force_terminal: bool | None = None) -> None:
        self._bar: Any = None
        self._task: Any = None
        if not enabled:
            return
        # rich is imported only when a bar is wanted: quiet runs and workers never load it
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        console = Console(file=stream if stream is not None else sys.stderr,
                          force_terminal=force_terminal)
        if not console.is_terminal:
            return
        self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
                                 TimeElapsedColumn(), console=console)
        self._task = self._bar.add_task(description, total=total, status="")

    @property
    def active(self) -> bool:
        """Whether anything is drawn (a terminal, and not disabled)."""
        return self._bar is not None

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()  # leaves the final state on screen

    def update(self, completed: int, status: str = "") -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=completed, status=status)

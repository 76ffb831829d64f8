"""Output directories a command creates, and their removal when the command fails.

The exit-status contract says a refused or failed command leaves nothing behind.  Most refusals
come before anything is written, but some failures can only happen later: memory runs out, the
disk fills (ENOSPC), a file-size limit (``ulimit -f``, EFBIG) is hit, an environment variable is
read when TensorFlow starts.  `created_top` names, before the command runs, the topmost
directory of an output path that does not exist yet: everything below it is the command's own
work.  `discard` removes that directory again after a failure, unless ``keep`` says another
process is using something in it (a run directory locked by another live writer that got there
between our ``mkdir`` and our lock).  Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

__all__ = ["created_top", "discard"]


def created_top(path: str | os.PathLike) -> Path | None:
    """The topmost ancestor of ``path`` (``path`` included) that does not exist yet, or
    ``None`` when ``path`` exists (or a non-directory is in the way: nothing will be made)."""
    try:
        path = Path(os.path.abspath(path))
        if os.path.lexists(path):
            return None
        top = path
        for parent in path.parents:
            if os.path.lexists(parent):
                return top if parent.is_dir() else None
            top = parent
    except (OSError, ValueError):  # a name the system refuses: the command will refuse it too
        return None
    return top  # pragma: no cover - the root always exists


def discard(top: Path | None, keep: Callable[[Path], bool] = lambda _: False) -> bool:
    """Remove the directory ``top`` that the failed command created (see `created_top`),
    with everything in it, unless ``keep(d)`` holds for ``top`` or a directory below it.
    Returns whether it was removed.  Never raises: the command's own error is what is
    reported."""
    if top is None or not top.is_dir() or top.is_symlink():
        return False
    with contextlib.suppress(OSError):
        for dirpath, _dirs, _files in os.walk(top):
            if keep(Path(dirpath)):
                return False
        shutil.rmtree(top)
        return True
    return False

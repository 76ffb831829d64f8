"""Atomic writing: a file appears whole or not at all, never half-written.

Every writer goes through a temporary file in the target's directory, flushed and fsync'ed, then
``os.replace`` (atomic on POSIX within one filesystem), so a reader never sees a torn file and a
killed writer leaves at most a hidden ``.NAME.*.tmp`` behind, never a corrupted ``NAME``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from emt.core.safe_io import standard_json

__all__ = ["atomic_write_bytes", "atomic_write_text", "write_json"]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename,
    so a reader never sees a half-written file.  Returns ``Path(path)``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; give the file the permissions a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """`atomic_write_bytes` of ``text`` as UTF-8, newlines written as ``\\n`` on every OS."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, value: Any, *, indent: int | None = 2,
               sort_keys: bool = True, **kwargs: Any) -> Path:
    """Write ``value`` as standard JSON (`standard_json`: no NaN or Infinity, non-finite floats
    become ``null``; ``kwargs`` go to ``json.dumps``) plus a final newline, atomically."""
    text = standard_json(value, indent=indent, sort_keys=sort_keys, **kwargs)
    return atomic_write_text(path, text + "\n")

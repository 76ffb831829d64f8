"""Atomic writing: a file appears whole or not at all, never half-written.

Every writer goes through a temporary file in the target's directory, flushed and fsync'ed, then
``os.replace`` (atomic on POSIX within one filesystem), so a reader never sees a torn file and a
killed writer leaves at most a hidden temporary file behind, never a corrupted ``NAME``.

The temporary file is ``.NAME.HOST-PID.XXXXXXXX.tmp`` (``HOST`` a hash of the host name, ``PID``
the writer's process id).  A writer killed with SIGKILL cannot remove its own, so every writer
that succeeds clears the stale ones in its directory: those of this pattern whose writer is a
dead process on this host, or that nobody has written to for ``STALE_TMP_AGE_S`` (a writer on
another host sharing the directory, a reused pid; a temporary of the earlier pattern
``.NAME.XXXXXXXX.tmp``, which records no pid).  A live writer's file is never touched: its pid
is alive and it is younger than that.  Files of any other pattern are left alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from emt.core.safe_io import standard_json

__all__ = ["atomic_write_bytes", "atomic_write_text", "write_json", "clear_stale_temporaries",
           "STALE_TMP_AGE_S"]

# A temporary file untouched this long belongs to no live writer: our largest file (a 512 MiB
# checkpoint at the limits) is written and fsync'ed in seconds to minutes, and a writer only
# leaves it behind when killed.
STALE_TMP_AGE_S = 3600.0
# This host, as the 8 hex digits of a CRC-32 of its name (a name may hold dots and be long).
_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"
_TMP = re.compile(r"\.(?P<name>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]{1,10})\.[^./]+\.tmp")
# The pattern before host and pid were recorded (mkstemp's 8 characters only): cleared by age.
_OLD_TMP = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # alive and another user's / not a pid: keep
        return True
    return True


def clear_stale_temporaries(directory: str | os.PathLike[str], now: float | None = None
                            ) -> list[Path]:
    """Remove the temporary files of killed writers in ``directory`` (see the module
    docstring); returns the paths removed.  Never raises."""
    now = time.time() if now is None else now
    removed = []
    with contextlib.suppress(OSError), os.scandir(os.fspath(directory)) as entries:
        for entry in entries:
            match = _TMP.fullmatch(entry.name)
            if (match is None and _OLD_TMP.fullmatch(entry.name) is None
                    or not entry.is_file(follow_symlinks=False)):
                continue
            with contextlib.suppress(OSError):
                pid = int(match["pid"]) if match else os.getpid()
                dead = (match is not None and match["host"] == _HOST and pid != os.getpid()
                        and not _pid_alive(pid))
                if dead or now - entry.stat(follow_symlinks=False).st_mtime > STALE_TMP_AGE_S:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename,
    so a reader never sees a half-written file.  Returns ``Path(path)``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_HOST}-{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
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
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            # a failed write() names no file ("File too large"): name the one being written
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    clear_stale_temporaries(path.parent)
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

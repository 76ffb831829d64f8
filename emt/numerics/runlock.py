"""An exclusive lock on a run directory: ``RUN_DIR/.lock`` holding the owner's pid and host.

Two writers of one run directory would interleave their files (one run's ``model.json`` next
to the other's ``weights.npz``), and both would report success.  Every writer takes the lock
first; a second one gets a ``RunLockedError`` (a ``ValueError``: exit status 2) naming the
holder.

The lock holds one JSON line ``{"pid", "host", "since"}``.  It appears with its content in one
step: the line is written to a private file ``.lock.<pid>-<thread>.tmp`` first, then hard-linked
to ``.lock`` (``link`` fails if the name exists: atomic on local and NFSv3+ filesystems).  A
lock created empty and filled afterwards would let a competitor that reads it in between see
"an unknown process" instead of the holder.  A lock is *stale* when its host is this
host and its pid is no longer alive (a writer killed with SIGKILL): it is removed and taken.
A lock from another host cannot be checked from here; the refusal says which host and pid hold
it, and that deleting the file is safe once that process is gone.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_FILE", "RunLockedError", "acquire", "release", "locked", "holder",
           "is_lock_file", "held_by_another"]

LOCK_FILE = ".lock"


def is_lock_file(name: str) -> bool:
    """Whether a file name in a run directory belongs to the lock (the lock or a writer's
    private file before it is linked)."""
    return name == LOCK_FILE or (name.startswith(LOCK_FILE + ".") and name.endswith(".tmp"))


class RunLockedError(ValueError):
    """The run directory is locked by another live writer."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    except (OverflowError, ValueError):
        return False
    return True


def holder(run_dir: str | os.PathLike) -> dict | None:
    """The lock's content (``pid``, ``host``, ``since``), ``{}`` if unreadable, or ``None`` when
    the directory is not locked."""
    path = Path(run_dir) / LOCK_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return {}
    try:
        data = json.loads(text[:4096])
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _is_stale(info: dict) -> bool:
    pid, host = info.get("pid"), info.get("host")
    if host != socket.gethostname() or not isinstance(pid, int) or isinstance(pid, bool):
        return False
    return pid != os.getpid() and not _pid_alive(pid)


def _link_or_create(private: Path, path: Path, payload: str) -> None:
    """Make ``path`` appear holding ``payload``; FileExistsError if it exists.  Hard links are
    the atomic way; a filesystem without them gets an exclusive create and a write (a
    competitor may then briefly read the lock empty)."""
    try:
        os.link(private, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                             errno.EMLINK):
            raise
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload + "\n")


def acquire(run_dir: str | os.PathLike) -> Path:
    """Take the lock of an existing directory ``run_dir``; ``RunLockedError`` if another live
    writer holds it (a stale lock of a dead process on this host is replaced)."""
    path = Path(run_dir) / LOCK_FILE
    payload = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                          "since": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")})
    private = path.with_name(f"{LOCK_FILE}.{os.getpid()}-{threading.get_ident()}.tmp")
    private.write_text(payload + "\n", encoding="utf-8")
    try:
        for _attempt in range(3):
            try:
                _link_or_create(private, path, payload)
                return path
            except FileExistsError:
                info = holder(run_dir)
                if info is None:
                    continue  # released between our link and read: try again
                if _is_stale(info):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    continue
                who = (f"process {info.get('pid')} on host {info.get('host')} (since "
                       f"{info.get('since')})" if info else "an unknown process")
                raise RunLockedError(
                    f"{run_dir}: locked by {who}, which is writing this run; wait for it, or "
                    f"delete {path} if that process is gone") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            private.unlink()
    raise RunLockedError(f"{run_dir}: could not take the lock {path} (another writer keeps "
                         "taking it)")


def held_by_another(run_dir: str | os.PathLike) -> bool:
    """Whether ``run_dir`` is locked by a writer other than this process that may be alive
    (a lock from another host, or an unreadable one, counts: it cannot be checked)."""
    info = holder(run_dir)
    if info is None:
        return False
    mine = info.get("pid") == os.getpid() and info.get("host") == socket.gethostname()
    return not mine and not _is_stale(info)


def release(run_dir: str | os.PathLike) -> None:
    """Remove the lock if this process holds it."""
    info = holder(run_dir)
    if info and info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            (Path(run_dir) / LOCK_FILE).unlink()


@contextlib.contextmanager
def locked(run_dir: str | os.PathLike) -> Iterator[Path]:
    """``with locked(run_dir):`` hold the lock for the block."""
    path = acquire(run_dir)
    try:
        yield path
    finally:
        release(run_dir)

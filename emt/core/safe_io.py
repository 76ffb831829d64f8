"""Reading and writing files within the limits of `emt.core.limits`.

* `open_regular` opens a path for reading only if it is a regular file (a FIFO named
  ``x.npz`` would block ``open()`` forever; a device would never end), checked on the open
  descriptor itself (``O_NONBLOCK``, then ``fstat``), so a swap between check and open cannot
  slip through.
* `read_text` reads a UTF-8 text file of at most ``MAX_TEXT_FILE_BYTES`` (or a tighter bound).
* `parse_json` / `parse_toml` refuse container nesting deeper than ``MAX_NESTING`` before the
  recursive parsers see the text (100,000 ``[`` crash them with RecursionError).
* `standard_json` writes standard JSON only: NaN and infinities become ``null`` (RFC 8259 has no
  token for them; Python's default ``NaN``/``Infinity`` break other readers).
* `check_output_path` tells, before any work, whether a file or directory can be created at a
  path: every existing ancestor must be a directory and the nearest one writable.

Every problem is a ``ValueError`` naming the path.  Standard library only.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import tomllib
from pathlib import Path
from typing import IO, Any

from emt.core.limits import limit, raise_hint

__all__ = ["open_regular", "read_text", "nesting_depth", "parse_json", "parse_toml",
           "json_clean", "standard_json", "read_json", "check_output_path"]


def open_regular(path: str | os.PathLike, what: str = "file") -> IO[bytes]:
    """Open ``path`` for binary reading if it is a regular file (links are followed)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ValueError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"{what} {path} is not a regular file (it is a directory)") from None
    except OSError as exc:
        raise ValueError(f"{what} {path} cannot be opened ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                    else "a socket" if stat.S_ISSOCK(mode) else "a device"
                    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "something else")
            raise ValueError(f"{what} {path} is not a regular file (it is {kind})")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_text(path: str | os.PathLike, what: str = "file",
              bound: str = "MAX_TEXT_FILE_BYTES") -> str:
    """The UTF-8 text of a regular file of at most limit ``bound`` bytes (checked on the open
    file's size before a byte is read)."""
    cap = limit(bound)
    with open_regular(path, what) as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > cap:
            raise ValueError(f"{what} {path} is {size} bytes, above the limit {cap} "
                             f"({bound}; {raise_hint(bound)})")
        data = fh.read(cap + 1)
    if len(data) > cap:  # grew while we read it
        raise ValueError(f"{what} {path} is above the limit of {cap} bytes ({bound})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} {path}: not UTF-8 text ({exc.reason})") from None


def nesting_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON or TOML text, skipping quoted strings and
    TOML comments.  Linear time, no recursion.  (A bracket inside a TOML multi-line string is
    counted, which can only overstate the depth: a refusal, never a crash.)"""
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if (c == '"' and text[j] == "\\") else 1
            i = j + 1
            continue
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def _check_nesting(text: str, where: str) -> None:
    cap = limit("MAX_NESTING")
    depth = nesting_depth(text)
    if depth > cap:
        raise ValueError(f"{where}: nested {depth} levels deep, above the limit {cap} "
                         f"(MAX_NESTING; {raise_hint('MAX_NESTING')})")


def _parse(loads: Any, kind: str, text: str, where: str) -> Any:
    """``loads(text)`` within ``MAX_NESTING``; ValueError naming ``where`` when malformed."""
    _check_nesting(text, where)
    try:
        return loads(text)
    except RecursionError:  # pragma: no cover - the depth check above comes first
        raise ValueError(f"{where}: nested too deeply") from None
    except ValueError as exc:  # a decode error, or an integer of more than 4300 digits
        raise ValueError(f"{where}: malformed {kind}: {exc}") from None


def parse_json(text: str, where: str) -> Any:
    """``json.loads`` within ``MAX_NESTING``; ValueError naming ``where`` when malformed."""
    return _parse(json.loads, "JSON", text, where)


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """`read_text` then `parse_json`: a regular file within ``MAX_FILE_BYTES``, JSON within
    ``MAX_NESTING``; ValueError naming ``path`` otherwise."""
    return parse_json(read_text(path, what), str(path))


def parse_toml(text: str, where: str) -> Any:
    """``tomllib.loads`` within ``MAX_NESTING``; ValueError naming ``where`` when malformed."""
    return _parse(tomllib.loads, "TOML", text, where)


def json_clean(value: Any) -> Any:
    """A copy of ``value`` with every non-finite float replaced by ``None`` (tuples become
    lists; numpy scalars and arrays become Python numbers and lists)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_clean(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return json_clean(value.tolist())
    return value


def standard_json(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of `json_clean` ``(value)`` with ``allow_nan=False``: standard JSON."""
    return json.dumps(json_clean(value), allow_nan=False, **kwargs)


def check_output_path(path: str | os.PathLike, what: str = "--out",
                      directory: bool = True) -> Path:
    """Check, writing nothing, that ``path`` can be created or written: it is a directory (or
    a file, ``directory=False``) or absent (not a dangling symbolic link), every existing
    ancestor is a directory and the nearest existing one (or ``path`` itself) is writable.
    Returns ``Path(path)``."""
    path = Path(path)
    for link in [path, *path.parents]:
        # A dangling link "exists" to lexists only: mkdir and open refuse it, after the work.
        if link.is_symlink() and not link.exists():
            raise ValueError(f"{what} {path}: {link} is a symbolic link to "
                             f"{os.readlink(link)}, which does not exist")
    if path.exists():
        if directory and not path.is_dir():
            raise ValueError(f"{what} {path}: exists and is not a directory")
        if not directory and path.is_dir():
            raise ValueError(f"{what} {path}: is a directory, not a file")
        target = path if path.is_dir() else path.parent
    else:
        target = path.parent
        while not target.exists():
            if target == target.parent:
                break
            target = target.parent
        for parent in [path, *path.parents]:
            if parent.exists() and not parent.is_dir():
                raise ValueError(f"{what} {path}: {parent} is not a directory")
    target = target if str(target) else Path(".")
    if not os.access(target, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path}: {target} is not writable "
                         f"({os.strerror(errno.EACCES)})")
    return path

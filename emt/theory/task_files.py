"""Reading a user task file (TOML or JSON) into a `TaskSpec`.

A task file is one table with the fields

    s = 3                       # positive integer
    d = 2                       # positive integer
    F = [[1, 0], ["1/2", 0], [0, 0], [0, 0], [0, 0], [0, "-3/7"]]   # (s d) x d, numbers/fractions
    ids = [3, 0, 0]             # or the authors' triple instead of F (both: they must agree)
    name = "my-task"            # optional

Anything else is rejected, so a typo does not silently change the task.  This is the one parser
of a task table: task files, inline tasks in sweep grids and run records all go through
`parse_task_table`, so one rule holds everywhere (``F`` and ``ids`` together must agree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emt.core.limits import check_at_most
from emt.core.safe_io import parse_json, parse_toml, read_text
from emt.theory.registry import get
from emt.theory.taskspec import TaskSpec, from_ids

__all__ = ["load", "select", "parse_task_table", "TASK_FILE_FIELDS"]

TASK_FILE_FIELDS = ("s", "d", "F", "ids", "name")


def _parse_text(text: str, path: Path) -> Any:
    where = f"task file {path}"
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return parse_toml(text, where)
    if suffix == ".json":
        return parse_json(text, where)
    # Unknown suffix: accept either format, report both failures.
    try:
        return parse_json(text, where)
    except ValueError as json_exc:
        try:
            return parse_toml(text, where)
        except ValueError as toml_exc:
            raise ValueError(
                f"{where}: neither valid JSON ({str(json_exc).removeprefix(where + ': ')}) nor "
                f"valid TOML ({str(toml_exc).removeprefix(where + ': ')})"
            ) from None


def parse_task_table(data: Any, where: str = "task") -> TaskSpec:
    """Build a `TaskSpec` from an already parsed table (see the module docstring)."""

    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a table of fields, got {type(data).__name__}")
    unknown = sorted(set(data) - set(TASK_FILE_FIELDS))
    if unknown:
        raise ValueError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; allowed: "
            f"{', '.join(TASK_FILE_FIELDS)}"
        )
    for key in ("s", "d"):
        if key not in data:
            raise ValueError(f"{where}: missing field {key!r}")
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: field {key!r} must be a positive integer, got {value!r}")
    # What s and d declare is bounded before anything of that size is built (F from ids, or
    # the exact matrix of F's entries).
    check_at_most(f"{where}: s*d (the size of Phi)", data["s"] * data["d"], "MAX_SLOTS")
    check_at_most(f"{where}: s*d*d (the entries of F)", data["s"] * data["d"] ** 2,
                  "MAX_F_ENTRIES")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"{where}: field 'name' must be a string, got {name!r}")
    ids = data.get("ids")
    F = data.get("F")
    if F is None and ids is None:
        raise ValueError(f"{where}: missing field 'F' (or 'ids'): one of them defines the task")
    by_ids = None
    if ids is not None:
        if not isinstance(ids, list) or len(ids) != 3:
            raise ValueError(f"{where}: field 'ids' must be a list of three integers, got {ids!r}")
        by_ids = from_ids(data["s"], data["d"], ids, name=name)
    if F is None:
        assert by_ids is not None
        return by_ids
    if not isinstance(F, list):
        raise ValueError(f"{where}: field 'F' must be a list of rows, got {type(F).__name__}")
    task = TaskSpec(data["s"], data["d"], F, name=name)
    if by_ids is not None:
        if not task.same_task(by_ids):
            raise ValueError(f"{where}: fields 'F' and 'ids' {by_ids.ids} define different tasks")
        return by_ids
    return task


def load(path: str | Path) -> TaskSpec:
    """Read a task file (TOML for ``.toml``, JSON for ``.json``, else whichever parses).

    Raises ``ValueError`` naming the problem: missing file, malformed file, missing or unknown
    fields, text in a number field, a wrong shape of ``F`` or invalid ``ids``.
    """
    path = Path(path)
    # A regular file within MAX_TASK_FILE_BYTES, checked on its size before it is parsed.
    text = read_text(path, "task file", bound="MAX_TASK_FILE_BYTES")
    return parse_task_table(_parse_text(text, path), where=f"task file {path}")


def select(name: str | None = None, path: str | Path | None = None) -> TaskSpec | None:
    """The task a user named on the command line: a registered ``name`` or a task file at
    ``path`` (at most one of them); ``None`` when neither is given."""
    if name is not None and path is not None:
        raise ValueError("give a task name or a task file, not both")
    if name is not None:
        return get(name)
    if path is not None:
        return load(path)
    return None

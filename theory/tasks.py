"""Linear variable binding tasks, in one place: the `TaskSpec` noun and the authors' id encoding
(`theory.taskspec`), the registry of named tasks (`theory.registry`), task files
(`theory.task_files`) and linear solvability (`theory.solvability`).

This module only re-exports; none of those modules imports it, so any import order works.
"""

from emt.theory.registry import describe, get, names, register, repeat_copy
from emt.theory.solvability import Solvability, is_linearly_solvable
from emt.theory.task_files import load, parse_task_table, select
from emt.theory.taskspec import (
    TaskSpec,
    block,
    exact_number,
    from_ids,
    is_signed_copy,
    signed_copy_structure,
    slot,
    to_ids,
)

__all__ = [
    "TaskSpec", "from_ids", "to_ids", "is_signed_copy", "signed_copy_structure",
    "exact_number", "slot", "block", "get", "names", "register", "describe", "repeat_copy",
    "Solvability", "is_linearly_solvable", "load", "parse_task_table", "select",
]

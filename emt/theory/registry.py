"""The registry of named variable binding tasks: the paper's T1..T4 and a few extras.

`get(name)` builds a fresh `TaskSpec` (carrying its registry name); `names()` lists them in
registration order.  Re-exported by `theory.tasks`.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from emt.theory.taskspec import TaskSpec, from_ids, slot

__all__ = ["repeat_copy", "register", "names", "describe", "get"]


def repeat_copy(s: int, d: int, name: str | None = None) -> TaskSpec:
    """``x(t) = x(t - s)``: ``F_1 = I``, all other blocks zero (ids ``(2^d - 1, 0, 0)``)."""
    return from_ids(s, d, ((1 << d) - 1, 0, 0), name=name)


def _reverse_copy(s: int, d: int, name: str) -> TaskSpec:
    """Copy the oldest step with the dimension order reversed: ``x_j(t) = x_(d-1-j)(t - s)``."""
    F = sp.zeros(s * d, d)
    for j in range(d):
        F[slot(0, d - 1 - j, d), j] = 1  # oldest step, dimension d-1-j
    return TaskSpec(s, d, F, name=name)


def _fibonacci(d: int, name: str) -> TaskSpec:
    """``x(t) = x(t-1) + x(t-2)`` (s = 2): a real, non signed-copy composition."""
    eye = sp.eye(d)
    return TaskSpec(2, d, sp.Matrix.vstack(eye, eye), name=name)


def _staggered_lags(s: int, name: str) -> TaskSpec:
    """``d = s``; dimension ``j`` copies itself at lag ``s - j`` (lags s, s-1, ..., 1).

    This is the structure of the paper's T2 at ``s = d = 8``; at small sizes it is a quick
    example of a task that no linear RNN solves from ``h = 0``.
    """
    d = s
    F = sp.zeros(s * d, d)
    for j in range(d):
        F[slot(j, j, d), j] = 1  # step j, dimension j
    return TaskSpec(s, d, F, name=name)


_PAPER_ID1 = 9241421688590303745

_REGISTRY: dict[str, tuple[str, Callable[[str], TaskSpec]]] = {}


def register(name: str, description: str, factory: Callable[[str], TaskSpec]) -> None:
    """Add a named task; ``factory(name)`` must return a `TaskSpec`."""
    if name in _REGISTRY:
        raise ValueError(f"task {name!r} is already registered")
    _REGISTRY[name] = (description, factory)


register("T1", "paper T1: repeat copy, s = d = 8, ids (255, 0, 0)", lambda n: repeat_copy(8, 8, n))
register(
    "T2",
    "paper T2: dimension j copied at lag 8 - j, s = d = 8",
    lambda n: from_ids(8, 8, (_PAPER_ID1, 0, 0), name=n),
)
register(
    "T3",
    "paper T3: permuted, signed staggered copy, s = d = 8",
    lambda n: from_ids(8, 8, (_PAPER_ID1, 262676, 189), name=n),
)
register(
    "T4",
    "paper T4: permuted, signed staggered copy, s = d = 8",
    lambda n: from_ids(8, 8, (_PAPER_ID1, 38637, 145), name=n),
)
register("repeat-copy-3", "repeat copy, s = d = 3", lambda n: repeat_copy(3, 3, n))
register("repeat-copy-4", "repeat copy, s = d = 4 (the demo task)", lambda n: repeat_copy(4, 4, n))
register("reverse-copy-4", "copy the oldest step in reversed dimension order, s = d = 4",
         lambda n: _reverse_copy(4, 4, n))
register("staggered-4", "dimension j copied at lag 4 - j, s = d = 4 (T2's shape, small)",
         lambda n: _staggered_lags(4, n))
register("fibonacci-2", "x(t) = x(t-1) + x(t-2), d = 2 (a real composition)",
         lambda n: _fibonacci(2, n))


def names() -> list[str]:
    """Registered task names, in registration order."""
    return list(_REGISTRY)


def describe(name: str) -> str:
    """The one-line description of a registered task."""
    get(name)
    return _REGISTRY[name][0]


def get(name: str) -> TaskSpec:
    """The registered task ``name``; ``ValueError`` listing the known names otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(names())}")
    return _REGISTRY[name][1](name)

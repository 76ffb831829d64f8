"""Symbolic layer of the EMT suite: GSEMM, the reduction to an RNN, tasks and the binding circuit.

Imports sympy and numpy only (never TensorFlow).
"""

# `theory.tasks` first: it re-exports the modules built on it (registry, task files,
# solvability), which import it in turn; importing it here makes any import order safe.
from emt.theory import tasks as _tasks  # noqa: F401

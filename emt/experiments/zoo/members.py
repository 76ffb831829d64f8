"""The constructed part of the zoo as data: one `Recipe` per net, and `build_weights` that
turns a recipe into arrays (deterministic: the recipe's seed is the only randomness).

A member is a net judged against a task.  Its ``kind`` is the answer the verifier should give
on the effective claim: ``positive`` (a binding circuit that solves its task) or ``null``
(anything else).  Constructed circuits are labelled by construction *and* by solving the task
(`taskdata.task_accuracy` >= `taskdata.SOLVES_ACCURACY`; a circuit that does not solve its
task is a null, since both claims require solving it); ``wrong-task`` members judge a correct
net against another task of the same ``d``.

**The binding claim's label** (`label`) differs for one group: the lookups (`construct.lookup`,
`construct.one_hot_lookup`) store each variable in its own block of units, so its block is
causally that variable by construction: a net can bind without a linear code.  A lookup that
solves its own task is therefore a *positive* for the binding claim and its checks, and a null
for the effective and linear claims (whose statements are about a linear code).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from emt.experiments.zoo import construct
from emt.experiments.zoo.taskdata import SOLVES_ACCURACY, get_task

__all__ = ["Recipe", "CONSTRUCTED", "WRONG_TASK", "build_weights", "recipes", "kind_of",
           "label", "is_binding_bar", "BINDS_PER_SLOT", "CLAIM_PREFIX", "LINEAR_LOADING_TASKS",
           "SEEDS", "POSITIVE_FAMILIES"]

LINEAR_LOADING_TASKS = ("repeat-copy-4", "reverse-copy-4", "repeat-copy-3")
SEEDS = (1, 2)  # seed 2: calibration split, seed 1: test split (`calibrate.split_of`)
POSITIVE_FAMILIES = ("circuit-h", "circuit-a", "circuit-a-slot")  # positives if they solve
CLAIM_PREFIX = "claim:"  # a calibration row's bar for a whole claim: "claim:binding", ...
BINDS_PER_SLOT = ("lookup", "lookup-onehot")  # binding positives if they solve (docstring)
CIRCUIT_A_GAINS = (1.0, 2.0, 3.0)
SLOT_CODE_GAINS = (0.5, 1.0, 2.0)


@dataclass(frozen=True)
class Recipe:
    """How to build one constructed net: ``family`` and its parameters, the task it is built
    for, the seed; ``base`` names the recipe a shuffled net starts from."""

    id: str
    family: str
    task: str
    seed: int
    n_hidden: int | None = None
    params: dict = field(default_factory=dict)
    base: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, {})}


def _circuit_hidden(seed: int) -> int:
    return 32 + 32 * seed  # 64 and 96: two sizes across the two seeds


def recipes() -> list[Recipe]:
    """Every constructed net, in a fixed order."""
    out = []
    for task in LINEAR_LOADING_TASKS:
        for seed in SEEDS:
            tag = f"{task}-s{seed}"
            out.append(Recipe(f"circuit-h-{tag}", "circuit-h", task, seed, _circuit_hidden(seed)))
            for g in CIRCUIT_A_GAINS:
                out.append(Recipe(f"circuit-a-g{g:g}-{tag}", "circuit-a", task, seed, 64,
                                  {"gain": g}))
            out.append(Recipe(f"lookup-{tag}", "lookup", task, seed))
            out.append(Recipe(f"lookup-onehot-{tag}", "lookup-onehot", task, seed))
            for g in SLOT_CODE_GAINS:
                out.append(Recipe(f"circuit-a-slot-g{g:g}-{tag}", "circuit-a-slot", task, seed,
                                  params={"gain": g}))
            out.append(Recipe(f"shuffled-{tag}", "shuffled", task, seed + 100,
                              base=f"circuit-h-{tag}"))
            out.append(Recipe(f"untrained-{tag}", "untrained", task, seed + 200, 64))
    for seed in SEEDS:
        out.append(Recipe(f"untrained-staggered-4-s{seed}", "untrained", "staggered-4",
                          seed + 200, 128))
    return out


CONSTRUCTED = {r.id: r for r in recipes()}


def build_weights(recipe: Recipe) -> dict[str, np.ndarray]:
    """The recipe's arrays (``W_uh, W_hh, W_hy, activation``); the same recipe gives the same
    numbers on the same machine."""
    task = get_task(recipe.task)
    fam, seed, n = recipe.family, recipe.seed, recipe.n_hidden
    if fam == "circuit-h":
        return construct.circuit_h(task, int(n or 0), seed, **recipe.params)
    if fam == "circuit-a":
        return construct.circuit_a(task, int(n or 0), seed, **recipe.params)
    if fam == "lookup":
        return construct.lookup(task, seed, **recipe.params)
    if fam == "lookup-onehot":
        return construct.one_hot_lookup(task, seed, **recipe.params)
    if fam == "circuit-a-slot":
        return construct.slot_code_circuit(task, seed, **recipe.params)
    if fam == "untrained":
        return construct.untrained(task, int(n or 0), seed)
    if fam == "shuffled":
        if recipe.base not in CONSTRUCTED:
            raise ValueError(f"shuffled recipe {recipe.id}: unknown base {recipe.base!r}")
        return construct.shuffled(build_weights(CONSTRUCTED[recipe.base]), seed)
    raise ValueError(f"unknown family {fam!r}")


# wrong-task members: (net id, task it is judged against)
WRONG_TASK = tuple((f"{fam}-{built}-s{seed}", judged)
                   for seed in SEEDS
                   for fam, built, judged in (("circuit-h", "repeat-copy-4", "reverse-copy-4"),
                                              ("circuit-h", "repeat-copy-4", "staggered-4"),
                                              ("circuit-h", "reverse-copy-4", "repeat-copy-4"),
                                              ("lookup", "repeat-copy-4", "reverse-copy-4")))


def kind_of(family: str, trainer: str, accuracy: float, wrong_task: bool) -> str:
    """``positive`` for a net that solves the task it is judged on and is a circuit by
    construction (`POSITIVE_FAMILIES`) or was trained on that task; ``null`` otherwise.  A
    trained solver's label is the working hypothesis under test (docs/zoo.md)."""
    solves = accuracy >= SOLVES_ACCURACY and not wrong_task
    if trainer == "construct":
        return "positive" if solves and family in POSITIVE_FAMILIES else "null"
    return "positive" if solves else "null"


def is_binding_bar(bar: str) -> bool:
    """Whether ``bar`` (a check name or ``claim:NAME``) belongs to the binding claim."""
    return bar.startswith("binding.") or bar == CLAIM_PREFIX + "binding"


def label(member: dict, bar: str) -> str:
    """The answer ``bar`` should give on ``member`` (a manifest entry or a calibration row):
    its ``kind``, except that a lookup solving its own task is a binding positive (module
    docstring)."""
    if (is_binding_bar(bar) and member.get("family") in BINDS_PER_SLOT
            and member.get("accuracy", 0.0) >= SOLVES_ACCURACY):
        return "positive"
    return str(member["kind"])

"""The JSON ``meta`` of a run's ``checkpoint.npz``, read field by field.

Fields: ``step`` (steps done, >= 0); ``stage`` (the curriculum stage, >= 0; the run checks it
against its curriculum); ``rng`` (the data generator's PCG64 state, ints stored as
``{"int": "..."}``); ``history`` (``{step, loss, accuracy, H}`` records: 1 <= step <= the
checkpoint's step, a finite loss >= 0, 0 <= accuracy <= 1, H >= 1); ``advances`` (optional,
``{step, to_H}`` curriculum advances, 1 <= step <= the checkpoint's step, to_H >= 1);
``wall_time_s`` (optional, finite, >= 0).  A checkpoint is user input (a file on disk), so a
field of the wrong type or range is a ValueError naming it, never a TypeError further on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from emt.core.records import read_record

__all__ = ["CheckpointMeta", "read_checkpoint_meta"]

# The bit generator `np.random.default_rng` makes, the only one a checkpoint may name (the
# name is looked up in numpy.random: anything else would call an arbitrary attribute).
BIT_GENERATOR = "PCG64"


@dataclass(frozen=True)
class CheckpointMeta:
    step: int
    stage: int
    rng: dict
    history: list
    advances: list = field(default_factory=list)
    wall_time_s: float = 0.0


@dataclass(frozen=True)
class HistoryEntry:
    step: int
    loss: float
    accuracy: float
    H: int


@dataclass(frozen=True)
class Advance:
    step: int
    to_H: int


def _in_range(value: float, low: float, high: float, where: str) -> None:
    # an int is compared as it is: a JSON integer of 400 digits has no float
    finite = isinstance(value, int) or math.isfinite(value)
    if not (finite and low <= value <= high):
        raise ValueError(f"{where} is {value!r}; expected a finite number in [{low}, {high}]")


def read_checkpoint_meta(data: Any, where: str) -> CheckpointMeta:
    """`CheckpointMeta` from a parsed checkpoint ``meta``; ValueError naming the bad field."""
    meta = read_record(CheckpointMeta, data, where)
    _in_range(meta.step, 0, math.inf, f"{where}: field 'step'")
    _in_range(meta.stage, 0, math.inf, f"{where}: field 'stage'")
    _in_range(meta.wall_time_s, 0, math.inf, f"{where}: field 'wall_time_s'")
    if meta.rng.get("bit_generator") != BIT_GENERATOR:
        raise ValueError(f"{where}: field 'rng' names bit generator "
                         f"{meta.rng.get('bit_generator')!r}; expected {BIT_GENERATOR!r}")
    for i, item in enumerate(meta.history):
        at = f"{where}: field 'history' entry {i}"
        entry = read_record(HistoryEntry, item, at)
        _in_range(entry.step, 1, meta.step, f"{at}: 'step'")
        _in_range(entry.loss, 0, math.inf, f"{at}: 'loss'")
        _in_range(entry.accuracy, 0, 1, f"{at}: 'accuracy'")
        _in_range(entry.H, 1, math.inf, f"{at}: 'H'")
    for i, item in enumerate(meta.advances):
        at = f"{where}: field 'advances' entry {i}"
        advance = read_record(Advance, item, at)
        _in_range(advance.step, 1, meta.step, f"{at}: 'step'")
        _in_range(advance.to_H, 1, math.inf, f"{at}: 'to_H'")
    return meta

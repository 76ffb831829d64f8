"""Fixtures of the numerics tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import emt.numerics.group as batched_mod


@pytest.fixture()
def interrupt_group(monkeypatch) -> Callable[[int, int], Callable[[], None]]:
    """``interrupt_group(members, step)`` makes a group's batch source raise KeyboardInterrupt
    (what Ctrl-C raises) once ``members`` networks have drawn ``step`` batches each, so the
    group stops after ``step`` steps as a killed run would; returns the function that undoes it."""
    real = batched_mod.make_batches

    def install(members: int, step: int) -> Callable[[], None]:
        calls = {"n": 0}

        def dying(task, batch, horizon, rngs):
            calls["n"] += len(rngs)  # one batch per member's generator
            if calls["n"] > members * step:
                raise KeyboardInterrupt
            return real(task, batch, horizon, rngs)

        monkeypatch.setattr(batched_mod, "make_batches", dying)
        return lambda: monkeypatch.setattr(batched_mod, "make_batches", real)

    return install

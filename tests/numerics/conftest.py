"""Fixtures of the numerics tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import emt.numerics.group as batched_mod


@pytest.fixture()
def interrupt_group(monkeypatch) -> Callable[[int, int], Callable[[], None]]:
    """``interrupt_group(members, step)`` makes a group's batch source raise KeyboardInterrupt
    (what Ctrl-C raises) once each of ``members`` networks has drawn ``step`` batches, so the
    group stops after ``step`` steps as a killed run would; returns the function that undoes it."""
    real = batched_mod.make_batch

    def install(members: int, step: int) -> Callable[[], None]:
        calls = {"n": 0}

        def dying(*args, **kw):
            calls["n"] += 1
            if calls["n"] > members * step:
                raise KeyboardInterrupt
            return real(*args, **kw)

        monkeypatch.setattr(batched_mod, "make_batch", dying)
        return lambda: monkeypatch.setattr(batched_mod, "make_batch", real)

    return install

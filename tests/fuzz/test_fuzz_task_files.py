"""Fuzz: hostile task files through `emt tasks --task-file` (exit 0 or 2, never a traceback,
a hang or a memory blow-up; one line and nothing written on 2)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from fuzz_harness import check_contract
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.fuzz

HOSTILE_NUMBERS = st.sampled_from([
    "1e999999999", "-1e-999999999", "1E+99999", "1/0", "0/0", "nan", "inf", "-inf", "0x10",
    "1_000", "3/7", "-0.25", "1e39", "  2 ", "", "1/2/3", "9" * 5000, "1e" + "9" * 200, "½",
])
NUMBERS = st.one_of(
    HOSTILE_NUMBERS,
    st.integers(-(10**60), 10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
)
SIZES = st.one_of(st.integers(-3, 6), st.integers(10**3, 10**30), st.sampled_from(
    ["2", 2.0, True, None, [2]]))


@st.composite
def task_tables(draw) -> dict:
    table: dict = {}
    for key in draw(st.sets(st.sampled_from(["s", "d", "F", "ids", "name", "colour"]))):
        if key in ("s", "d"):
            table[key] = draw(SIZES)
        elif key == "F":
            rows = draw(st.integers(0, 6))
            cols = draw(st.integers(0, 4))
            table["F"] = draw(st.lists(st.lists(NUMBERS, min_size=cols, max_size=cols),
                                       min_size=rows, max_size=rows))
        elif key == "ids":
            table["ids"] = draw(st.lists(st.one_of(st.integers(-5, 2**70), st.text(max_size=3)),
                                         min_size=0, max_size=4))
        else:
            table[key] = draw(st.one_of(st.text(max_size=20), st.integers()))
    return table


@st.composite
def near_valid_tables(draw) -> dict:
    """A well-formed table (small s, d, F of the right shape) with a few hostile entries, so
    that valid tasks (exit 0) are generated too and one bad entry must still be caught."""
    s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    entry = st.one_of(st.integers(-3, 3), st.sampled_from(["1/2", "-3/7", "0.25", "1e2"]),
                      HOSTILE_NUMBERS) if draw(st.booleans()) else st.integers(-1, 1)
    table = {"s": s, "d": d, "F": draw(st.lists(st.lists(entry, min_size=d, max_size=d),
                                                min_size=s * d, max_size=s * d))}
    if draw(st.booleans()):
        table["name"] = draw(st.text(max_size=10))
    return table


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(value, "nan" if value != value
                                                                   else repr(value))
    if value is None:
        return '""'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)


TEXTS = st.one_of(
    near_valid_tables().map(lambda t: ("json", json.dumps(t))),
    near_valid_tables().map(lambda t: ("toml", "".join(f"{k} = {_toml_value(v)}\n"
                                                       for k, v in t.items()))),
    task_tables().map(lambda t: ("json", json.dumps(t))),
    task_tables().map(lambda t: ("toml", "".join(f"{k} = {_toml_value(v)}\n"
                                                 for k, v in t.items()))),
    st.integers(0, 200_000).map(lambda n: ("json", '{"s": 1, "d": 1, "F": ' + "[" * n)),
    st.integers(0, 200_000).map(lambda n: ("toml", "F = " + "[" * n + "]" * n + "\n")),
    st.binary(max_size=300).map(lambda b: ("txt", b.decode("latin-1"))),
)


@given(TEXTS, st.booleans())
def test_hostile_task_files(text, as_json) -> None:
    suffix, body = text
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / f"task.{suffix}"
        path.write_text(body, encoding="utf-8", errors="surrogateescape")
        argv = ["tasks", "--task-file", str(path), *(["--json"] if as_json else [])]
        check_contract(argv, work, allowed=(0, 2))

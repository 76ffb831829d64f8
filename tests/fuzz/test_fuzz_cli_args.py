"""Fuzz: hostile command lines for every verb.  Each generated line holds at least one value
that is certainly invalid (a negative or astronomically large size, a FIFO, a file where a
directory is needed, ...), so the contract demands exit 2: one stderr line, nothing written,
bounded time and memory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from fuzz_harness import check_contract
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.fuzz

BAD_COUNT = ["0", "-1", "-99999999999", str(10**12), str(10**30), "1.5", "abc", "", "nan",
             "0x10", "1e9", "९"]
BAD = {
    "count": BAD_COUNT,
    "seed": ["-1", "-5", "abc", "1e3", "", "2.5"],
    "threshold": ["0", "1", "1.5", "-0.1", "nan", "inf", "abc"],
    "l2": ["-1", "nan", "inf", "-inf", "abc"],
    "out": ["FILE", "FILE/sub", "FILE/a/b"],
    "subject": ["FIFO.npz", "NOPE.npz", "TEXT.npz", "EMPTYDIR", "FILE/x.npz", "TEXT.keras",
                "FIFO.keras"],
    "task": ["T9", "", "../T1", "t" * 500, "repeat-copy-3\x00"],
    "tol": ["spectrum.phase", "=1", "nope=1", "spectrum.phase=-1", "spectrum.phase=nan",
            "spectrum.phase=1e999"],
    "horizon": ["0", "-3", str(10**9), str(10**40), "x"],
    "config": ["FIFO.toml", "NOPE.toml", "TEXT.npz", "EMPTYDIR", "DEEP.toml"],
    "ids": [["100000", "1", "1", "0", "0"], ["8", "8", "9" * 5000, "0", "0"],
            ["8", "8", "1" + "0" * 4000, "0", "0"],
            ["-1", "1", "1", "0", "0"], ["1", "1", "1", "1", "1"], ["0", "0", "0", "0", "0"]],
}
GOOD = {"count": ["5", "8"], "seed": ["0", "3"], "threshold": ["0.9"], "l2": ["0", "0.001"],
        "out": ["NEWDIR"], "task": ["repeat-copy-3"], "horizon": ["20"]}

# verb -> (fixed words, [(option, kind), ...], the positional kind or None)
VERBS = {
    "tasks-ids": (["tasks"], [("--ids", "ids")], None),
    "tasks-task": (["tasks"], [("--task", "task")], None),
    "train": (["train", "--quiet", "--task", "repeat-copy-3"],
              [("--hidden", "count"), ("--steps", "count"), ("--checkpoint-every", "count"),
               ("--seed", "seed"), ("--threshold", "threshold"), ("--l2", "l2"),
               ("--out", "out")], None),
    "verify": (["verify", "--task", "repeat-copy-3"],
               [("--horizon", "horizon"), ("--seed", "seed"), ("--tol", "tol"),
                ("--out", "out")], "subject"),
    "demo": (["demo", "--quiet"], [("--hidden", "count"), ("--steps", "count"),
                                   ("--seed", "seed"), ("--out", "out")], None),
    "sweep": (["sweep"], [("--out", "out"), ("--workers", "count")], "config"),
    "table1": (["reproduce", "table1", "--aggregate-only"], [("--out", "out")], None),
    "input-phase": (["reproduce", "input-phase", "--aggregate-only"], [("--out", "out")], None),
    "figures": (["reproduce", "figures"], [("--out", "out"), ("--sweep", "out")], None),
}


@st.composite
def command_lines(draw) -> list[str]:
    words, options, positional = VERBS[draw(st.sampled_from(sorted(VERBS)))]
    argv = list(words)
    chosen = draw(st.lists(st.sampled_from(options), min_size=1, max_size=len(options),
                           unique=True))
    hostile = draw(st.sampled_from(chosen + ([(None, positional)] if positional else [])))
    for option, kind in chosen:
        pool = BAD[kind] if (option, kind) == hostile else (
            GOOD.get(kind) or BAD[kind]) if draw(st.booleans()) else BAD[kind]
        value = draw(st.sampled_from(pool))
        argv += [option, *(value if isinstance(value, list) else [value])]
    if positional:
        argv.append(draw(st.sampled_from(BAD[positional] if hostile[0] is None
                                         else BAD[positional])))
    return argv


def _materialise(argv: list[str], work: Path) -> list[str]:
    (work / "FILE").write_text("a file\n")
    (work / "TEXT.npz").write_text("not a zip\n")
    (work / "TEXT.keras").write_text("not a zip\n")
    (work / "DEEP.toml").write_text("x = " + "[" * 5000 + "\n")
    (work / "EMPTYDIR").mkdir()
    os.mkfifo(work / "FIFO.npz")
    os.mkfifo(work / "FIFO.toml")
    os.mkfifo(work / "FIFO.keras")
    names = ("FILE", "TEXT.", "DEEP.", "EMPTYDIR", "FIFO.", "NOPE.", "NEWDIR")
    return [str(work / a) if a.startswith(names) else a for a in argv]


@pytest.fixture(scope="module", autouse=True)
def _warm_imports():
    # import TensorFlow and the training modules once, outside the timed examples
    import emt.numerics.train  # noqa: F401


@given(command_lines())
def test_hostile_command_lines_exit_2(argv) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        check_contract(_materialise(argv, work), work, allowed=(2,))

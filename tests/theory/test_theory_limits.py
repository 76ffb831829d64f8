"""Limits (`emt.core.limits`) and safe reading (`emt.core.safe_io`): each refusal comes
before the expensive work, names the limit and how to raise it, and the override works."""

from __future__ import annotations

import json
import os
import time

import pytest

from emt.cli import main
from emt.core import limits
from emt.core.safe_io import json_clean, nesting_depth, read_text, standard_json
from emt.theory.task_files import load
from emt.theory.taskspec import TaskSpec, exact_number, from_ids


def test_every_limit_is_documented_and_overridable(monkeypatch) -> None:
    from pathlib import Path

    source = Path(limits.__file__).read_text(encoding="utf-8")
    for name, value in limits.LIMITS.items():
        assert value >= 1
        # a comment above the definition gives the reason
        before = source.split(f"\n{name} = ")[0].rstrip().splitlines()[-1]
        assert before.lstrip().startswith("#"), name
        monkeypatch.setenv(f"EMT_LIMIT_{name}", str(value + 1))
        assert limits.limit(name) == value + 1
    monkeypatch.setenv("EMT_LIMIT_MAX_SLOTS", "lots")
    with pytest.raises(ValueError, match="EMT_LIMIT_MAX_SLOTS must be a plain decimal"):
        limits.limit("MAX_SLOTS")


@pytest.mark.parametrize(("make", "needle"), [
    (lambda: from_ids(100000, 1, (1, 0, 0)), "MAX_SLOTS"),
    (lambda: from_ids(8, 8, (2**20000, 0, 0)), "MAX_ID_BITS"),
    (lambda: TaskSpec(10**18, 1, [[1]]), "MAX_SLOTS"),
    (lambda: TaskSpec(1, 1000, [[0] * 1000] * 1000), "MAX_F_ENTRIES"),
    (lambda: exact_number("1e999999999"), "MAX_ENTRY_DIGITS"),
    (lambda: exact_number("-3/1E-99999999999"), "MAX_ENTRY_DIGITS"),
    (lambda: exact_number("1" * 101), "MAX_ENTRY_TEXT"),
    (lambda: exact_number(10**60), "MAX_ENTRY_DIGITS"),
    (lambda: exact_number("1/" + "7" * 50), "MAX_ENTRY_DIGITS"),
])
def test_task_limits_refuse_quickly(make, needle) -> None:
    start = time.monotonic()
    with pytest.raises(ValueError, match=needle) as exc:
        make()
    assert "EMT_LIMIT_" in str(exc.value)
    assert time.monotonic() - start < 5.0


def test_entries_within_the_limits_are_exact() -> None:
    assert exact_number("1e39") == 10**39
    assert exact_number("2.5e-3") * 400 == 1
    assert exact_number("-" + "9" * 40) == -(10**40 - 1)


def test_raising_a_limit_admits_the_value(monkeypatch) -> None:
    with pytest.raises(ValueError, match="MAX_SLOTS"):
        from_ids(2048, 1, (1, 0, 0))
    monkeypatch.setenv("EMT_LIMIT_MAX_SLOTS", "4096")
    monkeypatch.setenv("EMT_LIMIT_MAX_F_ENTRIES", "4096")
    assert from_ids(2048, 1, (1, 0, 0)).n_slots == 2048


def test_nesting_is_refused_before_parsing(tmp_path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    with pytest.raises(ValueError, match="nested 100000 levels deep.*MAX_NESTING"):
        load(deep)
    toml = tmp_path / "deep.toml"
    toml.write_text("F = " + "[" * 70 + "]" * 70 + "\n")
    with pytest.raises(ValueError, match="MAX_NESTING"):
        load(toml)
    # brackets inside strings and comments do not count
    assert nesting_depth('a = "[[[[[" # {{{{{\nb = [[1]]\n') == 2
    assert nesting_depth(r'{"k": "\"[[[["}') == 1


def test_text_files_must_be_regular_and_bounded(tmp_path, monkeypatch) -> None:
    fifo = tmp_path / "task.toml"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(ValueError, match="not a regular file \\(it is a FIFO\\)"):
        load(fifo)
    assert time.monotonic() - start < 5.0
    big = tmp_path / "big.toml"
    big.write_text("s = 1\nd = 1\nF = [[1]]\n" + "#" * 100 + "\n")
    monkeypatch.setenv("EMT_LIMIT_MAX_TEXT_FILE_BYTES", "64")
    with pytest.raises(ValueError, match="bytes, above the limit 64"):
        read_text(big)


def test_standard_json_has_no_nan_or_infinity() -> None:
    import numpy as np

    value = {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5],
             "c": np.float64("nan"), "d": np.array([1.0, np.inf])}
    text = standard_json(value)
    assert json.loads(text) == {"a": None, "b": [None, None, 1.5], "c": None, "d": [1.0, None]}
    assert "NaN" not in text and "Infinity" not in text
    assert json_clean((1.0, "x")) == [1.0, "x"]


def test_hostile_task_file_through_the_cli(tmp_path, capsys) -> None:
    path = tmp_path / "t.toml"
    path.write_text('s = 1\nd = 1\nF = [["1e999999999"]]\n')
    start = time.monotonic()
    assert main(["tasks", "--task-file", str(path)]) == 2
    assert time.monotonic() - start < 10.0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "MAX_ENTRY_DIGITS" in err


@pytest.mark.parametrize("raw", [" 2_0 ", "2_0", "20 ", "+20", "0x14", "２０", "२०", "20\n", ""])
def test_a_limit_is_read_only_from_a_plain_decimal_integer(monkeypatch, raw) -> None:
    monkeypatch.setenv("EMT_LIMIT_MAX_SLOTS", raw)
    with pytest.raises(ValueError, match="EMT_LIMIT_MAX_SLOTS must be a plain decimal"):
        limits.limit("MAX_SLOTS")


def test_a_bad_limit_variable_is_exit_2_naming_it(monkeypatch, capsys) -> None:
    monkeypatch.setenv("EMT_LIMIT_MAX_SLOTS", " 2_0 ")
    assert main(["tasks", "--task", "T1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "EMT_LIMIT_MAX_SLOTS" in err[0]


def test_an_oversized_task_file_is_refused_by_its_size_before_parsing(tmp_path) -> None:
    """A task file above MAX_TASK_FILE_BYTES is refused from its size alone (a 50 MB file was
    parsed whole, 1.15 GB and 44 s, before its `s` was found over the limit)."""
    path = tmp_path / "big.json"
    row = '["1/3","1/3","1/3","1/3","1/3","1/3","1/3","1/3"],'
    with path.open("w") as fh:
        fh.write('{"s": 100000, "d": 8, "F": [')
        fh.write(row * (limits.MAX_TASK_FILE_BYTES // len(row) + 1))
        fh.write('[0]]}')
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="MAX_TASK_FILE_BYTES"):
        load(path)
    assert time.monotonic() - t0 < 0.5
    assert limits.MAX_TASK_FILE_BYTES < limits.MAX_TEXT_FILE_BYTES


def test_a_task_file_within_the_size_bound_is_refused_from_s_and_d(tmp_path) -> None:
    path = tmp_path / "wide.json"
    path.write_text(json.dumps({"s": 10**6, "d": 8, "ids": [255, 0, 0]}))
    with pytest.raises(ValueError, match=r"task file .*wide.json: s\*d .*MAX_SLOTS"):
        load(path)

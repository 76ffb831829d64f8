"""Fuzz: late failures and random seed lists against "nothing written".

* A write that fails (OSError ENOSPC: the disk is full; EFBIG: ``ulimit -f``) at any write point
  of a training run, single or group, is exit 2 with one stderr line and leaves nothing behind
  under the working directory.
* Any list of ``--seeds`` (repeated, negative, past 2**32 - 1, longer than the group limit) is
  exit 0 or 2, never 3, and nothing is written on 2.  Runs are one step of a 2-unit network,
  so a valid list costs about a second.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest
from fuzz_harness import check_contract, tree
from hypothesis import event, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.fuzz

TINY = ["train", "--quiet", "--task", "repeat-copy-3", "--hidden", "2", "--steps", "1",
        "--checkpoint-every", "1"]
# A group trains in this process: the failures are injected here (the default layout would
# train the members in child processes), and no example pays for starting TensorFlow again.
ONE_PROCESS = ["--group-processes", "1"]


@pytest.fixture(scope="module", autouse=True)
def _warm_up(tmp_path_factory):
    # start TensorFlow's runtime (a few hundred MB, once per process) and trace both steps
    # outside the measured examples
    from emt.cli import main

    warm = tmp_path_factory.mktemp("warm")
    assert main([*TINY, "--out", str(warm / "one")]) == 0
    assert main([*TINY, "--seeds", "1", "2", *ONE_PROCESS, "--out", str(warm / "group")]) == 0


class _FailingWrites:
    """``os.fsync`` (every atomic write calls it once, before its rename) that raises ``code``
    at the ``at``-th call: the write fails there, as a full disk or a file-size limit makes it."""

    def __init__(self, at: int, code: int) -> None:
        self.at, self.code, self.calls, self.fired = at, code, 0, False
        self.real = os.fsync

    def __call__(self, fd: int) -> None:
        self.calls += 1
        if self.calls == self.at:
            self.fired = True
            raise OSError(self.code, os.strerror(self.code))
        self.real(fd)


@settings(max_examples=4)
@given(code=st.sampled_from([errno.ENOSPC, errno.EFBIG]),
       seeds=st.sampled_from([[], ["--seeds", "1", "2", *ONE_PROCESS]]), nested=st.booleans())
def test_failures_injected_at_every_write_point_leave_nothing_behind(code, seeds,
                                                                     nested) -> None:
    """Each example fails the 1st, 2nd, ... write of the command in turn, until a run has no
    write left to fail (9 write points for a single run, 14 for a group of two)."""
    at = 0
    while True:
        at += 1
        with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
            work = Path(tmp)
            failing = _FailingWrites(at, code)
            mp.setattr(os, "fsync", failing)
            out = "a/b/run" if nested else "run"
            result = check_contract([*TINY, *seeds, "--out", out], work, allowed=(0, 2))
            assert result == (2 if failing.fired else 0), (at, failing.calls)
            if not failing.fired:
                assert at > 5  # the run wrote its files: every write point was failed once
                return
            assert tree(work) == set(), at


SEEDS = st.one_of(st.integers(0, 5), st.integers(-3, -1), st.just(2**32 - 1),
                  st.integers(2**32, 2**40))


@settings(max_examples=15)
@given(seeds=st.one_of(st.lists(SEEDS, min_size=1, max_size=3),
                       st.integers(257, 400).map(lambda n: list(range(n)))))
def test_random_seed_lists_exit_0_or_2_and_write_nothing_on_2(seeds) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        code = check_contract([*TINY, "--seeds", *map(str, seeds), *ONE_PROCESS, "--out",
                               "group"], work,
                              allowed=(0, 2))
        valid = (len(seeds) <= 256 and len(set(seeds)) == len(seeds)
                 and all(0 <= s < 2**32 for s in seeds))
        event("a valid list" if valid else "a list to refuse")
        assert code == (0 if valid else 2), seeds
        if valid:
            assert {p.name for p in (work / "group").iterdir()} == {f"seed-{s}" for s in seeds}

"""Nothing is written by a command that fails: refusals come before any directory is made, and
a late failure (memory, a full disk, a file-size limit, an environment variable read when
TensorFlow starts) removes the directories the command itself created.  Killed writers' stale
temporary files are cleared by the next writer."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emt.cli import EXIT_BAD_INPUT, main
from emt.core import atomic
from emt.numerics import runlock

TRAIN = ["train", "--task", "repeat-copy-4", "--hidden", "8", "--steps", "2", "--quiet"]


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_group_above_its_size_limit_is_refused_before_anything(tmp_path, capsys) -> None:
    t0 = time.monotonic()
    argv = [*TRAIN, "--seeds", *map(str, range(1, 20001)), "--out", str(tmp_path / "g")]
    assert main(argv) == EXIT_BAD_INPUT
    assert time.monotonic() - t0 < 5
    line = _one_error_line(capsys)
    assert "MAX_GROUP_MEMBERS" in line and "20000" in line and "EMT_LIMIT_" in line
    assert list(tmp_path.iterdir()) == []


def test_the_group_trainer_refuses_an_oversized_group(monkeypatch) -> None:
    from emt.numerics.config import TrainConfig
    from emt.numerics.group import train_group
    from emt.theory.registry import get

    monkeypatch.setenv("EMT_LIMIT_MAX_GROUP_MEMBERS", "2")
    configs = [TrainConfig(task=get("repeat-copy-4"), hidden=8, steps=1, seed=s) for s in (1, 2, 3)]
    with pytest.raises(ValueError, match="MAX_GROUP_MEMBERS"):
        train_group(configs, None, progress=False)


@pytest.mark.parametrize(("option", "values"), [("--seed", ["4294967296"]),
                                                ("--seeds", ["1", "4294967296"]),
                                                ("--seed", ["-1"])])
def test_a_seed_out_of_range_is_refused_naming_the_option(tmp_path, capsys, option,
                                                          values) -> None:
    assert main([*TRAIN, option, *values, "--out", str(tmp_path / "run")]) == EXIT_BAD_INPUT
    line = _one_error_line(capsys)
    assert f"{option} {values[-1]}" in line and "2**32 - 1" in line
    assert list(tmp_path.iterdir()) == []


def test_a_bad_thread_count_is_refused_before_the_run_directory(tmp_path, capsys,
                                                               monkeypatch) -> None:
    monkeypatch.setenv("EMT_TF_THREADS", "abc")
    for extra in ([], ["--seeds", "1", "2"]):
        assert main([*TRAIN, *extra, "--out", str(tmp_path / "run")]) == EXIT_BAD_INPUT
        assert "EMT_TF_THREADS" in _one_error_line(capsys)
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", [MemoryError(), OSError(errno.ENOSPC, "No space left on device"),
                                   OSError(errno.EFBIG, "File too large")])
@pytest.mark.parametrize("group", [False, True])
def test_a_late_failure_removes_what_the_command_created(tmp_path, capsys, monkeypatch, error,
                                                         group) -> None:
    """A failure after the run directory exists (here: when the first file is written, or
    when TensorFlow starts for MemoryError) leaves nothing; a directory that existed before
    the command stays, and so does what was in it."""
    def fail(*args, **kwargs):
        raise error

    if isinstance(error, MemoryError):
        import keras

        monkeypatch.setattr(keras.utils, "set_random_seed", fail)
    else:
        monkeypatch.setattr(os, "fsync", fail)
    # one process: the failure is injected into this one (the default layout spawns children)
    seeds = ["--seeds", "1", "2", "--group-processes", "1"] if group else []
    assert main([*TRAIN, *seeds, "--out", str(tmp_path / "new" / "run")]) == EXIT_BAD_INPUT
    _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("kept\n")
    out = tmp_path / "mine" / "run"
    out.mkdir()  # an existing empty --out is the user's: it stays, empty
    assert main([*TRAIN, *seeds, "--out", str(out)]) == EXIT_BAD_INPUT
    _one_error_line(capsys)
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt", "run"]
    assert list(out.iterdir()) == []


def test_a_directory_locked_by_another_live_writer_is_never_removed(tmp_path, capsys,
                                                                   monkeypatch) -> None:
    """Between our mkdir and our lock another writer may take the directory: it stays."""
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        real_acquire = runlock.acquire

        def another_writer_first(run_dir):
            (Path(run_dir) / runlock.LOCK_FILE).write_text(json.dumps(
                {"pid": holder.pid, "host": socket.gethostname(), "since": "now"}) + "\n")
            return real_acquire(run_dir)

        monkeypatch.setattr(runlock, "acquire", another_writer_first)
        assert main([*TRAIN, "--out", str(out)]) == EXIT_BAD_INPUT
        assert "locked by process" in _one_error_line(capsys)
        assert (out / runlock.LOCK_FILE).is_file()
    finally:
        holder.kill()
        holder.wait()


def test_stale_temporaries_of_dead_writers_are_cleared_by_the_next_writer(tmp_path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = atomic._HOST
    stale = tmp_path / f".model.json.{host}-{dead.pid}.abcd1234.tmp"
    live = tmp_path / f".model.json.{host}-{os.getppid()}.efgh5678.tmp"  # a live writer
    other_host = tmp_path / f".model.json.{int(host, 16) ^ 1:08x}-{dead.pid}.ijkl9012.tmp"
    old = tmp_path / f".weights.npz.{host}-{os.getppid()}.mnop3456.tmp"
    legacy_old, legacy_new = tmp_path / ".a.npz.abcd_123.tmp", tmp_path / ".b.npz.abcd_123.tmp"
    foreign = [tmp_path / ".lock.123-456.tmp", tmp_path / "notes.tmp", tmp_path / ".x.tmp"]
    for path in (stale, live, other_host, old, legacy_old, legacy_new, *foreign):
        path.write_bytes(b"half a file")
    two_hours_ago = time.time() - 2 * 3600
    for path in (old, legacy_old, foreign[0]):
        os.utime(path, (two_hours_ago, two_hours_ago))
    atomic.atomic_write_text(tmp_path / "record.json", "{}\n")
    left = {p.name for p in tmp_path.iterdir()}
    assert not {stale.name, old.name, legacy_old.name} & left
    assert {live.name, other_host.name, legacy_new.name, "record.json",
            *(p.name for p in foreign)} <= left


def test_a_killed_writer_leaves_a_temporary_that_the_next_write_clears(tmp_path) -> None:
    code = ("import os, sys; from emt.core import atomic\n"
            "os.fsync = lambda fd: os.kill(os.getpid(), 9)\n"
            f"atomic.atomic_write_bytes({str(tmp_path / 'big.bin')!r}, b'x' * 1000)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == -9
    assert [p.name.endswith(".tmp") for p in tmp_path.iterdir()] == [True]
    atomic.atomic_write_bytes(tmp_path / "big.bin", b"y")
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]


@pytest.mark.parametrize("where", ["out", "parent"])
def test_a_dangling_symlink_as_out_is_refused_before_the_work(tmp_path, capsys, where) -> None:
    """It passed the early check and was refused only after training, naming an internal
    lock file."""
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    out = tmp_path / "link" if where == "out" else tmp_path / "link" / "run"
    t0 = time.monotonic()
    assert main([*TRAIN, "--out", str(out)]) == EXIT_BAD_INPUT
    line = _one_error_line(capsys)
    assert "symbolic link" in line and "nowhere" in line and ".lock" not in line
    assert time.monotonic() - t0 < 3  # refused before TensorFlow starts
    assert [p.name for p in tmp_path.iterdir()] == ["link"]


def test_a_real_file_size_limit_is_exit_2_naming_the_file_and_leaves_nothing(tmp_path) -> None:
    """``ulimit -f`` for real: the kernel refuses the write (EFBIG; Python ignores SIGXFSZ)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = tmp_path / "new" / "run"
    run = subprocess.run(["bash", "-c", f'ulimit -f 1; exec "{sys.executable}" -m emt '
                          f'{" ".join(TRAIN)} --out {out}'], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert run.returncode == EXIT_BAD_INPUT, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "File too large" in lines[0] and str(out) in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_report_directory_is_removed_when_writing_the_report_fails(tmp_path, capsys,
                                                                    monkeypatch) -> None:
    """`emt verify --out NEW`: a full disk while the reports are written leaves no directory."""
    import numpy as np

    from emt.numerics.weights import RNNWeights
    from emt.theory.circuit import Circuit
    from emt.theory.registry import get

    task = get("repeat-copy-3")
    circuit = Circuit(task, np.eye(task.n_slots))
    subject = tmp_path / "circuit.npz"
    RNNWeights(circuit.w_uh, circuit.w_hh, circuit.w_hy, activation="linear").save_npz(subject)

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    argv = ["verify", str(subject), "--task", "repeat-copy-3", "--horizon", "20"]
    assert main([*argv, "--out", str(tmp_path / "reports" / "new")]) == EXIT_BAD_INPUT
    assert "No space left on device" in _one_error_line(capsys)
    assert [p.name for p in tmp_path.iterdir()] == ["circuit.npz"]


def _overcommits_everything() -> bool:
    try:
        return Path("/proc/sys/vm/overcommit_memory").read_text().strip() == "1"
    except OSError:
        return True  # not Linux: unknown, do not risk it


@pytest.mark.skipif(_overcommits_everything(), reason="an 8 TB allocation would be granted "
                    "and the process killed as it fills the pages")
def test_a_lifted_limit_that_runs_out_of_memory_leaves_nothing(tmp_path, capsys,
                                                              monkeypatch) -> None:
    """A real MemoryError, not an injected one: N_h = 10^6 past a raised MAX_HIDDEN asks numpy
    for an 8 TB W_hh after the run directory exists."""
    monkeypatch.setenv("EMT_LIMIT_MAX_HIDDEN", str(10**8))
    argv = [a if a != "8" else str(10**6) for a in TRAIN]
    assert main([*argv, "--out", str(tmp_path / "new" / "run")]) == EXIT_BAD_INPUT
    assert "MemoryError" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []

"""Run directories under concurrent and interrupted writers (several processes): the lock
names its holder, a stale lock of a killed writer is cleared, a finished run survives an
interrupted extension, and resuming needs a checkpoint."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from emt.cli import main
from emt.numerics import rundir, runlock
from emt.numerics.rundir import load_run

TINY = ["--task", "repeat-copy-3", "--hidden", "8", "--steps", "20", "--checkpoint-every", "5",
        "--quiet"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "OPENBLAS_NUM_THREADS": "1"}


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _holder_process(run_dir: Path) -> subprocess.Popen:
    code = ("import sys, time; from emt.numerics import runlock; "
            "runlock.acquire(sys.argv[1]); print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE,
                            text=True, env=ENV)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_exits_2_naming_the_holder_and_a_stale_lock_is_cleared(
        tmp_path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    holder = _holder_process(run)
    try:
        assert main(["train", *TINY, "--out", str(run)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
        assert f"locked by process {holder.pid} on host {socket.gethostname()}" in err
        assert sorted(p.name for p in run.iterdir()) == [runlock.LOCK_FILE]  # nothing written
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    # the holder died without releasing: its lock is stale and the next writer takes it
    assert runlock.holder(run)["pid"] == holder.pid
    assert main(["train", *TINY, "--out", str(run)]) == 0
    assert runlock.holder(run) is None
    assert load_run(run)[2]["status"] == "finished"


@pytest.mark.train
def test_two_trainers_started_together_one_wins_one_exits_2(tmp_path) -> None:
    run = tmp_path / "run"
    procs = [subprocess.Popen([sys.executable, "-m", "emt", "train", *TINY, "--seed", str(seed),
                               "--out", str(run)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=ENV)
             for seed in (1, 2)]
    results = [(code, err) for p in procs for code, (_out, err) in
               [(p.wait(timeout=300), p.communicate())]]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert len(loser.strip().splitlines()) == 1
    assert "locked by process" in loser or "holds a run already" in loser
    winner_seed = 1 + [code for code, _ in results].index(0)
    weights, _, meta = load_run(run)
    assert meta["seed"] == winner_seed and meta["status"] == "finished"
    assert runlock.holder(run) is None


def test_an_interrupted_extension_keeps_the_finished_run(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run)]) == 0
    weights_before = (run / rundir.WEIGHTS).read_bytes()
    record_before = rundir.read_model_json(run)
    # --out on the finished run, even with more steps, is refused and changes nothing
    more = ["--task", "repeat-copy-3", "--hidden", "8", "--steps", "40", "--checkpoint-every",
            "5", "--quiet"]
    assert main(["train", *more, "--out", str(run)]) == 2
    assert "holds a run already" in capsys.readouterr().err
    assert (run / rundir.WEIGHTS).read_bytes() == weights_before

    ext = subprocess.Popen([sys.executable, "-m", "emt", "train", "--resume", str(run),
                            "--steps", "1000000", "--quiet"], env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def extended_past_first_checkpoint() -> bool:
        try:
            extension = rundir.read_model_json(run).get("extension") or {}
        except ValueError:
            return False
        return extension.get("steps_done", 0) >= 25

    try:
        _wait_for(extended_past_first_checkpoint, 180, "the extension's first checkpoint")
    finally:
        ext.send_signal(signal.SIGKILL)  # no chance to clean up
        ext.wait()
    meta = rundir.read_model_json(run)
    assert meta["status"] == "finished" and meta["steps_done"] == 20
    assert meta["metrics"] == record_before["metrics"]
    assert meta["extension"]["status"] == "running" and meta["extension"]["steps"] == 1000000
    assert (run / rundir.WEIGHTS).read_bytes() == weights_before
    load_run(run)  # still verifiable
    reached = meta["extension"]["steps_done"]
    # the old length is still there (and clears the dead extension's stale lock)
    assert main(["train", "--resume", str(run), "--steps", "20", "--quiet"]) == 0
    assert (run / rundir.WEIGHTS).read_bytes() == weights_before
    # and the extension can be finished from its checkpoint
    assert main(["train", "--resume", str(run), "--steps", str(reached + 5), "--quiet"]) == 0
    meta = rundir.read_model_json(run)
    assert meta["status"] == "finished" and meta["steps_done"] == reached + 5
    assert "extension" not in meta
    assert (run / rundir.WEIGHTS).read_bytes() != weights_before
    assert runlock.holder(run) is None


def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(run)]) == 0
    meta = json.loads((run / rundir.MODEL_JSON).read_text())
    meta["status"] = "interrupted"
    (run / rundir.MODEL_JSON).write_text(json.dumps(meta))
    (run / rundir.WEIGHTS).unlink()
    (run / rundir.CHECKPOINT).unlink()
    before = sorted(p.name for p in run.iterdir())
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint to resume from" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in run.iterdir()) == before


def test_a_lock_is_never_seen_without_its_holder(tmp_path) -> None:
    """The lock appears with its content in one step: a competitor reading it while it is being
    taken sees the holder, never an empty file (CI once saw 'an unknown process' here)."""
    stop = threading.Event()
    empty_reads = []

    def compete() -> None:
        while not stop.is_set():
            if runlock.holder(tmp_path) == {}:
                empty_reads.append(1)

    reader = threading.Thread(target=compete)
    reader.start()
    try:
        for _ in range(2000):
            runlock.acquire(tmp_path)
            runlock.release(tmp_path)
    finally:
        stop.set()
        reader.join()
    assert not empty_reads, f"{len(empty_reads)} reads of an empty lock"
    assert list(tmp_path.iterdir()) == []  # no private file left behind


def test_a_filesystem_without_hard_links_still_gets_a_lock(tmp_path, monkeypatch) -> None:
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(runlock.os, "link", no_links)
    runlock.acquire(tmp_path)
    assert runlock.holder(tmp_path)["pid"] == os.getpid()
    with pytest.raises(runlock.RunLockedError, match="locked by process"):
        monkeypatch.setattr(runlock.os, "getpid", lambda: 1)  # another writer of this host
        runlock.acquire(tmp_path)
    monkeypatch.undo()
    runlock.release(tmp_path)
    assert list(tmp_path.iterdir()) == []

"""The group layout (`numerics.group_layout`): members split into sub-groups, each trained in its
own 1-thread process, end exactly as alone; Ctrl-C stops every process with its checkpoints
saved and the group resumes; the number of processes is checked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from emt.cli import main
from emt.numerics import rundir
from emt.numerics.group import train_group
from emt.numerics.group_layout import group_processes, split_members, train_group_layout
from emt.numerics.train import TrainConfig, train
from emt.theory.registry import get

NAMES = ("W_uh", "W_hh", "W_hy")
# As in test_numerics_batched: a member against its single run (another step's float32
# summation order), 1% of one Adam step.
GROUP_VS_SINGLE_ATOL = 1e-5


# Four small members that differ in seed, L2, steps and threshold (so they advance apart).
BASE = TrainConfig(task=get("repeat-copy-3"), hidden=16, steps=30, batch=16, curriculum=(5, 10),
                   threshold=0.7, test_horizon=20, test_batches=2, checkpoint_every=10,
                   history_every=5)


# The reported loss is a sum over the member's batch whose float32 order can depend on how many
# members a call holds: one ulp apart (measured 1.2e-7 relative); the weights are equal bits.
LOSS_RTOL = 1e-6


def _same_history(a: list[dict], b: list[dict]) -> None:
    assert [(h["step"], h["accuracy"], h["H"]) for h in a] == [
        (h["step"], h["accuracy"], h["H"]) for h in b]
    np.testing.assert_allclose([h["loss"] for h in a], [h["loss"] for h in b], rtol=LOSS_RTOL)


def test_two_processes_of_two_members_equal_the_members_alone(tmp_path) -> None:
    configs = [replace(BASE, seed=1), replace(BASE, seed=2, l2=1e-4),
               replace(BASE, seed=3, steps=20), replace(BASE, seed=4, threshold=0.6)]
    dirs = [tmp_path / f"seed-{c.seed}" for c in configs]
    group = train_group_layout(configs, dirs, processes=2, progress=False)
    assert group.ok and group.model_steps == 30 + 30 + 20 + 30
    assert len(group.sizes) == 30 and group.sizes[0] == 4  # two sub-groups of two, summed
    for config, member, out in zip(configs, group.results, dirs, strict=True):
        alone = train_group([config], progress=False, threads=1).results[0]
        for n in NAMES:  # the member's own rows, the same operations: equal bits at this size
            np.testing.assert_array_equal(getattr(member.weights, n), getattr(alone.weights, n))
        assert member.advances == alone.advances
        _same_history(member.history, alone.history)
        single = train(config, progress=False)
        assert max(float(np.max(np.abs(getattr(member.weights, n) - getattr(single.weights, n))))
                   for n in NAMES) <= GROUP_VS_SINGLE_ATOL
        assert rundir.read_model_json(out)["status"] == "finished"
        w, _, _ = rundir.load_run(out)
        np.testing.assert_array_equal(w.W_hh, member.weights.W_hh)
    # Run again: every member is finished and returned as it is, no process trains.
    again = train_group_layout(configs, dirs, processes=2, progress=False)
    assert again.model_steps == 0 and [r.metrics for r in again.results] == [
        r.metrics for r in group.results]


def test_split_and_the_number_of_processes(monkeypatch) -> None:
    assert split_members(5, 2) == [[0, 1], [2, 3, 4]]
    assert split_members(2, 8) == [[0], [1]]
    assert group_processes(8, 3) == 3 and group_processes(2, 16) == 2
    monkeypatch.setenv("EMT_GROUP_PROCESSES", "1")
    assert group_processes(8) == 1
    monkeypatch.delenv("EMT_GROUP_PROCESSES")
    assert group_processes(64) == len(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match="group processes"):
        group_processes(4, 0)
    monkeypatch.setenv("EMT_GROUP_PROCESSES", "x")
    with pytest.raises(ValueError, match="EMT_GROUP_PROCESSES"):
        group_processes(4)


TINY = ["--task", "repeat-copy-3", "--hidden", "8", "--steps", "12", "--quiet"]


def test_group_processes_is_checked_on_the_command_line(tmp_path, capsys) -> None:
    assert main(["train", *TINY, "--seeds", "1", "2", "--group-processes", "0",
                 "--out", str(tmp_path / "g")]) == 2
    assert "group processes" in capsys.readouterr().err
    assert main(["train", *TINY, "--seed", "1", "--group-processes", "2",
                 "--out", str(tmp_path / "s")]) == 2
    assert "applies to a group" in capsys.readouterr().err
    assert not (tmp_path / "g").exists() and not (tmp_path / "s").exists()


def _steps_done(out: Path) -> list[int]:
    done = []
    for d in sorted(out.glob("seed-*")):
        try:
            done.append(json.loads((d / rundir.MODEL_JSON).read_text())["steps_done"])
        except (OSError, ValueError, KeyError):
            done.append(-1)
    return done


def test_ctrl_c_stops_every_process_with_checkpoints_and_the_group_resumes(tmp_path) -> None:
    out = tmp_path / "g"
    cmd = [sys.executable, "-m", "emt", "train", "--task", "repeat-copy-3", "--hidden", "8",
           "--steps", "100000", "--checkpoint-every", "50", "--seeds", "1", "2", "3",
           "--group-processes", "2", "--quiet", "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (len(_steps_done(out)) == 3
                                               and min(_steps_done(out)) >= 50):
        time.sleep(1.0)  # every member has trained (a checkpoint at step 50 or later)
    proc.send_signal(signal.SIGINT)  # the parent only: it forwards Ctrl-C to its children
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    for d in sorted(out.glob("seed-*")):
        meta = rundir.read_model_json(d)
        assert meta["status"] == "interrupted" and "Ctrl-C" in meta["error"]
        _, ck, _ = rundir.load_checkpoint(d)
        assert ck["step"] == meta["steps_done"] > 0
    stopped = _steps_done(out)
    # The group resumes from those checkpoints (to a total its members have not passed).
    target = max(stopped) + 5
    assert main(["train", "--resume", str(out), "--steps", str(target), "--quiet",
                 "--group-processes", "2"]) == 0
    assert _steps_done(out) == [target] * 3

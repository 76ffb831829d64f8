"""One run state for single and group training: a finished group member keeps its weights
while it is extended (and the command line refuses to extend it without --resume), a corrupt
checkpoint's metadata is bad input naming the field, and a refused group makes no directory."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emt.cli import main
from emt.numerics import rundir, runlock
from emt.numerics.group import train_group
from emt.numerics.train import TrainConfig
from emt.theory.registry import get

TINY = ["--task", "repeat-copy-3", "--hidden", "8", "--checkpoint-every", "2", "--quiet"]


def _files(run: Path) -> dict[str, bytes]:
    return {name: (run / name).read_bytes() for name in (rundir.MODEL_JSON, rundir.WEIGHTS)}


def test_rerunning_a_finished_group_with_more_steps_is_refused(tmp_path, capsys) -> None:
    group = tmp_path / "G"
    assert main(["train", *TINY, "--steps", "6", "--seeds", "1", "2", "--out", str(group)]) == 0
    before = {seed: _files(group / f"seed-{seed}") for seed in (1, 2)}
    capsys.readouterr()
    assert main(["train", *TINY, "--steps", "10", "--seeds", "1", "2", "--out",
                 str(group)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--resume" in err and "seed-1" in err
    assert {seed: _files(group / f"seed-{seed}") for seed in (1, 2)} == before


def _tiny(seed: int, steps: int) -> TrainConfig:
    return TrainConfig(task=get("repeat-copy-3"), hidden=8, steps=steps, batch=8,
                       curriculum=(5, 10), threshold=0.7, test_horizon=10, test_batches=1,
                       checkpoint_every=2, history_every=2, seed=seed)


def test_an_extended_group_keeps_each_members_weights_until_it_finishes(
        tmp_path, interrupt_group, capsys) -> None:
    group = tmp_path / "G"
    dirs = [group / "seed-1", group / "seed-2"]
    train_group([_tiny(1, 6), _tiny(2, 6)], dirs, progress=False)
    before = [_files(d) for d in dirs]
    undo = interrupt_group(2, 3)  # killed 3 steps into the extension to 12 steps
    with pytest.raises(KeyboardInterrupt):
        train_group([_tiny(1, 12), _tiny(2, 12)], dirs, progress=False)
    undo()
    for d, files in zip(dirs, before, strict=True):
        meta = rundir.read_model_json(d)
        assert meta["status"] == "finished" and meta["steps_done"] == 6
        assert meta["extension"] == {"status": "interrupted", "steps": 12, "steps_done": 9,
                                     "error": "interrupted by the user (Ctrl-C)"}
        assert (d / rundir.WEIGHTS).read_bytes() == files[rundir.WEIGHTS]
        rundir.load_run(d)  # still verifiable
    # --resume on the group's directory finishes every member's extension from its checkpoint
    assert main(["train", "--resume", str(group), "--quiet"]) == 0
    assert capsys.readouterr().out.count("test accuracy") == 2
    straight = train_group([_tiny(1, 12), _tiny(2, 12)], progress=False)
    for d, reference in zip(dirs, straight.results, strict=True):
        weights, _, meta = rundir.load_run(d)
        assert meta["steps_done"] == 12 and "extension" not in meta
        assert reference is not None
        np.testing.assert_array_equal(weights.W_hh, reference.weights.W_hh)  # bit-exact


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("pristine") / "run"
    assert main(["train", *TINY, "--steps", "4", "--out", str(run)]) == 0
    return run


def write_checkpoint_meta(run: Path, change) -> None:
    """Rewrite ``run``'s checkpoint with ``change(meta)`` applied to its JSON metadata."""
    with np.load(run / rundir.CHECKPOINT, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    change(meta)
    np.savez(run / rundir.CHECKPOINT, meta=np.array(json.dumps(meta)), **arrays)


@pytest.mark.parametrize(("field", "value"), [
    ("history", 5), ("history", [5]), ("history", [{"step": 1}]),
    ("history", [{"step": 1, "loss": "x", "accuracy": 0.5, "H": 5}]),
    ("history", [{"step": 99, "loss": 0.1, "accuracy": 0.5, "H": 5}]),
    ("step", "4"), ("step", -1), ("step", 4.5), ("step", True), ("stage", [0]), ("stage", 7),
    ("advances", {}), ("advances", [{"step": 1, "to_H": "10"}]), ("wall_time_s", "x"),
    ("wall_time_s", -1.0), ("rng", 5), ("rng", {"bit_generator": "seed"}),
    ("rng", {"bit_generator": "PCG64", "state": 7}), ("extra", 1),
])
def test_corrupt_checkpoint_metadata_exits_2_naming_the_field(
        finished_run, tmp_path, capsys, field, value) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    write_checkpoint_meta(run, lambda meta: meta.__setitem__(field, value))
    before = _files(run)
    assert main(["train", "--resume", str(run), "--steps", "6"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "corrupt checkpoint" in err
    assert repr(field) in err or f"'{field}'" in err or f"stage {value}" in err, err
    assert _files(run) == before


def test_a_refused_group_makes_no_member_directory(tmp_path, capsys) -> None:
    group = tmp_path / "G"
    (group / "seed-2").mkdir(parents=True)
    code = ("import sys, time; from emt.numerics import runlock; "
            "runlock.acquire(sys.argv[1]); print('locked', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(group / "seed-2")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert main(["train", *TINY, "--steps", "4", "--seeds", "1", "2", "--out",
                     str(group)]) == 2
        assert "locked by process" in capsys.readouterr().err
        assert sorted(p.name for p in group.iterdir()) == ["seed-2"]  # no empty seed-1/
        assert [p.name for p in (group / "seed-2").iterdir()] == [runlock.LOCK_FILE]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    # A failure after the directories were made and locked (a corrupt checkpoint found once
    # the network exists) removes the ones made for this group, as if nothing happened.
    train_group([_tiny(2, 4)], [tmp_path / "b"], progress=False)
    with np.load(tmp_path / "b" / rundir.CHECKPOINT, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["W_hh"] = arrays["W_hh"][:2]  # the metadata is fine, one array's shape is not
    np.savez(tmp_path / "b" / rundir.CHECKPOINT, **arrays)
    with pytest.raises(ValueError, match="corrupt checkpoint"):
        train_group([_tiny(1, 6), _tiny(2, 6)], [tmp_path / "a", tmp_path / "b"],
                    progress=False)
    assert not (tmp_path / "a").exists()

"""`emt train` through the dispatcher: a tiny run, resume, and every bad input -> exit 2 with
no directory left that looks like a finished run."""

from __future__ import annotations

import json

import pytest

from emt.cli import main
from emt.numerics import rundir

TINY = ["--hidden", "8", "--steps", "6", "--checkpoint-every", "3", "--quiet"]


def looks_finished(path) -> bool:
    if not (path / rundir.WEIGHTS).exists():
        return False
    return json.loads((path / rundir.MODEL_JSON).read_text()).get("status") == "finished"


def test_train_writes_a_finished_run_and_resume_extends_it(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", "--task", "repeat-copy-3", *TINY, "--out", str(out)]) == 0
    assert "test accuracy" in capsys.readouterr().out
    assert looks_finished(out)
    assert main(["train", "--resume", str(out), "--steps", "9", "--quiet"]) == 0
    meta = rundir.read_model_json(out)
    assert meta["steps_done"] == 9 and meta["config"]["steps"] == 9 and looks_finished(out)


def test_train_from_a_task_file(tmp_path) -> None:
    spec = tmp_path / "task.toml"
    spec.write_text('s = 2\nd = 1\nF = [[0], [1]]\nname = "copy-2x1"\n')
    out = tmp_path / "run"
    assert main(["train", "--task-file", str(spec), "--linear", *TINY, "--out", str(out)]) == 0
    meta = rundir.read_model_json(out)
    assert meta["task"]["name"] == "copy-2x1" and meta["config"]["activation"] == "linear"


@pytest.mark.parametrize(("args", "message"), [
    (["--task", "no-such-task"], "unknown task"),
    (["--task", "repeat-copy-3", "--hidden", "0"], "hidden"),
    (["--task", "repeat-copy-3", "--l2", "-0.001"], "l2"),
    (["--task", "repeat-copy-3", "--threshold", "1.0"], "threshold"),
    (["--task", "repeat-copy-3", "--threshold", "0"], "threshold"),
    (["--task", "repeat-copy-3", "--steps", "0"], "steps"),
    (["--task-file", "/nonexistent/task.toml"], "task.toml"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message) -> None:
    out = tmp_path / "run"
    assert main(["train", *args, "--quiet", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_out_dir_that_is_not_a_run_of_the_same_config_exits_2(tmp_path, capsys) -> None:
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "data.csv").write_text("1,2\n")
    assert main(["train", "--task", "repeat-copy-3", *TINY, "--out", str(stranger)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert [p.name for p in stranger.iterdir()] == ["data.csv"]
    run = tmp_path / "run"
    assert main(["train", "--task", "repeat-copy-3", *TINY, "--out", str(run)]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main(["train", "--task", "repeat-copy-4", *TINY, "--out", str(run)]) == 2
    err = capsys.readouterr().err  # an existing run is continued only by --resume
    assert "holds a run already" in err and f"emt train --resume {run}" in err
    assert main(["train", "--task", "repeat-copy-3", *TINY, "--seed", "2", "--out",
                 str(run)]) == 2
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_corrupt_checkpoint_exits_2_and_the_run_stays_unfinished(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert main(["train", "--task", "repeat-copy-3", *TINY, "--out", str(run)]) == 0
    # Make it an interrupted run (as Ctrl-C leaves it), then break its checkpoint.
    meta = json.loads((run / rundir.MODEL_JSON).read_text())
    meta["status"] = "interrupted"
    (run / rundir.MODEL_JSON).write_text(json.dumps(meta))
    (run / rundir.WEIGHTS).unlink()
    (run / rundir.CHECKPOINT).write_bytes(b"PK\x03\x04 truncated")
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    assert "corrupt checkpoint" in capsys.readouterr().err
    assert not looks_finished(run)


def test_resume_rejects_config_options_and_missing_dirs(tmp_path, capsys) -> None:
    assert main(["train", "--resume", str(tmp_path / "nope"), "--quiet"]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--hidden", "4"]) == 2
    assert "--hidden" in capsys.readouterr().err
    assert main(["train", "--task", "repeat-copy-3", "--quiet"]) == 2
    assert "--out" in capsys.readouterr().err


def test_ctrl_c_on_the_real_command_leaves_a_resumable_interrupted_run(tmp_path) -> None:
    """SIGINT to a running `emt train` process: exit 130, checkpoint saved, not finished."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emt.cli", "train", "--task", "repeat-copy-3", "--hidden", "4",
         "--steps", "1000000", "--checkpoint-every", "1000000", "--quiet", "--out", str(run)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run / rundir.MODEL_JSON).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)  # let it train for a while
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    meta = rundir.read_model_json(run)
    assert meta["status"] == "interrupted" and meta["steps_done"] > 0
    assert (run / rundir.CHECKPOINT).exists() and not looks_finished(run)

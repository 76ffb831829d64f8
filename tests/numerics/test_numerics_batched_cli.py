"""`emt train --seeds`: one group, one ordinary run directory per seed; bad input exits 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emt.cli import main
from emt.numerics import rundir

TINY = ["--task", "repeat-copy-3", "--hidden", "8", "--steps", "12", "--checkpoint-every", "5",
        "--quiet"]
# As in test_numerics_batched: float32 round-off between a member and its single run, 1% of
# one Adam step (lr 1e-3).
GROUP_VS_SINGLE_ATOL = 1e-5


def test_seeds_write_one_run_directory_per_seed_like_seed_does(tmp_path, capsys) -> None:
    out = tmp_path / "group"
    assert main(["train", *TINY, "--seeds", "1", "2", "3", "--out", str(out)]) == 0
    assert capsys.readouterr().out.count("test accuracy") == 3
    assert sorted(p.name for p in out.iterdir()) == ["seed-1", "seed-2", "seed-3"]
    assert main(["train", *TINY, "--seed", "2", "--out", str(tmp_path / "alone")]) == 0
    member, alone = (rundir.read_model_json(p) for p in (out / "seed-2", tmp_path / "alone"))
    assert member["status"] == "finished" and member["seed"] == 2
    assert member["config"] == alone["config"] and member.keys() == alone.keys()
    w_member, _, _ = rundir.load_run(out / "seed-2")
    w_alone, _, _ = rundir.load_run(tmp_path / "alone")
    for name in ("W_uh", "W_hh", "W_hy"):
        np.testing.assert_allclose(getattr(w_member, name), getattr(w_alone, name), rtol=0,
                                   atol=GROUP_VS_SINGLE_ATOL)
    # The same command again: every member is finished, nothing is retrained.
    mtime = (out / "seed-1" / rundir.WEIGHTS).stat().st_mtime_ns
    assert main(["train", *TINY, "--seeds", "1", "2", "3", "--out", str(out)]) == 0
    assert (out / "seed-1" / rundir.WEIGHTS).stat().st_mtime_ns == mtime
    # One member continues alone from its checkpoint, as any run does.
    assert main(["train", "--resume", str(out / "seed-3"), "--steps", "15", "--quiet"]) == 0
    assert json.loads((out / "seed-3" / rundir.MODEL_JSON).read_text())["steps_done"] == 15


@pytest.mark.parametrize(("args", "message"), [
    (["--seeds", "1", "2", "1"], "more than once"),
    (["--seeds", "1", "-2"], "seed"),
    (["--seeds", "1", "2", "--hidden", "0"], "hidden"),
])
def test_bad_seeds_exit_2_and_write_nothing(tmp_path, capsys, args, message) -> None:
    out = tmp_path / "group"
    assert main(["train", *TINY, *args, "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_seeds_conflicts_exit_2(tmp_path, capsys) -> None:
    assert main(["train", "--resume", str(tmp_path), "--seeds", "1", "2"]) == 2
    assert "--seeds" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse: --seed and --seeds exclude each other
        main(["train", *TINY, "--seed", "1", "--seeds", "2", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    (tmp_path / "file").write_text("x")
    assert main(["train", *TINY, "--seeds", "1", "--out", str(tmp_path / "file")]) == 2
    assert "not a directory" in capsys.readouterr().err

"""`emt reproduce cells`: cells in the sweep grid, and the table from real (tiny) runs of every
kind of cell, with its PARTIAL label and its subset options."""

from __future__ import annotations

import json

import pytest

from emt.cli import main
from emt.experiments import reproduce_cells as rc
from emt.experiments.sweep_config import job_key, parse_sweep_config


def grid(**extra) -> dict:
    return {"grid": {"task": ["repeat-copy-3"], "hidden": [8], "l2": [0.0], "threshold": [0.9],
                     "seed": [1, 2], **extra}, "fixed": {"steps": 10}}


def test_cell_is_an_optional_grid_key_that_leaves_old_keys_alone() -> None:
    plain = parse_sweep_config(grid())
    assert all("cell" not in job for job in plain.jobs)  # old sweeps: the same job keys
    celled = parse_sweep_config(grid(cell=["rnn", "lstm"]))
    assert [(j["cell"], j["seed"]) for j in celled.jobs] == [
        ("rnn", 1), ("rnn", 2), ("lstm", 1), ("lstm", 2)]  # a cell's jobs are contiguous
    assert len(set(celled.keys)) == 4 and not set(celled.keys) & set(plain.keys)
    fixed = parse_sweep_config({**grid(), "fixed": {"steps": 10, "cell": "gru"}})
    assert {j["cell"] for j in fixed.jobs} == {"gru"}
    with pytest.raises(ValueError, match="cell must be one of"):
        parse_sweep_config(grid(cell=["transformer"]))
    with pytest.raises(ValueError, match="grid keys"):
        parse_sweep_config({**grid(cell=["rnn"]), "fixed": {"steps": 10, "cell": "gru"}})


def test_the_quick_profile_is_four_cells_on_three_tasks_with_three_seeds() -> None:
    config = rc.cells_config("quick")
    assert len(config.jobs) == 4 * 3 * 3
    assert {j["cell"] for j in config.jobs} == {"rnn", "lstm", "gru", "lru"}
    assert {j["hidden"] for j in config.jobs} == {64} and {j["steps"] for j in config.jobs} \
        == {20000}
    # a subset is the same jobs as the full profile, so a later full run reuses them
    subset = rc.cells_config("quick", seeds=[2], cells=["lru"])
    assert set(subset.keys) < set(config.keys) and len(subset.jobs) == 3
    for bad in ({"seeds": [4]}, {"cells": ["cnn"]}, {"seeds": []}):
        with pytest.raises(ValueError, match="subset"):
            rc.cells_config("quick", **bad)
    with pytest.raises(ValueError, match="unknown cells profile"):
        rc.cells_config("paper")


@pytest.fixture()
def tiny_profile(monkeypatch):
    monkeypatch.setitem(rc.CELLS_PROFILES, "tiny", {
        "cells": ["rnn", "lstm", "lru"], "tasks": ["repeat-copy-3"], "hidden": 8, "steps": 30,
        "threshold": 0.9, "seeds": [1, 2],
        "fixed": {"curriculum": [4, 8], "test_horizon": 20, "test_batches": 2,
                  "checkpoint_every": 10, "verify_horizon": 20}})
    return "tiny"


@pytest.mark.sweep
def test_tiny_cells_runs_are_verified_by_both_claims_and_tabulated(tmp_path, tiny_profile
                                                                   ) -> None:
    doc = rc.reproduce_cells(tiny_profile, tmp_path, workers=1, seeds=[1], stream=None)
    assert (doc["n_jobs"], doc["n_done"], doc["complete"], doc["subset"]) == (3, 3, True, True)
    runs = {r["cell"]: r for r in doc["runs"]}
    assert set(runs) == {"rnn", "lstm", "lru"}
    for cell, run in runs.items():
        report = json.loads((tmp_path / "runs" / run["key"] / "report.json").read_text())
        assert report["metadata"].get("cell", "rnn") == cell
        # 30 steps solve nothing: the effective claim must fail for every cell
        assert run["effective_holds"] is False and run["accuracy_h200"] < rc.SOLVED_ACCURACY
    assert runs["lru"]["linear_key"] == "linear.lru_spectrum"
    assert runs["lstm"]["linear_key"] == "linear.spectrum.count"
    rows = {(r["cell"], r["task"]): r for r in doc["cells"]}
    assert rows[("lru", "repeat-copy-3")]["linearly_solvable"] is True
    assert all(r["seeds_done"] == 1 and r["effective_holds"] == 0 for r in rows.values())
    md = (tmp_path / "cells.md").read_text()
    assert "Status: **complete**" in md and "can solve" in md
    assert json.loads((tmp_path / "cells.json").read_text())["n_done"] == 3

    # the full tiny profile (seed 2 missing) is PARTIAL with the command that finishes it
    partial = rc.reproduce_cells(tiny_profile, tmp_path, run=False, stream=None)
    assert (partial["n_jobs"], partial["n_done"], partial["complete"]) == (6, 3, False)
    assert f"emt reproduce cells --profile tiny --out {tmp_path}" in (
        tmp_path / "cells.md").read_text()
    assert [r["status"] for r in partial["runs"] if r["seed"] == 2] == ["missing"] * 3
    assert {job_key(j) for j in rc.cells_config(tiny_profile, seeds=[1]).jobs} <= {
        r["key"] for r in partial["runs"]}


def test_cli_cells_aggregate_only_is_partial_and_bad_subsets_exit_2(tmp_path, capsys) -> None:
    assert main(["reproduce", "cells", "--aggregate-only", "--out", str(tmp_path)]) == 1
    assert "PARTIAL: 0 of 36" in (tmp_path / "cells.md").read_text()
    capsys.readouterr()
    assert main(["reproduce", "cells", "--seeds", "9", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "subset" in err[0] and not (tmp_path / "x").exists()

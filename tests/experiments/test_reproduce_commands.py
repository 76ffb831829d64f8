"""`emt reproduce`: profiles, partial reports, figures from a sweep directory, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emt.cli import main
from emt.experiments.reproduce_table1 import load_profile
from emt.experiments.sweep_config import job_key, parse_sweep_config
from emt.experiments.sweep_job import write_record
from emt.numerics import rundir
from emt.numerics.weights import RNNWeights
from emt.theory.registry import get


def test_profiles_are_the_papers_grid_and_its_reduction():
    paper = load_profile("paper")
    assert len(paper.jobs) == 4 * 2 * 2 * 2 * 20
    assert paper.grid["hidden"] == [64, 128] and paper.grid["l2"] == [0.0, 0.001]
    assert paper.grid["threshold"] == [0.9, 0.98] and paper.grid["seed"] == list(range(1, 21))
    quick = load_profile("quick")
    assert len(quick.jobs) == 12 and quick.fixed["steps"] == paper.fixed["steps"] == 20000
    assert {j["task"]["name"] for j in quick.jobs} == {"T1", "T2", "T3", "T4"}


def test_unknown_profile_is_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "table1", "--profile", "huge"])
    assert exc.value.code == 2


def test_aggregate_only_on_an_empty_directory_is_labelled_partial(tmp_path, capsys):
    assert main(["reproduce", "table1", "--aggregate-only", "--out", str(tmp_path)]) == 1
    doc = json.loads((tmp_path / "table1.json").read_text())
    assert doc["complete"] is False and doc["n_done"] == 0 and doc["n_jobs"] == 12
    text = (tmp_path / "table1.md").read_text()
    assert "PARTIAL" in text and "emt reproduce table1 --profile quick" in text


def test_input_phase_without_runs_is_incomplete(tmp_path, capsys):
    assert main(["reproduce", "input-phase", "--aggregate-only", "--out", str(tmp_path)]) == 1
    doc = json.loads((tmp_path / "input_phase.json").read_text())
    assert doc["complete"] is False
    assert {(r["task"], r["activation"]) for r in doc["rows"]} == {
        ("repeat-copy-4", "linear"), ("repeat-copy-4", "tanh"),
        ("staggered-4", "linear"), ("staggered-4", "tanh")}
    by = {(r["task"], r["activation"]): r for r in doc["rows"]}
    # Theory's verdicts, from theory.tasks.is_linearly_solvable
    assert by[("repeat-copy-4", "linear")]["expected_solved"] is True
    assert by[("staggered-4", "linear")]["expected_solved"] is False
    assert by[("staggered-4", "tanh")]["expected_solved"] is True


def _fake_finished_run(sweep_dir, name, seed, n_hidden=16):
    """A finished run directory with random weights (the figures need no trained net)."""
    task = get(name)
    config = parse_sweep_config({"grid": {"task": [name], "hidden": [n_hidden], "l2": [0.0],
                                          "threshold": [0.9], "seed": [seed]}})
    job = config.jobs[0]
    job_dir = sweep_dir / "runs" / job_key(job)
    run = job_dir / "run"
    run.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(n_hidden)
    RNNWeights(rng.uniform(-scale, scale, (n_hidden, task.d)),
               rng.uniform(-scale, scale, (n_hidden, n_hidden)),
               rng.uniform(-scale, scale, (task.d, n_hidden))).save_npz(run / rundir.WEIGHTS)
    rundir.write_model_json(run, {"task": task.to_json(), "config": {"hidden": n_hidden},
                                  "status": "finished", "seed": seed, "versions": {},
                                  "steps_done": 0, "horizon": 10, "history": [],
                                  "curriculum_advances": [], "metrics": {}, "wall_time_s": 0.0})
    spectrum = {"threshold": 0.8, "n_theory": 8, "n_trained": 8, "count_mismatch": 0,
                "phase_error_max": 0.1, "phase_error_mean": 0.1, "modulus_error_max": 0.1,
                "modulus_error_mean": 0.1, "paper_metric": 0.1, "paper_threshold": 0.9}
    metrics = {"spectrum": spectrum, "accuracy_h200": 0.5, "loaded_state_accuracy": 0.5,
               "psi_condition": 1.0, "slots": 8, "passed": False, "effective_holds": False,
               "linear_holds": False}
    write_record(job_dir, {"schema": "emt.sweep-record/1", "key": job_key(job),
                           "status": "done", "job": job, "attempt": 1, "started": "t",
                           "host": "h", "pid": 1, "versions": {},
                           "verify": {"passed": False, "metrics": metrics, "checks": {}}})


def test_figures_from_a_sweep_directory(tmp_path, capsys):
    _fake_finished_run(tmp_path, "T1", 1)
    _fake_finished_run(tmp_path, "T3", 2)
    out = tmp_path / "figs"
    assert main(["reproduce", "figures", "--sweep", str(tmp_path), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == sorted(f"{t}-{f}.png" for t in ("T1", "T3")
                           for f in ("eigenvalues", "phi_hat", "trajectory",
                                     "effective_trajectory"))
    assert all((out / n).read_bytes()[:4] == b"\x89PNG" for n in names)


def test_figures_need_a_t1_run(tmp_path, capsys):
    _fake_finished_run(tmp_path, "T2", 1)
    out = tmp_path / "figs"
    assert main(["reproduce", "figures", "--sweep", str(tmp_path), "--out", str(out)]) == 2
    assert "no finished T1 run" in capsys.readouterr().err
    assert not out.exists()


def test_missing_dask_is_a_clear_error(monkeypatch):
    import sys

    from emt.experiments.sweep import open_client

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ValueError, match=r"pip install 'emt-suite\[sweep\]'"):
        with open_client(workers=1):
            pass


def test_input_phase_seed_subset_is_labelled_and_validated(tmp_path, capsys):
    assert main(["reproduce", "input-phase", "--aggregate-only", "--seeds", "2",
                 "--out", str(tmp_path)]) == 1  # nothing trained: incomplete
    doc = json.loads((tmp_path / "input_phase.json").read_text())
    assert doc["seeds_subset"] is True and doc["settings"]["seeds"] == [2]
    assert {r["seed"] for r in doc["rows"]} == {2}
    assert "a subset of the profile's seeds" in (tmp_path / "input_phase.md").read_text()
    out = tmp_path / "bad"
    assert main(["reproduce", "input-phase", "--seeds", "99", "--out", str(out)]) == 2
    assert "subset" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("what", ["cells", "table1", "input-phase"])
def test_reverify_trains_nothing_and_refuses_an_empty_out(tmp_path, capsys, monkeypatch, what):
    """--reverify's help says it trains nothing: on an empty --out it is refused (exit 2,
    nothing written) instead of starting the profile's 20,000-step runs."""
    import emt.experiments.sweep as sweep

    trained = []

    def no_training(*args, **kwargs):
        trained.append(args)
        raise AssertionError("--reverify started training")

    monkeypatch.setattr(sweep, "run_sweep", no_training)
    for module in ("reproduce_cells", "reproduce_table1", "input_phase"):
        monkeypatch.setattr(f"emt.experiments.{module}.run_sweep", no_training)
    out = tmp_path / "out"
    assert main(["reproduce", what, "--reverify", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--reverify: no runs under" in err[0]
    assert list(tmp_path.iterdir()) == []
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "not-a-job").mkdir()
    main(["reproduce", what, "--reverify", "--out", str(out)])  # reports, never trains
    capsys.readouterr()
    assert trained == []

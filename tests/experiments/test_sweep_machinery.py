"""The sweep machinery on a real Dask LocalCluster with a tiny grid (s = d = 2, N_h = 8).

Caching (a second invocation trains nothing), resume after a killed job, a failing job recorded
while the rest complete, retries of a job whose worker dies, bad configs -> exit 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Dask is in the `dev` extra, so a missing install fails here instead of skipping the tier.
import cloudpickle  # a dependency of distributed
import distributed
import pytest

from emt.cli import main
from emt.experiments.sweep import run_sweep
from emt.experiments.sweep_config import job_key, parse_sweep_config, train_config
from emt.experiments.sweep_job import read_record, write_record
from emt.numerics.rundir import load_run
from emt.numerics.train import evaluate

pytestmark = pytest.mark.sweep

# Ship this module's job functions to the worker processes by value (the workers cannot import
# a test module by name).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TINY = {
    "name": "tiny",
    "grid": {"task": [{"s": 2, "d": 2, "ids": [3, 0, 0], "name": "rc2"}], "hidden": [8],
             "l2": [0.0], "threshold": [0.9], "seed": [1, 2]},
    "fixed": {"steps": 300, "curriculum": [4, 8], "test_horizon": 20, "test_batches": 2,
              "checkpoint_every": 100, "verify_horizon": 20},
}
UNREACHABLE = "tcp://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(scope="module")
def scheduler():
    """One LocalCluster for the module (2 worker processes, 1 thread each), so TensorFlow is
    imported once per worker rather than once per sweep."""
    from emt.experiments.sweep_job import THREAD_ENV

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=50,
                                  env=dict(THREAD_ENV)) as cluster:
        yield cluster.scheduler_address


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_sweep_trains_verifies_then_caches_and_resumes(tmp_path, scheduler):
    config = parse_sweep_config(TINY)
    summary = run_sweep(config, tmp_path, scheduler=scheduler, stream=None)
    assert (summary.done, summary.failed, summary.cached) == (2, 0, 0), summary.records
    assert summary.complete
    for job in config.jobs:
        job_dir = tmp_path / "runs" / job_key(job)
        record = read_record(job_dir)
        assert record["status"] == "done" and record["attempt"] == 1
        assert record["job"]["seed"] == job["seed"]
        assert "tensorflow" in record["versions"] and record["elapsed_s"] > 0
        # the record carries the run's own numbers: its test accuracy is what evaluating the
        # saved weights gives again, and its verify summary is the report's
        weights, task, meta = load_run(job_dir / "run")
        again = evaluate(weights, task, train_config(job))["test_accuracy"]
        assert record["train"]["metrics"]["test_accuracy"] == meta["metrics"]["test_accuracy"]
        assert record["train"]["metrics"]["test_accuracy"] == again
        report = json.loads((job_dir / "report.json").read_text())
        assert report["schema"] == "emt.report/3"
        assert record["verify"]["metrics"] == report["metrics"]
        assert set(record["verify"]["checks"]) == {c["name"] for c in report["checks"]}
        assert record["verify"]["claims"] == {c: v["holds"] for c, v in report["claims"].items()}
        assert (job_dir / "run" / "weights.npz").is_file()

    # Second invocation: nothing to do, so it does not even contact a scheduler.
    before = _mtimes(tmp_path)
    again = run_sweep(config, tmp_path, scheduler=UNREACHABLE, stream=None)
    assert (again.cached, again.done, again.failed) == (2, 0, 0)
    assert _mtimes(tmp_path) == before

    # A killed job: its record still says "running" and its run directory was interrupted
    # (no final weights); only that job runs again, resuming the run from its checkpoint.
    killed = tmp_path / "runs" / job_key(config.jobs[1])
    record = read_record(killed)
    record["status"] = "running"
    write_record(killed, record)
    meta = json.loads((killed / "run" / "model.json").read_text())
    meta["status"] = "interrupted"
    (killed / "run" / "model.json").write_text(json.dumps(meta))
    (killed / "run" / "weights.npz").unlink()
    resumed = run_sweep(config, tmp_path, scheduler=scheduler, stream=None)
    assert (resumed.cached, resumed.done, resumed.failed) == (1, 1, 0)
    assert read_record(killed)["status"] == "done"
    assert read_record(killed)["attempt"] == 2
    assert json.loads((killed / "run" / "model.json").read_text())["status"] == "finished"
    assert (killed / "run" / "weights.npz").is_file()

    # Re-verification: the report is rebuilt from the trained weights, training untouched.
    from emt.experiments.sweep_job import reverify_job

    done = tmp_path / "runs" / job_key(config.jobs[0])
    expected = json.loads((done / "report.json").read_text())["checks"]
    weights_mtime = (done / "run" / "weights.npz").stat().st_mtime_ns
    (done / "report.json").unlink()
    record = reverify_job(done)
    assert record is not None and "reverified" in record
    assert json.loads((done / "report.json").read_text())["checks"] == expected
    assert read_record(done)["verify"]["checks"] == record["verify"]["checks"]
    assert (done / "run" / "weights.npz").stat().st_mtime_ns == weights_mtime


def _fail_on_seed_two(job, job_dir):
    if job["seed"] == 2:
        raise RuntimeError("deliberate failure for seed 2")
    return {"train": {"metrics": {"test_accuracy": 1.0}}}


def test_failing_job_is_recorded_and_the_rest_complete_on_a_local_cluster(tmp_path):
    data = json.loads(json.dumps(TINY))
    data["grid"]["seed"] = [1, 2, 3]
    config = parse_sweep_config(data)
    summary = run_sweep(config, tmp_path, workers=2, job_fn=_fail_on_seed_two, stream=None)
    assert (summary.done, summary.failed) == (2, 1)
    assert not summary.complete
    by_seed = {r["job"]["seed"]: r for r in summary.records}
    assert by_seed[2]["status"] == "failed"
    assert "deliberate failure for seed 2" in by_seed[2]["error"]
    assert "Traceback" in by_seed[2]["traceback"]
    assert by_seed[1]["status"] == by_seed[3]["status"] == "done"


def _die_once(job, job_dir):
    """Kill the worker process the first time (a crash, not an exception), succeed after."""
    marker = Path(job_dir) / "died-once"
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("x")
        os._exit(1)
    return {"train": {"metrics": {}}}


def test_job_whose_worker_dies_is_retried(tmp_path, scheduler):
    data = json.loads(json.dumps(TINY))
    data["grid"]["seed"] = [7]
    config = parse_sweep_config(data)
    summary = run_sweep(config, tmp_path, scheduler=scheduler, job_fn=_die_once, stream=None)
    assert (summary.done, summary.failed) == (1, 0)
    assert summary.records[0]["attempt"] == 2


BAD_CONFIGS = {
    "unknown_key": '[grid]\ntask = ["T1"]\nhidden = [8]\nl2 = [0.0]\nthreshold = [0.9]\n'
                   'seed = [1]\n[fixed]\nstepz = 10\n',
    "unknown_task": '[grid]\ntask = ["T9"]\nhidden = [8]\nl2 = [0.0]\nthreshold = [0.9]\n'
                    'seed = [1]\n',
    "empty_grid": '[grid]\ntask = ["T1"]\nhidden = []\nl2 = [0.0]\nthreshold = [0.9]\n'
                  'seed = [1]\n',
    "bad_type": '[grid]\ntask = ["T1"]\nhidden = ["big"]\nl2 = [0.0]\nthreshold = [0.9]\n'
                'seed = [1]\n',
    "not_toml": "[grid\n",
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_exits_2_and_writes_nothing(tmp_path, capsys, name):
    path = tmp_path / "bad.toml"
    path.write_text(BAD_CONFIGS[name])
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emt sweep: error:")
    expected = {"unknown_key": "stepz", "unknown_task": "T9", "empty_grid": "hidden",
                "bad_type": "hidden", "not_toml": "TOML"}[name]
    assert expected in err
    assert not out.exists()


def test_unreachable_scheduler_exits_2(tmp_path, capsys):
    path = tmp_path / "tiny.toml"
    path.write_text('[grid]\ntask = ["repeat-copy-3"]\nhidden = [8]\nl2 = [0.0]\n'
                    'threshold = [0.9]\nseed = [1]\n[fixed]\nsteps = 10\n')
    out = tmp_path / "out"
    code = main(["sweep", str(path), "--out", str(out), "--scheduler", UNREACHABLE])
    assert code == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert not (out / "runs").exists()

"""Sweeps train compatible jobs in groups: the plan, and a grouped sweep on a real Dask
LocalCluster (records per job, weights as when trained alone, a killed group resumes)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emt.experiments.sweep import plan_groups, run_sweep
from emt.experiments.sweep_config import job_key, parse_sweep_config, train_config
from emt.experiments.sweep_job import read_record, write_record
from emt.experiments.sweep_record import read_sweep_record
from emt.numerics import rundir
from emt.numerics.train import train

# As in tests/numerics/test_numerics_batched.py: float32 round-off between a group member and
# its single run, 1% of one Adam step (lr 1e-3).
GROUP_VS_SINGLE_ATOL = 1e-5


def tiny(seeds, hidden=(8,)) -> dict:
    return {
        "name": "tiny-groups",
        "grid": {"task": [{"s": 2, "d": 2, "ids": [3, 0, 0], "name": "rc2"}],
                 "hidden": list(hidden), "l2": [0.0, 1e-4], "threshold": [0.9],
                 "seed": list(seeds)},
        "fixed": {"steps": 40, "curriculum": [4, 8], "test_horizon": 20, "test_batches": 2,
                  "checkpoint_every": 10, "verify_horizon": 20},
    }


def test_plan_groups_keeps_shapes_apart_bounds_sizes_and_feeds_every_worker() -> None:
    jobs = list(parse_sweep_config(tiny(range(1, 8), hidden=(8, 16))).jobs)  # 2 x 2 x 7 = 28
    for slots, max_group in ((1, 16), (2, 16), (2, 3), (8, 4), (100, 16)):
        groups = plan_groups(jobs, slots, max_group)
        flat = [job_key(j) for g in groups for j in g]
        assert sorted(flat) == sorted(job_key(j) for j in jobs)  # every job exactly once
        for g in groups:
            assert 1 <= len(g) <= max_group
            assert len({j["hidden"] for j in g}) == 1  # one step shape per group
        per_shape = [g for g in groups if g[0]["hidden"] == 8]
        assert len(per_shape) >= min(slots, 14)
        assert max(map(len, per_shape)) - min(map(len, per_shape)) <= 1
    assert [len(g) for g in plan_groups(jobs, 1, 16)] == [14, 14]
    with pytest.raises(ValueError, match="max_group"):
        plan_groups(jobs, 1, 0)


@pytest.mark.sweep
def test_a_grouped_sweep_records_each_job_and_resumes_a_killed_group(tmp_path) -> None:
    config = parse_sweep_config(tiny([1, 2]))  # 4 jobs of one shape: one group on one worker
    summary = run_sweep(config, tmp_path, workers=1, stream=None)
    assert (summary.done, summary.failed) == (4, 0), summary.records
    for job in config.jobs:
        record = read_record(tmp_path / "runs" / job_key(job))
        assert record["status"] == "done" and record["group"]["size"] == 4
        assert record["verify"]["checks"]
        assert read_sweep_record(record).group == record["group"]  # the schema reads it back
    job = config.jobs[3]
    run = tmp_path / "runs" / job_key(job) / "run"
    alone = train(train_config(job), progress=False)
    weights, _, _ = rundir.load_run(run)
    for name in ("W_uh", "W_hh", "W_hy"):
        np.testing.assert_allclose(getattr(weights, name), getattr(alone.weights, name),
                                   rtol=0, atol=GROUP_VS_SINGLE_ATOL)

    # Two jobs of the group were killed mid-way: both go out again, as one group, and resume.
    for job in config.jobs[:2]:
        job_dir = tmp_path / "runs" / job_key(job)
        record = read_record(job_dir)
        record["status"] = "running"
        write_record(job_dir, record)
        meta = json.loads((job_dir / "run" / "model.json").read_text())
        meta["status"] = "interrupted"
        (job_dir / "run" / "model.json").write_text(json.dumps(meta))
        (job_dir / "run" / "weights.npz").unlink()
    resumed = run_sweep(config, tmp_path, workers=1, stream=None)
    assert (resumed.cached, resumed.done, resumed.failed) == (2, 2, 0)
    for job in config.jobs[:2]:
        record = read_record(tmp_path / "runs" / job_key(job))
        assert record["status"] == "done" and record["attempt"] == 2
        assert record["group"]["size"] == 2


def test_sweep_jobs_take_defaults_types_and_ranges_from_trainconfig() -> None:
    from dataclasses import fields

    from emt.experiments.sweep_config import FIXED_DEFAULTS, JOB_TRAIN_KEYS
    from emt.numerics.config import TrainConfig

    defaults = {f.name: f.default for f in fields(TrainConfig)}
    for key in JOB_TRAIN_KEYS:
        value = FIXED_DEFAULTS[key]
        assert (tuple(value) if isinstance(value, list) else value) == defaults[key], key
    # Any TrainConfig field outside the grid may be fixed, with its type from the annotation.
    data = tiny([1])
    data["fixed"].update(lr=0.002, batch=8, clip=2)
    job = parse_sweep_config(data).jobs[0]
    assert (job["lr"], job["batch"], job["clip"]) == (0.002, 8, 2.0)
    assert isinstance(job["clip"], float)
    assert train_config(job).batch == 8
    for key, bad, message in (("batch", 0, "batch"), ("lr", -1.0, "lr"), ("batch", 1.5, "int"),
                              ("curriculum", [4, 0], "curriculum"), ("nonsense", 1, "unknown")):
        broken = tiny([1])
        broken["fixed"][key] = bad
        with pytest.raises(ValueError, match=message):
            parse_sweep_config(broken, source="s.toml")

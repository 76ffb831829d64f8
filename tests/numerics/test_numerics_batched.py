"""Group training (`numerics.group`): a member trained in a group follows its single run, the
curriculum and early stop are per member, finished members leave the group, run directories are
ordinary run directories, a killed group resumes exactly, bad groups are refused.  Small nets."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from emt.numerics import rundir
from emt.numerics.group import train_group
from emt.numerics.train import TrainConfig, train
from emt.theory.registry import get

# A member and its single run compute the same float32 operations in a different order (batched
# contractions, sums over padded steps that add exact zeros), so they differ by round-off:
# ~1e-7 measured after 100 steps.  One Adam step moves an entry by up to ~lr = 1e-3, so a member
# that got a single update wrong (another L2, clip, lr, batch or Adam count) is off by far more
# than 1% of one step, which is this tolerance.
GROUP_VS_SINGLE_ATOL = 1e-5
NAMES = ("W_uh", "W_hh", "W_hy")


def _max_diff(a, b) -> float:
    return max(float(np.max(np.abs(getattr(a, n) - getattr(b, n)))) for n in NAMES)


def mixed_group(steps: int = 100) -> list[TrainConfig]:
    """Members of one shape (s = d = 8, N_h 32) differing in task, seed, L2, lr, clip,
    threshold and steps; the low thresholds make them advance through the curriculum at
    different steps, so the padded, masked step is exercised."""
    common = dict(hidden=32, batch=16, curriculum=(4, 8, 16), test_horizon=20, test_batches=1)
    return [TrainConfig(task=get("T1"), seed=1, steps=steps, threshold=0.6, **common),
            TrainConfig(task=get("T2"), seed=2, steps=steps, l2=1e-3, threshold=0.9, **common),
            TrainConfig(task=get("T3"), seed=3, steps=steps - 40, lr=3e-3, clip=0.5,
                        threshold=0.55, **common)]


def test_member_follows_its_single_run_for_100_steps() -> None:
    configs = mixed_group(100)
    group = train_group(configs, progress=False)
    assert group.ok and group.padded_fraction > 0  # horizons differed during the run
    for config, member in zip(configs, group.results, strict=True):
        alone = train(config, progress=False)
        assert member is not None
        assert member.advances == alone.advances and len(member.history) == len(alone.history)
        diff = _max_diff(member.weights, alone.weights)
        assert diff <= GROUP_VS_SINGLE_ATOL, f"seed {config.seed}: max |dW| {diff:.3g}"
        np.testing.assert_allclose([h["loss"] for h in member.history],
                                   [h["loss"] for h in alone.history], rtol=1e-5)
    # The tolerance separates: the L2 member against its run without L2 is far outside it.
    other = train(replace(configs[1], l2=0.0), progress=False)
    assert _max_diff(group.results[1].weights, other.weights) > 10 * GROUP_VS_SINGLE_ATOL


def test_finished_members_stop_costing_time() -> None:
    base = TrainConfig(task=get("repeat-copy-3"), hidden=8, batch=8, curriculum=(3, 6),
                       test_horizon=10, test_batches=1, steps=10)
    group = train_group([base, replace(base, seed=2, steps=30), replace(base, seed=3, steps=20)],
                        progress=False)
    assert group.sizes == [3] * 10 + [2] * 10 + [1] * 10
    assert group.model_steps == 60
    assert [r.metrics["steps_done"] for r in group.results] == [10, 30, 20]


def test_a_diverging_member_is_recorded_and_the_others_finish(tmp_path) -> None:
    base = TrainConfig(task=get("repeat-copy-3"), hidden=8, batch=8, curriculum=(3,),
                       test_horizon=10, test_batches=1, steps=12)
    # lr 1e30: one Adam step moves every weight by ~1e30, so the next loss overflows.
    group = train_group([base, replace(base, seed=2, lr=1e30)],
                        [tmp_path / "a", tmp_path / "b"], progress=False)
    assert group.errors[0] is None and group.results[0].metrics["steps_done"] == 12
    assert group.results[1] is None and "diverged" in group.errors[1]
    meta = rundir.read_model_json(tmp_path / "b")
    assert meta["status"] == "interrupted" and "diverged" in meta["error"]
    assert not (tmp_path / "b" / rundir.WEIGHTS).exists()


def _tiny(seed: int, **kw) -> TrainConfig:
    base = dict(task=get("repeat-copy-3"), hidden=16, steps=40, batch=16, curriculum=(5, 10),
                threshold=0.7, test_horizon=20, test_batches=2, checkpoint_every=10,
                history_every=5, seed=seed)
    base.update(kw)
    return TrainConfig(**base)


def test_run_directories_are_ordinary_and_a_killed_group_resumes_exactly(tmp_path,
                                                                         interrupt_group) -> None:
    configs = [_tiny(1), _tiny(2, l2=1e-4)]
    straight = train_group(configs, [tmp_path / "s1", tmp_path / "s2"], progress=False)

    # Each member's directory has the files and fields of a single run's directory.
    single = train(configs[0], tmp_path / "single", progress=False)
    ours, theirs = (json.loads((p / rundir.MODEL_JSON).read_text())
                    for p in (tmp_path / "s1", tmp_path / "single"))
    assert set(ours) == set(theirs) and ours["config"] == theirs["config"]
    assert ours["versions"] == theirs["versions"]
    assert ours["status"] == "finished" and ours["metrics"].keys() == theirs["metrics"].keys()
    assert ours["curriculum_advances"] == theirs["curriculum_advances"]
    assert sorted(p.name for p in (tmp_path / "s1").iterdir()) == sorted(
        p.name for p in (tmp_path / "single").iterdir())
    w, _, _ = rundir.load_run(tmp_path / "s1")
    assert _max_diff(w, single.weights) <= GROUP_VS_SINGLE_ATOL
    arrays, ck, _ = rundir.load_checkpoint(tmp_path / "s1")
    assert set(arrays) == set(rundir.load_checkpoint(tmp_path / "single")[0]) and ck["step"] == 40

    # Kill the group at step 25 (Ctrl-C saves every member's state, as a single run does),
    # then run it again.
    undo = interrupt_group(2, 25)
    dirs = [tmp_path / "k1", tmp_path / "k2"]
    with pytest.raises(KeyboardInterrupt):
        train_group(configs, dirs, progress=False)
    for d in dirs:
        meta = rundir.read_model_json(d)
        assert meta["status"] == "interrupted" and meta["steps_done"] == 25
    undo()
    resumed = train_group(configs, dirs, progress=False)
    for a, b in zip(straight.results, resumed.results, strict=True):
        for n in NAMES:
            np.testing.assert_array_equal(getattr(a.weights, n), getattr(b.weights, n))
        assert a.history == b.history
    assert resumed.model_steps == 2 * 15  # only the steps after the checkpoint were trained

    # Finished members are returned as they are; extending the steps resumes them.
    again = train_group(configs, dirs, progress=False)
    assert again.model_steps == 0
    longer = train_group([replace(c, steps=50) for c in configs], dirs, progress=False)
    assert longer.model_steps == 2 * 10
    assert all(r.metrics["steps_done"] == 50 for r in longer.results)


def test_bad_groups_are_refused_before_anything_is_written(tmp_path) -> None:
    with pytest.raises(ValueError, match="must share"):
        train_group([_tiny(1), _tiny(2, hidden=8)], progress=False)
    with pytest.raises(ValueError, match="share an output directory"):
        train_group([_tiny(1), _tiny(2)], [tmp_path / "x", tmp_path / "x"], progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        train_group([], progress=False)
    with pytest.raises(ValueError, match="2 members"):
        train_group([_tiny(1), _tiny(2)], [tmp_path / "x"], progress=False)
    # A member whose directory holds another configuration stops the whole group up front.
    train(_tiny(2, steps=10), tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match="different configuration"):
        train_group([_tiny(1), _tiny(2, l2=0.5)], [tmp_path / "a", tmp_path / "b"],
                    progress=False)
    assert not (tmp_path / "a").exists()
    # A corrupt checkpoint too.
    meta = rundir.read_model_json(tmp_path / "b")
    meta["status"] = "interrupted"
    rundir.write_model_json(tmp_path / "b", meta)
    (tmp_path / "b" / rundir.CHECKPOINT).write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="corrupt checkpoint"):
        train_group([_tiny(1), _tiny(2, steps=10)], [tmp_path / "a", tmp_path / "b"],
                    progress=False)
    assert not (tmp_path / "a").exists()


# The learning bar of the single-run test (test sign accuracy at H = 200) and its budget: seeds
# 1-3 of repeat-copy-3 with N_h 32 reach it by step ~1,700 alone (see test_numerics_train_learns).
# Two members keep the train tier short (30 s at load average ~3 here; three took 3.3 min at ~9).
LEARNED_ACCURACY = 0.99
BUDGET = 3000


@pytest.mark.train
def test_every_member_of_a_group_learns() -> None:
    base = TrainConfig(task=get("repeat-copy-3"), hidden=32, steps=BUDGET, seed=1)
    # (Seed 3 with threshold 0.9 was tried too: it reached H = 100 but only 0.88 at H = 200
    # within this budget; the threshold's effect, not the group's, which the 100-step test
    # holds to the single run.)
    configs = [base, replace(base, seed=2, l2=1e-5)]
    group = train_group(configs, progress=False)
    for config, result in zip(configs, group.results, strict=True):
        assert result is not None, group.errors
        m = result.metrics
        assert m["final_horizon"] == 100, f"seed {config.seed}: stuck at H {m['final_horizon']}"
        assert m["test_accuracy"] >= LEARNED_ACCURACY, (config.seed, m)

"""Growing tasks: targets past float32 stay finite (float64), training refuses horizons whose
squared errors overflow float32, and the run record is standard JSON."""

from __future__ import annotations

import numpy as np
import pytest

from emt.numerics.config import TrainConfig
from emt.numerics.data import FLOAT32_MAX, continue_sequence, make_batch, target_bounds
from emt.theory.registry import get
from emt.theory.taskspec import TaskSpec


def test_fibonacci_targets_at_h200_are_finite_float64() -> None:
    task = get("fibonacci-2")
    batch = make_batch(task, 4, 200, 0)
    assert batch.targets.dtype == np.float64
    assert np.all(np.isfinite(batch.targets))
    assert np.max(np.abs(batch.targets)) > FLOAT32_MAX
    assert make_batch(task, 4, 20, 0).targets.dtype == np.float32
    assert make_batch(get("T1"), 4, 200, 0).targets.dtype == np.float32


def test_target_bounds_bound_every_sign_pattern() -> None:
    task = TaskSpec(2, 2, [[1, "1/2"], [0, -1], ["-3/2", 0], [1, 1]])
    bounds = target_bounds(task, 12)
    rng = np.random.default_rng(0)
    window = rng.choice([-1.0, 1.0], size=(256, 2, 2))
    x = continue_sequence(task, window, 12)
    assert np.all(np.abs(x).max(axis=(0, 2)) <= bounds * (1 + 1e-12))
    # exact (attained) when F has no cancelling signs
    fib = get("fibonacci-2")
    ones = continue_sequence(fib, np.ones((1, 2, 2)), 30)
    np.testing.assert_allclose(np.abs(ones).max(axis=(0, 2)), target_bounds(fib, 30))


def test_training_refuses_a_curriculum_that_overflows_float32() -> None:
    task = get("fibonacci-2")
    with pytest.raises(ValueError, match=r"overflow float32 \(training\); use curriculum "
                       r"horizons <= \d+"):
        TrainConfig(task=task, curriculum=(10, 20, 40, 60, 100))
    TrainConfig(task=task, curriculum=(10, 20, 40, 60))  # within range: accepted


def test_the_default_curriculum_is_the_papers_cut_where_float32_ends() -> None:
    """Bounded tasks keep the paper's curriculum; fibonacci-2's ends at the longest horizon
    whose squared errors fit float32 (82 at batch 64), and one more step would overflow."""
    from emt.numerics.config import PAPER_CURRICULUM, default_curriculum
    from emt.theory.registry import names

    for name in names():
        if name != "fibonacci-2":
            assert TrainConfig(task=get(name)).curriculum == PAPER_CURRICULUM
    fib = get("fibonacci-2")
    assert TrainConfig(task=fib).curriculum == default_curriculum(fib) == (10, 20, 40, 60, 82)
    with pytest.raises(ValueError, match="overflow float32"):
        TrainConfig(task=fib, curriculum=(10, 20, 40, 60, 83))
    assert default_curriculum(fib, batch=4096)[-1] < 82  # a bigger batch sums more errors


def test_sequence_overflowing_float64_is_a_clear_error() -> None:
    task = TaskSpec(1, 1, [[10**30]])
    with pytest.raises(ValueError, match="overflows float64 within H = 20"):
        continue_sequence(task, np.ones((1, 1, 1)), 20)


def test_run_records_are_standard_json(tmp_path) -> None:
    import json

    from emt.numerics import rundir

    rundir.write_model_json(tmp_path, {"status": "finished", "task": {}, "config": {},
                                       "metrics": {"test_mse": float("inf"),
                                                   "final_loss": float("nan")}})
    text = (tmp_path / rundir.MODEL_JSON).read_text()
    assert "Infinity" not in text and "NaN" not in text
    meta = json.loads(text, parse_constant=lambda token: pytest.fail(f"non-standard {token}"))
    assert meta["metrics"] == {"test_mse": None, "final_loss": None}

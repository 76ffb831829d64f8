"""Task data: targets equal what the theory's circuit outputs from the loaded state, for every
registered task; input layout; validation."""

from __future__ import annotations

import numpy as np
import pytest

from emt.numerics.data import continue_sequence, make_batch, sign_accuracy
from emt.theory import registry
from emt.theory.circuit import Circuit, loaded_state_outputs, random_psi

# Targets are float32; the numeric circuit is float64 with a well-conditioned Psi (cond < 1e6).
# Relative float32 resolution is 6e-8; 1e-5 relative covers the circuit's round-off too, and
# entries grow at most geometrically over the short horizon used (fibonacci-2: ~1.6^t).
TARGET_RTOL, TARGET_ATOL = 1e-5, 1e-5


def circuit_outputs(task, batch) -> np.ndarray:
    """(B, H, d) outputs of the circuit started at h(s-1) = Psi [x(0); ..; x(s-1)]."""
    B, H = batch.targets.shape[:2]
    circuit = Circuit(task, random_psi(task, task.n_slots + 3, 0))
    window = batch.inputs[:, : task.s].reshape(B, task.n_slots).T.astype(np.float64)
    return np.transpose(loaded_state_outputs(circuit, window, H), (2, 0, 1))


@pytest.mark.parametrize("name", registry.names())
def test_targets_equal_loaded_state_circuit_outputs(name: str) -> None:
    task = registry.get(name)
    batch = make_batch(task, 5, 2 * task.s + 3, np.random.default_rng(11))
    np.testing.assert_allclose(batch.targets, circuit_outputs(task, batch), rtol=TARGET_RTOL,
                               atol=TARGET_ATOL)


def test_the_comparison_fails_for_the_wrong_task() -> None:
    """The oracle can fail: repeat-copy data does not match the reverse-copy circuit."""
    batch = make_batch(registry.get("repeat-copy-4"), 5, 8, np.random.default_rng(1))
    wrong = circuit_outputs(registry.get("reverse-copy-4"), batch)
    assert not np.allclose(batch.targets, wrong, rtol=TARGET_RTOL, atol=TARGET_ATOL)


def test_batch_layout_and_seeding() -> None:
    task = registry.get("repeat-copy-3")
    b = make_batch(task, 4, 7, 5)
    assert b.inputs.shape == (4, 10, 3) and b.targets.shape == (4, 7, 3)
    assert b.inputs.dtype == np.float32 and b.targets.dtype == np.float32
    assert set(np.unique(b.inputs[:, :3])) <= {-1.0, 1.0}
    assert np.all(b.inputs[:, 3:] == 0)
    np.testing.assert_array_equal(b.targets[:, :3], b.inputs[:, :3])  # repeat copy
    np.testing.assert_array_equal(make_batch(task, 4, 7, 5).inputs, b.inputs)
    assert not np.array_equal(make_batch(task, 4, 7, 6).inputs, b.inputs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch_size": 0}, "batch_size"), ({"horizon": 0}, "horizon"), ({"rng": -1}, "seed"),
    ({"rng": 1.5}, "seed"),
])
def test_make_batch_rejects_bad_arguments(kwargs, message) -> None:
    args = {"task": registry.get("repeat-copy-3"), "batch_size": 2, "horizon": 3, "rng": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        make_batch(**args)


def test_continue_sequence_and_sign_accuracy_validate() -> None:
    task = registry.get("repeat-copy-3")
    with pytest.raises(ValueError, match="shape"):
        continue_sequence(task, np.zeros((2, 2, 3)), 4)
    with pytest.raises(ValueError, match="shape"):
        sign_accuracy(np.zeros((2, 3)), np.zeros((3, 2)))
    assert sign_accuracy(np.array([1.0, -2.0, 0.0]), np.array([1.0, 1.0, 1.0])) == 2 / 3

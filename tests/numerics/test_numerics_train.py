"""The training step and loop: equivalence with Keras, the update rule, config validation,
determinism, exact resume, Ctrl-C, run directories.  All runs here are tiny (tens of steps)."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import replace

import numpy as np
import pytest

import emt.numerics.train as train_mod
from emt.numerics import rundir
from emt.numerics.data import make_batch
from emt.numerics.model import build_keras_model, init_weights
from emt.numerics.rundir import load_run
from emt.numerics.step_rnn import ADAM_BETA1, ADAM_BETA2, ADAM_EPS, RawRNN
from emt.numerics.train import TrainConfig, resume_run, train
from emt.theory.registry import get

# Keras' SimpleRNN and our scan compute the same float32 operations in a different order; the
# differences are float32 round-off (~1e-7 relative), so 1e-5 absolute is a 100x margin for
# O(1) outputs and gradients.
RAW_VS_KERAS_ATOL = 1e-5
# One Adam step reproduced in float64 numpy vs the float32 TF step: round-off only.
UPDATE_ATOL = 1e-6

TASK = get("repeat-copy-3")


def tiny_config(**kw) -> TrainConfig:
    base = dict(task=TASK, hidden=16, steps=30, batch=16, curriculum=(5, 10), test_horizon=20,
                test_batches=2, checkpoint_every=10, history_every=5, seed=3)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_raw_recurrence_matches_keras_outputs_and_gradients(activation: str) -> None:
    import tensorflow as tf

    w = init_weights(12, TASK.d, activation, seed=5)
    batch = make_batch(TASK, 8, 7, np.random.default_rng(0))
    net = RawRNN(w, TASK.s, lr=1e-3, clip=1.0, l2=0.0)
    loss, acc, grads = net.loss_and_grads(batch.inputs, batch.targets)
    model = build_keras_model(w)
    rnn, dense = model.layers[1], model.layers[2]
    with tf.GradientTape() as tape:
        y = model(batch.inputs)
        k_loss = tf.reduce_mean(tf.square(y[:, TASK.s:] - batch.targets))
    k_grads = tape.gradient(k_loss, [rnn.cell.kernel, rnn.cell.recurrent_kernel, dense.kernel])
    np.testing.assert_allclose(net.forward(batch.inputs), y, atol=RAW_VS_KERAS_ATOL)
    np.testing.assert_allclose(float(loss), float(k_loss), atol=RAW_VS_KERAS_ATOL)
    # Keras holds transposes: d/dkernel = (d/dW_uh)^T etc.
    for ours, theirs in zip((grads["W_uh"], grads["W_hh"], grads["W_hy"]), k_grads, strict=True):
        np.testing.assert_allclose(np.asarray(ours).T, np.asarray(theirs), atol=RAW_VS_KERAS_ATOL)
    # The hand-written BPTT against the tape over the same scan.
    t_loss, t_acc, t_grads = net.loss_and_grads_autodiff(batch.inputs, batch.targets)
    assert float(acc) == float(t_acc)
    np.testing.assert_allclose(float(loss), float(t_loss), atol=RAW_VS_KERAS_ATOL)
    for n in ("W_uh", "W_hh", "W_hy"):
        np.testing.assert_allclose(grads[n], t_grads[n], atol=RAW_VS_KERAS_ATOL)
        assert np.max(np.abs(np.asarray(grads[n]))) > 100 * RAW_VS_KERAS_ATOL  # not vacuous
    y_out = np.asarray(y)[:, TASK.s:]
    # float32 mean of 0/1 entries: exact to float32 resolution
    assert float(acc) == pytest.approx(np.mean((y_out >= 0) == (batch.targets >= 0)), abs=1e-6)


def test_train_step_is_clip_then_coupled_l2_then_pytorch_adam() -> None:
    """One step against the rule written out in numpy: the clip binds (clip 0.01) and l2 is
    large, so adding the decay before the clip, or Keras' eps placement, would fail this."""
    w = init_weights(10, TASK.d, "tanh", seed=2)
    batch = make_batch(TASK, 8, 6, np.random.default_rng(1))
    clip, l2, lr = 0.01, 0.5, 1e-2
    net = RawRNN(w, TASK.s, lr=lr, clip=clip, l2=l2)
    _, _, grads = net.loss_and_grads(batch.inputs, batch.targets)
    g = {n: np.asarray(v, np.float64) for n, v in grads.items()}
    norm = np.sqrt(sum(np.sum(v ** 2) for v in g.values()))
    assert norm > clip  # the clip must bind for this test to mean anything
    expected = {}
    for n, gn in g.items():
        p = np.asarray(getattr(w, n), np.float32).astype(np.float64)
        gn = gn * clip / norm + l2 * p
        m, v = (1 - ADAM_BETA1) * gn, (1 - ADAM_BETA2) * gn ** 2
        expected[n] = p - lr * (m / (1 - ADAM_BETA1)) / (np.sqrt(v / (1 - ADAM_BETA2)) + ADAM_EPS)
    net.train_step(batch.inputs, batch.targets)
    for n, e in expected.items():
        np.testing.assert_allclose(net.vars[n].numpy(), e, atol=UPDATE_ATOL)


def test_train_step_traced_once_across_horizons() -> None:
    net = RawRNN(init_weights(8, TASK.d, "tanh", seed=1), TASK.s, lr=1e-3, clip=1.0, l2=0.0)
    rng = np.random.default_rng(0)
    for H in (10, 20, 40):
        b = make_batch(TASK, 4, H, rng)
        net.train_step(b.inputs, b.targets)
    assert net.train_step.experimental_get_tracing_count() == 1


@pytest.mark.parametrize(("field", "value"), [
    ("hidden", 0), ("hidden", -3), ("l2", -0.1), ("l2", float("nan")), ("threshold", 0.0),
    ("threshold", 1.0), ("threshold", 1.5), ("steps", 0), ("activation", "relu"),
    ("curriculum", ()), ("lr", 0.0), ("seed", -1), ("batch", True),
])
def test_train_config_rejects_bad_values_naming_the_field(field: str, value) -> None:
    with pytest.raises(ValueError, match=field):
        TrainConfig(task=TASK, **{field: value})


def test_same_seed_gives_identical_weights_and_other_seed_does_not() -> None:
    a = train(tiny_config(), progress=False)
    b = train(tiny_config(), progress=False)
    c = train(tiny_config(seed=4), progress=False)
    for n in ("W_uh", "W_hh", "W_hy"):
        np.testing.assert_array_equal(getattr(a.weights, n), getattr(b.weights, n))
    assert not np.array_equal(a.weights.W_hh, c.weights.W_hh)
    assert a.history == b.history
    assert 0.0 <= a.metrics["test_accuracy"] <= 1.0


def test_run_of_2n_steps_equals_n_steps_resumed_for_n_more(tmp_path) -> None:
    # threshold low enough that the curriculum advances inside the first N steps
    cfg = tiny_config(steps=40, threshold=0.5)
    full = train(cfg, tmp_path / "full", progress=False)
    half = train(replace(cfg, steps=20), tmp_path / "split", progress=False)
    assert half.metrics["steps_done"] == 20
    resumed = resume_run(tmp_path / "split", steps=40, progress=False)
    for n in ("W_uh", "W_hh", "W_hy"):
        np.testing.assert_array_equal(getattr(full.weights, n), getattr(resumed.weights, n))
    assert full.history == resumed.history
    assert full.metrics["test_accuracy"] == resumed.metrics["test_accuracy"]
    w, task, meta = load_run(tmp_path / "split")
    np.testing.assert_array_equal(w.W_hh, full.weights.W_hh)
    assert task.same_task(TASK) and meta["status"] == "finished" and meta["steps_done"] == 40


def test_run_directory_contents(tmp_path) -> None:
    res = train(tiny_config(), tmp_path / "run", progress=False)
    meta = json.loads((tmp_path / "run" / rundir.MODEL_JSON).read_text())
    assert meta["status"] == "finished"
    assert meta["task"]["F"] == TASK.to_json()["F"]
    assert meta["config"]["hidden"] == 16 and meta["seed"] == 3
    assert {"numpy", "tensorflow"} <= set(meta["versions"])
    assert [h["step"] for h in meta["history"]] == [5, 10, 15, 20, 25, 30]
    assert meta["metrics"]["test_accuracy"] == res.metrics["test_accuracy"]
    w, _, _ = load_run(tmp_path / "run")
    np.testing.assert_array_equal(w.W_hh, res.weights.W_hh)
    # no stray temporary files from the atomic writes
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(
        [rundir.MODEL_JSON, rundir.CHECKPOINT, rundir.WEIGHTS])
    # the same config into the same finished directory is returned, not retrained
    again = train(tiny_config(), tmp_path / "run", progress=False)
    np.testing.assert_array_equal(again.weights.W_hh, res.weights.W_hh)


def test_ctrl_c_saves_checkpoint_and_resume_is_exact(tmp_path, monkeypatch) -> None:
    cfg = tiny_config(steps=30, checkpoint_every=1000)
    reference = train(cfg, progress=False)
    calls = {"n": 0}
    real_make_batch = train_mod.make_batch

    def interrupting_make_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 12:  # a Ctrl-C arriving in the middle of step 12
            os.kill(os.getpid(), signal.SIGINT)
        return real_make_batch(*args, **kwargs)

    monkeypatch.setattr(train_mod, "make_batch", interrupting_make_batch)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, run, progress=False)
    monkeypatch.setattr(train_mod, "make_batch", real_make_batch)
    meta = rundir.read_model_json(run)
    assert meta["status"] == "interrupted" and meta["steps_done"] == 12
    assert not (run / rundir.WEIGHTS).exists()
    with pytest.raises(ValueError, match="not finished"):
        load_run(run)
    resumed = resume_run(run, progress=False)
    np.testing.assert_array_equal(resumed.weights.W_hh, reference.weights.W_hh)
    np.testing.assert_array_equal(resumed.weights.W_hy, reference.weights.W_hy)


def test_out_dir_must_be_empty_or_the_same_run(tmp_path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not a run")
    with pytest.raises(ValueError, match="not a run directory"):
        train(tiny_config(), other, progress=False)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    run = tmp_path / "run"
    train(tiny_config(steps=10), run, progress=False)
    before = (run / rundir.MODEL_JSON).read_bytes()
    with pytest.raises(ValueError, match="hidden"):
        train(tiny_config(steps=10, hidden=17), run, progress=False)
    assert (run / rundir.MODEL_JSON).read_bytes() == before


def test_corrupt_checkpoint_is_a_clear_error(tmp_path) -> None:
    run = tmp_path / "run"
    train(tiny_config(steps=10), run, progress=False)
    (run / rundir.CHECKPOINT).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="corrupt checkpoint"):
        resume_run(run, steps=20, progress=False)


def test_stop_when_learned_ends_early_and_the_default_does_not() -> None:
    cfg = tiny_config(steps=300, curriculum=(5,), threshold=0.6, stop_when_learned=True)
    early = train(cfg, progress=False)
    assert early.metrics["steps_done"] < 300
    assert early.metrics["final_batch_accuracy"] > 0.6
    full = train(replace(cfg, steps=early.metrics["steps_done"] + 5, stop_when_learned=False),
                 progress=False)
    assert full.metrics["steps_done"] == early.metrics["steps_done"] + 5


def test_progress_is_quiet_off_a_terminal_and_draws_on_one(capsys, monkeypatch) -> None:
    # captured stderr is not a terminal: nothing is drawn, even with progress on
    train(tiny_config(steps=12), progress=True)
    assert capsys.readouterr().err == ""
    # on a terminal the bar shows the step count and the training status
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich's switch: treat stderr as a terminal
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    train(tiny_config(steps=12), progress=True)
    err = capsys.readouterr().err
    assert "emt train" in err and "12/12" in err and "loss" in err and "H 5" in err
    assert "steps/s" in err
    train(tiny_config(steps=12), progress=False)
    assert capsys.readouterr().err == ""

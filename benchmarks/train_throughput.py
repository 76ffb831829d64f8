"""Training throughput of the paper's model: our compiled step vs Keras vs a PyTorch reference.

    .venv/bin/python benchmarks/train_throughput.py [--steps 200] [--torch-python PATH] [--json F]

The whole-machine group-training comparison (and its ``--memory N``) is `group_throughput.py`,
which imports the model constants below.

Model: N_h 128, s = d = 8 (task T1), batch 64, H = 100 (so 108 time steps), tanh, no biases,
Adam lr 1e-3, global-norm clip 1.0, MSE on the output phase, a fresh batch every step.

Measured (steps/s, after a warm-up that includes tracing):
  ours        `numerics.step_rnn.RawRNN.train_step` (tf.function: scan recurrence, hand BPTT)
  keras-step  the same step written around the Keras SimpleRNN model (tf.function + tape)
  keras-fit   `model.fit` on pre-generated batches, Adam(global_clipnorm=1.0)
  torch       torch.nn.RNN(tanh, bias=False) + Linear(bias=False), Adam, clip_grad_norm_, run in
              whichever interpreter has torch (this one, --torch-python, $EMT_TORCH_PYTHON or
              /tmp/torchvenv/bin/python), else skipped with a message
Methods run in interleaved rounds and the median is reported, because the cores are shared and
the load drifts.  ``--threads`` (default 1, as `emt train`) is applied to TF and torch alike.
Then ours at every curriculum horizon, and the estimated wall time of a full 20,000-step run:
an upper bound with every step at H = 100, and the time for a given split of steps per stage.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

N_HIDDEN, BATCH, HORIZON, TASK = 128, 64, 100, "T1"
CURRICULUM = (10, 20, 40, 60, 100)
FULL_RUN_STEPS = 20000
LABELS = {"ours": "ours (compiled raw recurrence)",
          "keras_step": "Keras SimpleRNN, tf.function step",
          "keras_fit": "Keras fit", "torch": "PyTorch nn.RNN reference"}

TORCH_CODE = r"""
import json, sys, time
import numpy as np
import torch
cfg = json.loads(sys.argv[1])
torch.manual_seed(0)
if cfg["threads"] > 0:
    torch.set_num_threads(cfg["threads"])
s, d, n_h, B, H, steps = cfg["s"], cfg["d"], cfg["n_h"], cfg["batch"], cfg["H"], cfg["steps"]
rnn = torch.nn.RNN(d, n_h, nonlinearity="tanh", bias=False, batch_first=True)
out = torch.nn.Linear(n_h, d, bias=False)
params = list(rnn.parameters()) + list(out.parameters())
opt = torch.optim.Adam(params, lr=1e-3)
rng = np.random.default_rng(0)
def batch():
    u = np.zeros((B, s + H, d), np.float32)
    u[:, :s] = rng.choice([-1.0, 1.0], size=(B, s, d))
    x = np.concatenate([u[:, :s], np.zeros((B, H, d), np.float32)], axis=1)
    for t in range(s, s + H):
        x[:, t] = x[:, t - s]  # repeat copy: same cost as any F for the network
    return torch.from_numpy(u), torch.from_numpy(x[:, s:].copy())
def step():
    u, y = batch()
    opt.zero_grad()
    h, _ = rnn(u)
    loss = torch.mean((out(h[:, s:]) - y) ** 2)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
for _ in range(10):
    step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
dt = time.perf_counter() - t0
print(json.dumps({"steps_per_s": steps / dt, "torch": torch.__version__,
                  "threads": torch.get_num_threads()}))
"""


def make_ours(task, horizon: int) -> Callable[[int], float]:
    """A timer for ``n`` of our steps (fresh batch each) -> seconds; traced on creation."""
    from emt.numerics.data import make_batch
    from emt.numerics.model import init_weights
    from emt.numerics.step_rnn import RawRNN

    net = RawRNN(init_weights(N_HIDDEN, task.d, "tanh", 1), task.s, lr=1e-3, clip=1.0, l2=0.0)
    rng = np.random.default_rng(0)

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            b = make_batch(task, BATCH, horizon, rng)
            float(net.train_step(b.inputs, b.targets)[0])  # float(): wait for the result
        return time.perf_counter() - t0

    run(3)
    return run


def make_keras_step(task) -> Callable[[int], float]:
    """The same step written around the Keras SimpleRNN model (tf.function + GradientTape)."""
    import keras
    import tensorflow as tf

    from emt.numerics.data import make_batch
    from emt.numerics.model import build_keras_model, init_weights

    model = build_keras_model(init_weights(N_HIDDEN, task.d, "tanh", 1))
    opt = keras.optimizers.Adam(1e-3, global_clipnorm=1.0)
    s = task.s

    @tf.function
    def train_step(u, y):  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(u)[:, s:] - y))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables, strict=True))
        return loss

    rng = np.random.default_rng(0)

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            b = make_batch(task, BATCH, HORIZON, rng)
            float(train_step(b.inputs, b.targets))
        return time.perf_counter() - t0

    run(3)
    return run


def make_keras_fit(task, n: int) -> Callable[[int], float]:
    """``model.fit`` for one epoch of ``n`` pre-generated batches (data generation excluded,
    which favours fit slightly)."""
    import keras

    from emt.numerics.data import make_batch
    from emt.numerics.model import build_keras_model, init_weights

    model = build_keras_model(init_weights(N_HIDDEN, task.d, "tanh", 1))
    s = task.s

    def output_phase_mse(y_true, y_pred):  # type: ignore[no-untyped-def]
        return keras.ops.mean(keras.ops.square(y_pred[:, s:] - y_true[:, s:]))

    model.compile(optimizer=keras.optimizers.Adam(1e-3, global_clipnorm=1.0),
                  loss=output_phase_mse)
    b = make_batch(task, BATCH * n, HORIZON, np.random.default_rng(0))
    y = np.concatenate([np.zeros((BATCH * n, s, task.d), np.float32), b.targets], axis=1)
    model.fit(b.inputs[:BATCH * 3], y[:BATCH * 3], batch_size=BATCH, epochs=1, verbose=0)

    def run(steps: int) -> float:
        assert steps == n
        t0 = time.perf_counter()
        model.fit(b.inputs, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        return time.perf_counter() - t0

    return run


def find_torch_python(explicit: str | None) -> str | None:
    candidates = [explicit, os.environ.get("EMT_TORCH_PYTHON"), sys.executable,
                  "/tmp/torchvenv/bin/python"]
    for exe in candidates:
        if not exe or not (os.path.exists(exe) or shutil.which(exe)):
            continue
        if subprocess.run([exe, "-c", "import torch"], capture_output=True).returncode == 0:
            return exe
    return None


def bench_torch(task, steps: int, exe: str, threads: int) -> dict:
    cfg = {"s": task.s, "d": task.d, "n_h": N_HIDDEN, "batch": BATCH, "H": HORIZON,
           "steps": steps, "threads": threads}
    proc = subprocess.run([exe, "-c", TORCH_CODE, json.dumps(cfg)], capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=200, help="timed steps per measurement")
    ap.add_argument("--torch-python", default=None, help="interpreter that has torch")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for TF and torch alike (0 = each library's default); "
                         "`emt train` uses 1 (EMT_TF_THREADS)")
    ap.add_argument("--skip-keras", action="store_true")
    ap.add_argument("--stage-steps", default=None,
                    help="comma-separated steps per curriculum stage for the estimate "
                         "(default: all 20,000 at H = 100, an upper bound)")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    args = ap.parse_args(argv)

    import keras
    import tensorflow as tf

    from emt.core.threads import limit_threads
    from emt.theory.registry import get

    task = get(TASK)
    limit_threads(args.threads)
    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    res: dict = {"model": f"N_h {N_HIDDEN}, s = d = {task.s}, batch {BATCH}, H {HORIZON}",
                 "tensorflow": tf.__version__, "cpus": os.cpu_count(),
                 "steps_per_round": args.steps, "rounds": args.rounds, "threads": args.threads,
                 "load_average_start": os.getloadavg()}
    timers: dict[str, Callable[[int], float]] = {"ours": make_ours(task, HORIZON)}
    if not args.skip_keras:
        timers["keras_step"] = make_keras_step(task)
        timers["keras_fit"] = make_keras_fit(task, args.steps)
    exe = find_torch_python(args.torch_python)
    if exe is None:
        print("torch: not installed in any known interpreter; skipped (install it with "
              "`python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.13.0 "
              "numpy`)")
    else:
        def run_torch(n: int) -> float:
            t = bench_torch(task, n, exe, args.threads)
            res["torch_version"], res["torch_threads"] = t["torch"], t["threads"]
            return n / t["steps_per_s"]

        timers["torch"] = run_torch
    # Interleaved rounds, median rate: the cores are shared, so load drifts during a run; each
    # round gives every method the same conditions.
    rates: dict[str, list[float]] = {k: [] for k in timers}
    for _ in range(args.rounds):
        for name, run in timers.items():
            rates[name].append(args.steps / run(args.steps))
    for name, rs in rates.items():
        res[name] = float(np.median(rs))
        res[f"{name}_rounds"] = rs
        print(f"{LABELS[name]}: {res[name]:.1f} steps/s (median of {len(rs)} rounds: "
              f"{', '.join(f'{r:.1f}' for r in rs)})", flush=True)
    for other in ("keras_step", "keras_fit", "torch"):
        if other in res:
            print(f"ratio ours / {other}: {res['ours'] / res[other]:.2f}x")
    per_h = {H: (res["ours"] if H == HORIZON else args.steps / make_ours(task, H)(args.steps))
             for H in CURRICULUM}
    res["ours_per_H"] = per_h
    print("ours per horizon: " + ", ".join(f"H {H}: {r:.1f}" for H, r in per_h.items()))
    if args.stage_steps:
        split = [int(x) for x in args.stage_steps.split(",")]
        if len(split) != len(CURRICULUM) or sum(split) != FULL_RUN_STEPS:
            raise SystemExit(f"--stage-steps needs {len(CURRICULUM)} numbers summing to "
                             f"{FULL_RUN_STEPS}")
    else:
        split = [0] * (len(CURRICULUM) - 1) + [FULL_RUN_STEPS]
    estimate = sum(n / per_h[H] for n, H in zip(split, CURRICULUM, strict=True))
    res["full_run_estimate_s"] = estimate
    res["full_run_split"] = split
    print(f"full {FULL_RUN_STEPS}-step run, steps per stage {split}: about {estimate / 60:.1f} "
          f"min (+ tracing and the H = 200 test, a few seconds)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

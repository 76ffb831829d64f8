"""Group training on the whole machine: K networks in one compiled step vs ours vs PyTorch.

    .venv/bin/python benchmarks/group_throughput.py [--rounds 2] [--window 5] [--members 8]
                                                    [--json F]
    .venv/bin/python benchmarks/group_throughput.py --memory N

The group-training comparison measures aggregate model-steps/s on the whole machine, all methods
side by side in interleaved rounds of fixed time windows, every setting in fresh worker processes
started together and released at once (so concurrent processes measure the same seconds):
  ours single   the one-network step, 1 process x 1 thread, and one process per core (summed)
  ours K        `numerics.group_step_rnn.BatchedRNN` with K = 1, 4, 8, 16, 32 networks, as
                1 process x 1 thread, 1 process x all cores, and one 1-thread process per core
  torch         the PyTorch reference, 1 process x 1 thread and one 1-thread process per core
                (skipped, with one line, when torch is not installed)
plus the single-thread float32 matmul rate (1024^3, TensorFlow) for the FLOP ceiling, the
peak RSS of each worker after each K (K ascending), the layout ``emt train --seeds`` picks for
``--members`` seeds (`numerics.group_layout`: one 1-thread process per core, K = members / cores
each) marked in the table and summarised against PyTorch's best, and the host-side data share
of a K = 16 group step (`make_batches`, and the K serial `make_batch` calls it replaced).
``--memory N`` instead trains one group of 8 networks for N steps with the real loop
(`numerics.group.train_group`) and prints its RSS every N/10 steps.

Model (the constants of `train_throughput.py`): N_h 128, s = d = 8 (task T1), batch 64, H = 100
(so 108 time steps), tanh, no biases, Adam lr 1e-3, global-norm clip 1.0, MSE on the output
phase, a fresh batch every step.  The one-model-step comparison (ours vs Keras vs PyTorch) is
`train_throughput.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# train_throughput: run as a script (the workers too), this file's folder is on sys.path.
import numpy as np  # noqa: E402
from train_throughput import BATCH, HORIZON, N_HIDDEN, TASK  # noqa: E402

KS = (1, 4, 8, 16, 32)
HOST_K = 16  # the group size whose host-side data share is measured


def _rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def group_step(net, task, horizon: int) -> Callable[[], None]:
    """One step of a group net (`BatchedRNN` or `BatchedCellNet`, K = ``net.size`` members) as
    `numerics.group.train_group` runs it: K fresh batches from K generators in one
    `make_batches` call, the compiled step, the per-member results read back (every member at
    ``horizon``, one bucket, Adam lr 1e-3, clip 1, no L2)."""
    from emt.numerics.data import make_batches

    K = net.size
    rngs = [np.random.default_rng(seed) for seed in range(K)]
    ones = np.ones(K, np.float32)
    index = np.arange(K, dtype=np.int32)

    def step() -> None:
        u, x = make_batches(task, BATCH, horizon, rngs)
        loss, acc = net.train_members(index, u, x, np.full(K, horizon, np.int32), 1e-3 * ones,
                                      ones, 0.0 * ones)
        loss.numpy(), acc.numpy()

    return step


def _host_timer(task, K: int, horizon: int, vectorised: bool) -> Callable[[], None]:
    """The host-side data of one group step of K members: `make_batches` (what the group loop
    does now) or K serial `make_batch` calls (what it did before)."""
    from emt.numerics.data import make_batch, make_batches

    rngs = [np.random.default_rng(seed) for seed in range(K)]
    if vectorised:
        return lambda: make_batches(task, BATCH, horizon, rngs) and None
    return lambda: [make_batch(task, BATCH, horizon, r) for r in rngs] and None


def _batched_timer(task, K: int, horizon: int) -> Callable[[], None]:
    """`group_step` of K Elman networks of the paper's model, traced once."""
    from emt.numerics.group_step_rnn import BatchedRNN
    from emt.numerics.model import init_weights

    net = BatchedRNN([init_weights(N_HIDDEN, task.d, "tanh", seed) for seed in range(1, K + 1)],
                     task.s)
    step = group_step(net, task, horizon)
    step()
    return step


def _single_timer(task, horizon: int) -> Callable[[], None]:
    from emt.numerics.data import make_batch
    from emt.numerics.model import init_weights
    from emt.numerics.step_rnn import RawRNN

    net = RawRNN(init_weights(N_HIDDEN, task.d, "tanh", 1), task.s, lr=1e-3, clip=1.0, l2=0.0)
    rng = np.random.default_rng(0)

    def step() -> None:
        b = make_batch(task, BATCH, horizon, rng)
        float(net.train_step(b.inputs, b.targets)[0])

    step()
    return step


def _matmul_timer() -> Callable[[], None]:
    import tensorflow as tf

    a = tf.random.uniform([1024, 1024], seed=1)
    f = tf.function(lambda x: tf.reduce_sum(tf.matmul(x, x)))
    float(f(a))
    return lambda: float(f(a))


def _torch_timer(task, horizon: int) -> Callable[[], None]:
    import torch

    torch.manual_seed(0)
    s, d = task.s, task.d
    rnn = torch.nn.RNN(d, N_HIDDEN, nonlinearity="tanh", bias=False, batch_first=True)
    out = torch.nn.Linear(N_HIDDEN, d, bias=False)
    params = list(rnn.parameters()) + list(out.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    rng = np.random.default_rng(0)

    def step() -> None:
        u = np.zeros((BATCH, s + horizon, d), np.float32)
        u[:, :s] = rng.choice([-1.0, 1.0], size=(BATCH, s, d))
        y = np.concatenate([u[:, :s]] * (horizon // s + 1), axis=1)[:, :horizon]
        opt.zero_grad()
        h, _ = rnn(torch.from_numpy(u))
        loss = torch.mean((out(h[:, s:]) - torch.from_numpy(np.ascontiguousarray(y))) ** 2)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    for _ in range(3):
        step()
    return step


def worker(spec: dict) -> int:
    """One measuring process: build every timer of ``spec["methods"]`` (tracing), say "ready",
    wait for "go" on stdin, then run each method for ``spec["window"]`` seconds in order and
    print one JSON line: per method the steps, seconds, model-steps/s and peak RSS (MiB)."""
    from emt.theory.registry import get

    task = get(TASK)
    threads = int(spec["threads"])
    if spec["kind"] == "torch":
        import torch

        torch.set_num_threads(threads)
        timers = {"torch": (_torch_timer(task, HORIZON), 1)}
    else:
        import tensorflow as tf

        from emt.core.threads import limit_threads

        limit_threads(threads)
        tf.config.experimental.enable_op_determinism()
        timers = {}
        for m in spec["methods"]:
            if m == "single":
                timers[m] = (_single_timer(task, HORIZON), 1)
            elif m == "matmul":
                timers[m] = (_matmul_timer(), 1)
            elif m.startswith("host"):  # host16 (make_batches) / host16-serial (make_batch)
                K = int(m[4:].split("-")[0])
                timers[m] = (_host_timer(task, K, HORIZON, not m.endswith("serial")), 1)
            else:
                K = int(m[1:])
                timers[m] = (_batched_timer(task, K, HORIZON), K)
    print("ready", flush=True)
    sys.stdin.readline()
    out = {}
    for name, (step, per_step) in timers.items():
        t0, n = time.perf_counter(), 0
        while n < 2 or time.perf_counter() - t0 < spec["window"]:
            step()
            n += 1
        dt = time.perf_counter() - t0
        out[name] = {"steps": n, "seconds": dt, "rate": n * per_step / dt, "rss_mib": _rss_mib()}
    print(json.dumps(out), flush=True)
    return 0


def _run_setting(kind: str, procs: int, threads: int, methods: list[str], window: float
                 ) -> dict[str, dict]:
    """Start ``procs`` workers, wait until all have traced, release them together; sum rates."""
    env = dict(os.environ, OMP_NUM_THREADS=str(max(threads, 1)),
               OPENBLAS_NUM_THREADS=str(max(threads, 1)), MKL_NUM_THREADS=str(max(threads, 1)))
    spec = json.dumps({"kind": kind, "threads": threads, "methods": methods, "window": window})
    ps = [subprocess.Popen([sys.executable, __file__, "--worker", spec], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, env=env) for _ in range(procs)]
    for p in ps:
        line = p.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != "ready":
            raise RuntimeError(f"worker failed before measuring: {line!r}")
    for p in ps:
        p.stdin.write("go\n")  # type: ignore[union-attr]
        p.stdin.flush()  # type: ignore[union-attr]
    results = []
    for p in ps:
        text, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"worker exited with {p.returncode}")
        results.append(json.loads(text.strip().splitlines()[-1]))
    return {m: {"rate": sum(r[m]["rate"] for r in results),
                "rss_mib": max(r[m]["rss_mib"] for r in results),
                "steps": [r[m]["steps"] for r in results]} for m in results[0]}


def machine(args: argparse.Namespace) -> int:
    """The side-by-side group-training comparison (see the module docstring)."""
    import importlib.util

    from emt.numerics.group_layout import group_processes
    from emt.numerics.group_step_rnn import step_flops
    from emt.theory.registry import get

    task = get(TASK)
    P = len(os.sched_getaffinity(0))
    # The layout `emt train --seeds` picks for --members seeds: procs x 1 thread x K each.
    procs_default = group_processes(args.members)
    k_default = -(-args.members // procs_default)
    ks = [f"K{k}" for k in sorted({*(args.ks or KS), k_default, args.members, HOST_K})]
    host = [f"host{HOST_K}", f"host{HOST_K}-serial"]
    settings = {
        "tf 1 proc x 1 thread": ("tf", 1, 1, ["matmul", "single", *ks, *host]),
        f"tf {P} procs x 1 thread": ("tf", P, 1, ["single", *ks]),
        f"tf 1 proc x {P} threads": ("tf", 1, P, ["single", *ks]),
        "torch 1 proc x 1 thread": ("torch", 1, 1, ["torch"]),
        f"torch {P} procs x 1 thread": ("torch", P, 1, ["torch"]),
    }
    if importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: its settings are skipped (pip install torch==2.13.0)")
        settings = {k: v for k, v in settings.items() if v[0] != "torch"}
    load = [os.getloadavg()]
    rounds: dict[str, list[dict]] = {name: [] for name in settings}
    for r in range(args.rounds):
        for name, (kind, procs, threads, methods) in settings.items():
            rounds[name].append(_run_setting(kind, procs, threads, methods, args.window))
            print(f"round {r + 1} {name}: " + ", ".join(
                f"{m} {v['rate']:.1f}" for m, v in rounds[name][-1].items()), flush=True)
        load.append(os.getloadavg())
    flops = step_flops(N_HIDDEN, task.d, task.s, HORIZON, BATCH)
    peak_1 = max(rd["matmul"]["rate"] for rd in rounds["tf 1 proc x 1 thread"]) * 2 * 1024 ** 3
    ceiling = P * peak_1
    table = {}
    for name, rds in rounds.items():
        for m in rds[0]:
            if m == "matmul" or m.startswith("host"):
                continue
            rates = [rd[m]["rate"] for rd in rds]
            table[f"{name} | {m}"] = {"rate": float(np.median(rates)), "rounds": rates,
                                      "best": float(max(rates)),
                                      "rss_mib": max(rd[m]["rss_mib"] for rd in rds),
                                      "pct_ceiling": 100 * float(np.median(rates)) * flops
                                      / ceiling}
    torch_rates = [v["rate"] for k, v in table.items() if k.startswith("torch")]
    torch_best = max(torch_rates) if torch_rates else None
    single_best = max(v["rate"] for k, v in table.items() if k.endswith("| single"))
    one = rounds["tf 1 proc x 1 thread"]
    # Host share: the data of one K-member step over the whole step (data included), 1 thread.
    step_s = float(np.median([HOST_K / rd[f"K{HOST_K}"]["rate"] for rd in one]))
    host_s = {m: float(np.median([1.0 / rd[m]["rate"] for rd in one])) for m in host}
    layout = f"tf {P} procs x 1 thread | K{k_default}" if procs_default > 1 else \
        f"tf 1 proc x {P} threads | K{args.members}"
    res = {"model": f"N_h {N_HIDDEN}, s = d = {task.s}, batch {BATCH}, H {HORIZON}",
           "cores": P, "window_s": args.window, "rounds": args.rounds,
           "load_average_per_round": load, "step_gflop": flops / 1e9,
           "matmul_gflops_1thread": peak_1 / 1e9, "ceiling_gflops": ceiling / 1e9,
           "table": table, "torch_best": torch_best, "ours_single_best": single_best,
           "host_share": {m: t / step_s for m, t in host_s.items()}, "group_step_s": step_s,
           "default_layout": {"members": args.members, "setting": layout,
                              "rate": table[layout]["rate"]}}
    print(f"\n{res['model']}; {P} cores; one step {flops / 1e9:.3f} GFLOP; FLOP ceiling "
          f"{ceiling / 1e9:.0f} GFLOP/s ({P} x {peak_1 / 1e9:.0f}, 1-thread 1024^3 matmul); "
          f"load average per round {[round(x[0], 1) for x in load]}")
    print("| setting | method | model-steps/s median (best) | x torch best | % FLOP ceiling | "
          "peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for key, v in table.items():
        name, m = key.split(" | ")
        x = f"{v['rate'] / torch_best:.2f}" if torch_best else "-"
        mark = " (default layout)" if key == layout else ""
        print(f"| {name} | {m}{mark} | {v['rate']:.1f} ({v['best']:.1f}) | {x} | "
              f"{v['pct_ceiling']:.0f} | {v['rss_mib']:.0f} |")
    rate = table[layout]["rate"]
    print(f"\nemt train --seeds with {args.members} seeds, default layout ({procs_default} "
          f"process(es) x 1 thread, K = {k_default} each): {rate:.1f} model-steps/s (best "
          f"round {table[layout]['best']:.1f})")
    if torch_best:
        torch_key = max((k for k in table if k.startswith("torch")),
                        key=lambda k: table[k]["rate"])
        torch_keys = [k for k in table if k.startswith("torch")]
        # per round: our layout against the faster PyTorch setting of the same round
        paired = [a / max(table[k]["rounds"][r] for k in torch_keys)
                  for r, a in enumerate(table[layout]["rounds"])]
        best_torch = max(table[k]["best"] for k in table if k.startswith("torch"))
        res["vs_torch"] = {"median_ratio": rate / torch_best, "paired_round_ratios": paired,
                           "best_ratio": table[layout]["best"] / best_torch}
        print(f"  vs PyTorch's best ({torch_key}, {torch_best:.1f}): {rate / torch_best:.2f}x "
              f"of the medians, {res['vs_torch']['best_ratio']:.2f}x of the best rounds, per "
              f"round (against that round's faster PyTorch setting) "
              f"{', '.join(f'{r:.2f}' for r in paired)}")
    print(f"host data of one K = {HOST_K} step at H = {HORIZON} (1 thread; the step takes "
          f"{1e3 * step_s:.0f} ms): make_batches {1e3 * host_s[host[0]]:.1f} ms "
          f"({100 * res['host_share'][host[0]]:.1f} %), {HOST_K} serial make_batch "
          f"{1e3 * host_s[host[1]]:.1f} ms ({100 * res['host_share'][host[1]]:.1f} %)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return 0


def memory(steps: int) -> int:
    """RSS of one group of 8 (N_h 128) over ``steps`` steps of the real group loop."""
    import threading

    from emt.numerics.group import train_group
    from emt.numerics.train import TrainConfig
    from emt.theory.registry import get

    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not stop.wait(2.0):
            with open("/proc/self/status") as fh:
                rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
            samples.append((time.monotonic() - t0, rss / 1024.0))

    configs = [TrainConfig(task=get(TASK), hidden=N_HIDDEN, steps=steps, seed=seed,
                           curriculum=(10,), test_batches=1) for seed in range(1, 9)]
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    group = train_group(configs, progress=False)
    stop.set()
    print(f"group of 8, {steps} steps at H = 10: {group.wall_time_s:.0f} s; RSS (MiB) by time: "
          + ", ".join(f"{t:.0f}s {r:.0f}" for t, r in samples[:: max(1, len(samples) // 12)])
          + f"; last {samples[-1][1]:.0f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--worker":
        return worker(json.loads(sys.argv[2]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--window", type=float, default=5.0, help="seconds per measurement")
    ap.add_argument("--memory", type=int, default=None, metavar="STEPS",
                    help="RSS of a group of 8 over STEPS steps")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    ap.add_argument("--ks", type=int, nargs="+", default=None, metavar="K",
                    help=f"group sizes per process (default {' '.join(map(str, KS))})")
    ap.add_argument("--members", type=int, default=8,
                    help="the seeds of `emt train --seeds` whose default layout is reported")
    args = ap.parse_args(argv)
    if args.memory:
        return memory(args.memory)
    return machine(args)


if __name__ == "__main__":
    sys.exit(main())

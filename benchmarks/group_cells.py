"""Group training of a gated cell: K networks in one compiled step vs one network's step.

    .venv/bin/python benchmarks/group_cells.py [--cell lstm] [--k 3] [--hidden 64]
        [--task repeat-copy-4] [--horizon 100] [--rounds 3] [--window 5]

Measures model-steps/s (networks trained per second) of
  single   `numerics.step_cell.CellNet`, one network, 1 process x 1 thread (as `emt train`)
  group    `numerics.group_step_cell.BatchedCellNet`, K networks, 1 process x all cores (as
           `emt train --seeds`, `numerics.group.group_threads`)
each step as the training loops run it: fresh batches from seeded generators (K of them for
the group, padded into one array), the compiled step, the loss and accuracy read back.  Batch
64, Adam lr 1e-3, clip 1.0, every member at the one horizon.  Each setting runs in a fresh
worker process per round (thread pools are fixed when TensorFlow starts), one after the other,
after one untimed step for tracing; the rounds interleave the two settings.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH = 64


def _worker(args: argparse.Namespace) -> dict:
    import numpy as np

    from emt.core.threads import limit_threads
    from emt.numerics.cell_models import init_cell_params
    from emt.numerics.data import make_batch
    from emt.numerics.group import group_threads
    from emt.theory.registry import get

    task = get(args.task)
    K, H = args.k, args.horizon
    threads = 1 if args.worker == "single" else group_threads()
    limit_threads(threads)
    params = [init_cell_params(args.cell, args.hidden, task.d, seed) for seed in range(1, K + 1)]
    if args.worker == "single":
        from emt.numerics.step_cell import CellNet

        net = CellNet(args.cell, params[0], task.s, lr=1e-3, clip=1.0, l2=0.0)
        rng = np.random.default_rng(0)

        def step() -> int:
            b = make_batch(task, BATCH, H, rng)
            loss, acc = net.train_step(b.inputs, b.targets)
            loss.numpy(), acc.numpy()
            return 1
    else:
        from group_throughput import group_step  # this file's folder is on sys.path

        from emt.numerics.group_step_cell import BatchedCellNet

        group = group_step(BatchedCellNet(args.cell, params, task.s), task, H)

        def step() -> int:
            group()
            return K

    step()  # trace
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.window:
        done += step()
    return {"setting": args.worker, "threads": threads,
            "model_steps_per_s": done / (time.perf_counter() - t0)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", default="lstm", choices=("lstm", "gru", "lru"))
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--task", default="repeat-copy-4")
    p.add_argument("--horizon", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--window", type=float, default=5.0, help="seconds timed per worker")
    p.add_argument("--worker", choices=("single", "group"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    common = ["--cell", args.cell, "--k", str(args.k), "--hidden", str(args.hidden), "--task",
              args.task, "--horizon", str(args.horizon), "--window", str(args.window)]
    rates: dict[str, list[float]] = {"single": [], "group": []}
    for r in range(args.rounds):
        load = os.getloadavg()
        for setting in ("single", "group"):
            out = subprocess.run([sys.executable, __file__, *common, "--worker", setting],
                                 check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            rates[setting].append(row["model_steps_per_s"])
            print(f"round {r + 1} (load {load[0]:.1f}): {setting} ({row['threads']} thread(s)) "
                  f"{row['model_steps_per_s']:.1f} model-steps/s", flush=True)
    med = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
    print(f"{args.cell} N_h {args.hidden} {args.task} H {args.horizon}: median single "
          f"{med['single']:.1f}, group K={args.k} {med['group']:.1f} model-steps/s "
          f"({med['group'] / med['single']:.2f}x); load at the end "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

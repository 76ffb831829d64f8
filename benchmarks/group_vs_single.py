"""How far a group member's weights drift from its single run's: max |dW| after N steps.

    .venv/bin/python benchmarks/group_vs_single.py [--task repeat-copy-4] [--hidden 32]
        [--seeds 1 2 3] [--steps 10 30 100 300 1000]

For each N, trains the seeds as one group (`numerics.group.train_group`, as `emt train --seeds`)
and each seed alone (`numerics.train.train`, as `emt train --seed`), N steps, every other
setting the default (the paper's recipe), and prints per N the largest absolute difference of
any weight (W_uh, W_hh, W_hy) between a member and its single run, over the seeds, next to the
largest |W|.  Both compute the same float32 operations in a different order, so they start
equal to round-off (~1e-7); Adam's update divides by sqrt(v) and the curriculum's stage changes
on a threshold, so small differences can grow with N: this measures how much.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NAMES = ("W_uh", "W_hh", "W_hy")


def main() -> None:
    import numpy as np

    from emt.numerics.config import TrainConfig
    from emt.numerics.group import train_group
    from emt.numerics.train import train
    from emt.theory.registry import get

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="repeat-copy-4")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--steps", type=int, nargs="+", default=[10, 30, 100, 300, 1000])
    args = p.parse_args()
    base = TrainConfig(task=get(args.task), hidden=args.hidden)
    rows = []
    for steps in args.steps:
        configs = [replace(base, seed=seed, steps=steps) for seed in args.seeds]
        group = train_group(configs, progress=False)
        diff = top = 0.0
        same_advances = True
        for config, member in zip(configs, group.results, strict=True):
            assert member is not None
            alone = train(config, progress=False)
            same_advances &= member.advances == alone.advances
            for n in NAMES:
                a, b = getattr(member.weights, n), getattr(alone.weights, n)
                diff = max(diff, float(np.max(np.abs(a - b))))
                top = max(top, float(np.max(np.abs(b))))
        row = {"steps": steps, "max_abs_dW": diff, "max_abs_W": top,
               "same_curriculum_advances": same_advances}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"task {args.task}, N_h {args.hidden}, seeds {args.seeds}, defaults otherwise")


if __name__ == "__main__":
    main()

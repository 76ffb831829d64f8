"""Wall time of a scaled-down quick profile: one job per core (before) vs grouped jobs (after).

    .venv/bin/python benchmarks/sweep_groups.py [--steps 1000] [--out /tmp/emt-sweep-bench]
                                                [--grouped-first]

The quick profile's 12 jobs (T1..T4, N_h 128, seeds 1-3) with ``steps`` instead of 20,000 and
the rest unchanged, trained and verified by `run_sweep` on a LocalCluster of one worker per
core, twice in fresh directories: ``max_group=1`` (every job alone, as before groups) and the
default grouping (one group per worker, each on the worker's one thread, members in horizon
buckets).  A short run spends most of its steps at the first curriculum horizons and
pays worker start-up and verification once per job, so it is not a stand-in for the full
20,000 steps; the full profile's time is projected from the H = 100 throughput ratio instead
(benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import tomllib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    from emt.experiments.reproduce_table1 import profile_text
    from emt.experiments.sweep import run_sweep
    from emt.experiments.sweep_config import parse_sweep_config

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--out", default="/tmp/emt-sweep-bench")
    ap.add_argument("--grouped-first", action="store_true",
                    help="run the grouped sweep first (to see the order's effect on a busy box)")
    args = ap.parse_args(argv)
    data = tomllib.loads(profile_text("quick"))
    data["fixed"]["steps"] = args.steps
    config = parse_sweep_config(data, source="quick (scaled)")
    print(f"{len(config.jobs)} jobs x {args.steps} steps; load average {os.getloadavg()}")
    plans = [("one job per core", 1), ("grouped", 16)]
    for label, max_group in plans[::-1] if args.grouped_first else plans:
        out = Path(args.out) / label.replace(" ", "-")
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        summary = run_sweep(config, out, max_group=max_group, stream=None)
        wall = time.perf_counter() - t0
        print(f"{label}: {wall:.0f} s ({summary.line()}); load average {os.getloadavg()}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The measurements behind the ``effective.*`` tolerance reasons (verify/tolerances.py).

Not a speed benchmark: it prints, for every committed run of ``results/table1-quick`` and
``results/input-phase-paper``, for constructed circuits, untrained nets, trained nets judged
against another task and any extra run directories given on the command line (e.g. staggered-4
nets from ``emt train --task staggered-4 --hidden 64 --steps 6000 --seed N``), the values of the
four effective checks, the descriptors and the verdict under the default tolerances.

Run: ``python -m benchmarks.effective_calibration [RUN_DIR ...]`` (about a minute on 2 cores).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: see verify_speed.py

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def row(label: str, weights, task) -> str:
    from emt.numerics.simulate import ElmanDynamics
    from emt.verify.effective import effective_analysis
    from emt.verify.tolerances import resolve

    a = effective_analysis(ElmanDynamics(weights), task, resolve(), seed=0)
    c = {x.name: x for x in a.checks}
    e, st, lo, tr = (c[n] for n in ("effective.embedding", "effective.step",
                                    "effective.loaded_state", "effective.trajectory"))
    d = a.descriptors
    nan = float("nan")
    return (f"{label:30s} R2 {e.value:.4f} rank {int(e.metrics['rank'])}/"
            f"{int(e.metrics['live_slots'])} gap {e.metrics['rank_gap']:.3g} | step "
            f"{st.value:.4f} | loaded {lo.value:.4f} track {lo.metrics['tracking_error_max']:.3g}"
            f" | traj {tr.value:.3f} | gain {d.get('mean_gain', nan):.3f} sat "
            f"{d.get('saturated_fraction', nan):.3f} lyap1 {d.get('lyapunov_1', nan):.3f} | "
            f"{'PASS' if all(x.passed for x in a.checks) else 'FAIL'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="extra run directories")
    args = parser.parse_args()
    from emt.numerics.model import init_weights
    from emt.numerics.rundir import load_run
    from emt.numerics.weights import RNNWeights
    from emt.theory.circuit import Circuit, random_psi
    from emt.theory.registry import get

    runs = sorted((ROOT / "results" / "table1-quick" / "runs").glob("*/run"))
    runs += sorted((ROOT / "results" / "input-phase-paper" / "runs").glob("*/run"))
    runs += [Path(p) for p in args.runs]
    for path in runs:
        w, task, meta = load_run(path)
        acc = meta.get("metrics", {}).get("test_accuracy", float("nan"))
        print(row(f"{task.label} seed {meta['seed']} {w.activation} (acc {acc:.3f})", w, task))
    for name in ("repeat-copy-4", "T1", "T2", "T3", "staggered-4", "fibonacci-2"):
        task = get(name)
        c = Circuit(task, random_psi(task, 128, np.random.default_rng(0)))
        print(row(f"circuit {name}", RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear"),
                  task))
    for name in ("T1", "T3", "staggered-4"):
        task = get(name)
        print(row(f"untrained {name}", init_weights(128, task.d, seed=0), task))
    table1 = ROOT / "results" / "table1-quick" / "runs"
    for key, judged_as in (("b402cf16b451302c", "T2"), ("b1da9f5845c6badd", "T4"),
                           ("5530261dc296d717", "T3"), ("eefb1e7897ee14fb", "T1")):
        w, task, _ = load_run(table1 / key / "run")
        print(row(f"{task.label} net as {judged_as}", w, get(judged_as)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

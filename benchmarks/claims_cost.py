"""Where the time of one `emt verify` goes now that every report judges three claims: the
linear checks, the linear-side descriptors, the effective analysis (checks and descriptors), the
binding claim's interventions and descriptors (`verify.binding`) and the figures, each as a share
of the total, with one ``numpy.linalg.eigvals`` of W_hh as the unit of cost, all measured in one
process on the same N_h = 1024 subjects as `benchmarks.verify_speed` (process CPU time, one BLAS
thread), so the ratios hold whatever the load on the shared cores.

Run: ``python -m benchmarks.claims_cost [--tasks repeat-copy-4 T2 T1]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see benchmarks/verify_speed.py

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

N_HIDDEN = 1024


def _subjects(task):
    from emt.numerics.model import init_weights
    from emt.numerics.weights import RNNWeights
    from emt.theory.circuit import Circuit, random_psi

    c = Circuit(task, random_psi(task, N_HIDDEN, np.random.default_rng(0)))
    return {"tanh init": init_weights(N_HIDDEN, task.d, seed=0),
            "circuit": RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear")}


def stages(weights, task) -> dict[str, float]:
    """CPU seconds of each stage of `verify.judge.verify_weights` plus the figures."""
    from emt.verify.checks import Context, run_checks
    from emt.verify.judge import effective_of
    from emt.verify.linear_descriptors import linear_descriptors
    from emt.verify.tolerances import resolve

    out = {}
    tols = resolve()
    clock = time.process_time()
    ctx = Context(weights, task, tols)
    run_checks(ctx)
    out["linear checks"] = time.process_time() - clock
    clock = time.process_time()
    linear_descriptors(ctx)
    out["linear descriptors"] = time.process_time() - clock
    clock = time.process_time()
    analysis = effective_of(weights, task, tols, 0, 200, "bench")
    analysis.checks  # noqa: B018
    analysis.descriptors  # noqa: B018
    out["effective checks + descriptors"] = time.process_time() - clock
    from emt.verify.binding import binding_part

    clock = time.process_time()
    binding_part(analysis.model, task, analysis.fit, tols, 0, subject="bench")
    out["binding checks + descriptors"] = time.process_time() - clock
    from emt.verify.judge import verify_weights

    report = verify_weights(weights, task)
    clock = time.process_time()
    report.figures()
    out["figures"] = time.process_time() - clock
    return out


def main() -> None:
    from emt.theory.registry import get

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["repeat-copy-4", "T2"])
    args = parser.parse_args()
    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for name in args.tasks:
        task = get(name)
        for label, weights in _subjects(task).items():
            cost = stages(weights, task)
            total = sum(cost.values())
            clock = time.process_time()
            np.linalg.eigvals(weights.W_hh)
            unit = time.process_time() - clock
            print(f"{name:13s} {label:9s} total CPU {total:6.2f} s = {total / unit:.1f} eigvals "
                  f"({unit:.2f} s): " + ", ".join(
                      f"{k} {v:.2f} s ({100 * v / total:.0f}%, {v / unit:.1f} eigvals)"
                      for k, v in cost.items()))


if __name__ == "__main__":
    main()

"""`emt verify` and `emt demo` (dispatched by `emt.cli`).

Both validate every input (subjects, task, tolerances, options) before writing anything; bad
input is a ``ValueError`` that the dispatcher turns into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from emt.core.limits import check_at_most
from emt.core.safe_io import check_output_path
from emt.numerics.config import TrainConfig
from emt.numerics.train import train
from emt.numerics.weights import RNNWeights
from emt.theory import task_files
from emt.theory.charpoly import characteristic_polynomial
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
from emt.theory.spectra import spectrum
from emt.verify.basis import GROUNDINGS
from emt.verify.claims import CHOICES
from emt.verify.entry import verify_loaded
from emt.verify.judge import verify_weights
from emt.verify.report import FORMATS, Report
from emt.verify.subject import load_subject
from emt.verify.tolerances import DEFAULTS, parse_overrides

DEMO_TASK = "repeat-copy-4"
DEMO_HIDDEN = 64
# A fixed budget, not stop_when_learned: the curriculum's stop rule (a training batch at
# H = 100 above the threshold) fired after ~400-500 steps on repeat-copy-4 with N_h = 64,
# at test accuracy 0.89-0.95 at H = 200 -- right at or below the verification bar.  3000 steps
# gave 0.999 (about 1-1.5 minutes on 2 shared cores).
DEMO_STEPS = 3000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``verify`` and ``demo``."""
    p = subparsers.add_parser(
        "verify", help="check trained weights against the theory (assertion report)",
        description="Check trained weights (run directories, .npz, .safetensors or .keras "
        "files) against the theory's predictions within named tolerances. Every report judges "
        "three claims (docs/science.md): binding (the live-slot subspaces are causally the "
        "task's variables), the effective circuit (the odd part of the states embeds the live "
        "slots linearly, in h or in the pre-activation, and the net's own map runs it as the "
        "task) and the linear circuit (W_hh = Psi Phi Psi^+ with unit gain). Exit status 0: "
        "the selected claim holds for every subject; 1: it fails or is inconclusive (a "
        "bootstrap interval straddles its bar) for some; 2: bad input (nothing written).")
    p.add_argument("subjects", nargs="*", metavar="SUBJECT",
                   help="a run directory from `emt train`, an .npz or .safetensors of weights "
                   "or a .keras file")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--task", metavar="NAME", help="a registered task (see `emt tasks`)")
    src.add_argument("--task-file", metavar="FILE", help="a task description file")
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default=None,
                   help="the subject's cell when its arrays do not say (default: recognised "
                   "from the recurrent matrix's shape: N x N rnn, 4N x N lstm, 3N x N gru)")
    p.add_argument("--claim", choices=CHOICES, default="effective",
                   help="the claim that decides the exit status: effective (default), binding, "
                   "linear, both (effective and linear) or all; reports show every verdict "
                   "either way")
    p.add_argument("--ground", choices=GROUNDINGS, default="output",
                   help="grounding of the privileged basis: input (G = W_uh), output (default: G "
                   "fitted to the readout over s steps) or output-pinv (G = pinv(W_hy))")
    p.add_argument("--tol", action="append", default=[], metavar="NAME=VALUE",
                   help="override a tolerance (repeatable); names: see --list-tolerances")
    p.add_argument("--format", choices=FORMATS, default="md", help="report format (default md)")
    p.add_argument("--out", metavar="DIR", help="write reports and figures (PNG) into DIR")
    p.add_argument("--seed", type=int, default=0, help="seed of the test batches (default 0)")
    p.add_argument("--horizon", type=int, default=200, help="output-phase length H (default 200)")
    p.add_argument("--list-tolerances", action="store_true",
                   help="print the tolerances, their defaults and reasons, and exit")
    p.set_defaults(func=run_verify)

    d = subparsers.add_parser(
        "demo", help="end to end on repeat copy (s = d = 4): derive, construct, train, verify",
        description="Derive the circuit for repeat copy (s = d = 4), show the constructed "
        "circuit passing every check, train a small tanh RNN, verify it and write the HTML "
        "report and figures. Exit status 0 when the trained net passes.")
    d.add_argument("--out", metavar="DIR", default="emt-demo",
                   help="output directory (default ./emt-demo)")
    d.add_argument("--seed", type=int, default=1, help="seed for everything (default 1)")
    d.add_argument("--hidden", type=int, default=DEMO_HIDDEN,
                   help=f"hidden size of the trained net (default {DEMO_HIDDEN})")
    d.add_argument("--steps", type=int, default=DEMO_STEPS,
                   help=f"training steps (default {DEMO_STEPS})")
    d.add_argument("--quiet", action="store_true", help="no training progress lines")
    d.set_defaults(func=run_demo)


def _task_from_args(args: argparse.Namespace):
    return task_files.select(args.task, args.task_file)


def _print_tolerances() -> int:
    for t in DEFAULTS.values():
        print(f"{t.name} = {t.value:g} ({t.origin})\n    {t.reason}")
    return 0


def _stems(subjects: list) -> list[str]:
    """File stems for the reports: the subject's name, made unique with a counter."""
    seen: dict[str, int] = {}
    out = []
    for subj in subjects:
        stem = subj.path.stem if subj.path.is_file() else subj.path.name
        stem = stem or "subject"
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        out.append(stem if n == 0 else f"{stem}-{n + 1}")
    return out


def run_verify(args: argparse.Namespace) -> int:
    if args.list_tolerances:
        return _print_tolerances()
    if not args.subjects:
        raise ValueError("give at least one SUBJECT (a run directory, .npz, .safetensors "
                         "or .keras file)")
    # -- validate everything before computing or writing --------------------------------------
    tols = parse_overrides(args.tol)
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0; got {args.seed}")
    if args.horizon < 1:
        raise ValueError(f"--horizon must be >= 1; got {args.horizon}")
    check_at_most("--horizon", args.horizon, "MAX_HORIZON")
    if args.format == "html" and args.out is None:
        raise ValueError("--format html writes files: give --out DIR")
    if args.out is not None:
        check_output_path(args.out)  # writable, checked before any work
    task = _task_from_args(args)
    subjects = [load_subject(path, task, args.cell) for path in args.subjects]
    for subj in subjects:
        if subj.task is None:  # (the loop below relies on this check)
            raise ValueError(f"{subj.path}: no task: give --task NAME or --task-file FILE "
                             "(only run directories carry their own task)")
    reports: list[Report] = [
        verify_loaded(subj, claim=args.claim, ground=args.ground, tolerances=tols,
                      seed=args.seed, horizon=args.horizon)
        for subj in subjects]
    # -- output -------------------------------------------------------------------------------
    if args.out is not None:
        for report, stem in zip(reports, _stems(subjects), strict=True):
            written = report.write(args.out, stem, args.format)
            print(report.summary_line())
            print("\n".join(report.verdict_lines()))
            print(report.table())
            print(f"wrote {', '.join(str(p) for p in written)}\n")
    elif args.format == "json":
        docs = [r.to_json() for r in reports]
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2, allow_nan=False))
    else:
        print("\n".join(r.to_markdown() for r in reports))
    return 0 if all(r.passed for r in reports) else 1


def run_demo(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0; got {args.seed}")
    if args.hidden < 16:
        raise ValueError(f"--hidden must be >= s*d = 16; got {args.hidden}")
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1; got {args.steps}")
    check_at_most("--hidden", args.hidden, "MAX_HIDDEN")
    check_at_most("--steps", args.steps, "MAX_STEPS")
    out = check_output_path(args.out)
    task = get(DEMO_TASK)

    print(f"== 1. theory: the binding circuit for {task.label} (s = {task.s}, d = {task.d})")
    print(f"det(lambda I - Phi) = {characteristic_polynomial(task).as_expr().factor()}")
    spec = spectrum(task)
    print("eigenvalues of Phi: " + ", ".join(f"{r} (x{m})" for r, m in spec.roots))

    print(f"\n== 2. the constructed circuit (linear, random Psi, N_h = {args.hidden}) passes")
    print("(input grounding: it recovers Psi exactly for any Psi; the output grounding does so "
          "only when Psi_s is orthogonal to the other blocks)")
    circuit = Circuit(task, random_psi(task, args.hidden, np.random.default_rng(args.seed)))
    constructed = RNNWeights(circuit.w_uh, circuit.w_hh, circuit.w_hy, activation="linear")
    c_report = verify_weights(constructed, task, ground="input", seed=args.seed,
                              subject="constructed circuit")
    print(c_report.summary_line())
    print("\n".join(c_report.verdict_lines()))
    print(c_report.table())

    print(f"\n== 3. train a tanh RNN (N_h = {args.hidden}, {args.steps} steps)", flush=True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notes

    config = TrainConfig(task=task, hidden=args.hidden, steps=args.steps, seed=args.seed,
                         activation="tanh")
    result = train(config, out_dir=out / "run", progress=not args.quiet)
    print(f"trained: {result.metrics}")

    print("\n== 4. verify the trained net")
    report = verify_weights(result.weights, task, seed=args.seed, subject=str(out / "run"))
    written = report.write(out, "trained", "html")
    report.write(out, "trained", "json")
    c_report.write(out, "constructed", "md")
    print(report.summary_line())
    print("\n".join(report.verdict_lines()))
    print(report.table())
    print(f"\nreport: {written[0]}\nfigures: {', '.join(str(p) for p in written[1:])}")
    return report.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(0)

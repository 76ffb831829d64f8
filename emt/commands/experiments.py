"""`emt sweep` and `emt reproduce {table1,figures,input-phase,cells,cells-records}`.

Every command validates its input (config, profile, scheduler reachability) before it writes
anything; bad input is a ``ValueError`` that the dispatcher turns into exit status 2.  Exit
status 1 means the work ran but is incomplete (a failed or unfinished job).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from emt.core.safe_io import check_output_path

__all__ = ["register"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {value}")
    return value


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="submit to an existing Dask scheduler (e.g. tcp://host:8786) instead "
                        "of starting a LocalCluster")
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                   help="LocalCluster worker processes (default: one per core)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (it is drawn only on a terminal anyway)")


def _add_subset_options(p: argparse.ArgumentParser) -> None:
    """--aggregate-only, --reverify and --seeds of a profile experiment."""
    p.add_argument("--aggregate-only", action="store_true", help="train nothing")
    p.add_argument("--reverify", action="store_true",
                   help="verify every finished run under --out again with the current verifier "
                   "and report; trains nothing (refused when there are no runs)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                   help="run and report only these of the profile's seeds (same jobs as the "
                   "full profile; the report says it is a subset)")


def _trains(args: argparse.Namespace, out: Path) -> bool:
    """Whether the command trains: not with --aggregate-only, and not with --reverify, which
    only verifies the runs already under ``out`` again (its help says so).  --reverify with no
    runs there is refused, rather than starting the profile's training runs."""
    if args.reverify:
        runs = out / "runs"
        if not runs.is_dir() or not any(runs.iterdir()):
            raise ValueError(f"--reverify: no runs under {runs} to verify again (it trains "
                             "nothing: run the experiment without --reverify first)")
        return False
    return not args.aggregate_only


def _progress_stream(args: argparse.Namespace) -> TextIO | None:
    return None if args.quiet else sys.stderr


def _cmd_sweep(args: argparse.Namespace) -> int:
    from emt.experiments.sweep import run_sweep
    from emt.experiments.sweep_config import load_sweep_config

    config = load_sweep_config(args.config)
    out = check_output_path(Path(args.out) if args.out else Path("sweeps") / config.name)
    summary = run_sweep(config, out, scheduler=args.scheduler, workers=args.workers,
                        stream=_progress_stream(args))
    print(f"sweep {config.name!r}: {summary.line()}; records under {out / 'runs'}")
    for record in summary.records:
        if record.get("status") == "failed":
            print(f"  failed {record['key']}: {record.get('error', '')}", file=sys.stderr)
    return 0 if summary.complete else 1


def _cmd_table1(args: argparse.Namespace) -> int:
    from emt.experiments.reproduce_table1 import load_profile, table1

    load_profile(args.profile)  # validate before anything runs or is written
    out = check_output_path(Path(args.out) if args.out
                            else Path("results") / f"table1-{args.profile}")
    doc = table1(args.profile, out, scheduler=args.scheduler, workers=args.workers,
                 run=_trains(args, out), reverify=args.reverify,
                 stream=_progress_stream(args))
    print((out / "table1.md").read_text(encoding="utf-8"))
    print(f"wrote {out / 'table1.md'} and {out / 'table1.json'}"
          + ("" if doc["complete"] else f"  (PARTIAL: {doc['n_done']}/{doc['n_jobs']} done)"))
    return 0 if doc["complete"] else 1


def _cmd_input_phase(args: argparse.Namespace) -> int:
    from emt.experiments.input_phase import input_phase, input_phase_configs

    input_phase_configs(args.profile, args.seeds)  # validate first
    out = check_output_path(Path(args.out) if args.out
                            else Path("results") / f"table1-{args.profile}" / "input-phase")
    doc = input_phase(args.profile, out, scheduler=args.scheduler, workers=args.workers,
                      run=_trains(args, out), seeds=args.seeds, reverify=args.reverify,
                      stream=_progress_stream(args))
    print((out / "input_phase.md").read_text(encoding="utf-8"))
    return 0 if doc["complete"] and doc["all_agree"] else 1


def _cmd_cells(args: argparse.Namespace) -> int:
    from emt.experiments.reproduce_cells import cells_config, reproduce_cells

    cells_config(args.profile, args.seeds, args.cells)  # validate first
    out = check_output_path(Path(args.out) if args.out else Path("results") / f"cells-"
                            f"{args.profile}")
    doc = reproduce_cells(args.profile, out, scheduler=args.scheduler, workers=args.workers,
                          run=_trains(args, out), seeds=args.seeds, cells=args.cells,
                          reverify=args.reverify, stream=_progress_stream(args))
    print((out / "cells.md").read_text(encoding="utf-8"))
    print(f"wrote {out / 'cells.md'} and {out / 'cells.json'}"
          + ("" if doc["complete"] else f"  (PARTIAL: {doc['n_done']}/{doc['n_jobs']} done)"))
    return 0 if doc["complete"] else 1


def _cmd_cells_records(args: argparse.Namespace) -> int:
    from emt.experiments.cells_table import record_run, reverify_record, write_records_table

    if args.action == "record":
        if not args.out:
            raise ValueError("cells-records record: --out is required")
        check_output_path(Path(args.out))
        for run in args.paths:
            print(f"recorded {record_run(run, args.out)}")
        return 0
    if len(args.paths) != 1:
        raise ValueError(f"cells-records {args.action}: give one records directory")
    records = Path(args.paths[0])
    if not records.is_dir():
        raise ValueError(f"cells-records {args.action}: {records} is not a directory")
    if args.action == "reverify":
        for d in sorted(records.iterdir()):
            if (d / "report.json").is_file():
                print(f"re-verified {reverify_record(d)}")
    print(write_records_table(records).read_text(encoding="utf-8"))
    return 0


def _cmd_population(args: argparse.Namespace) -> int:
    from emt.experiments.population import population

    results = Path(args.results)
    if not results.is_dir():
        raise ValueError(f"--results {results}: not a directory")
    out = check_output_path(Path(args.out) if args.out else results / "population")
    doc = population(results, out, workers=args.workers or 2, seed=args.seed)
    print((out / "population.md").read_text(encoding="utf-8"))
    print(f"wrote {out / 'population.md'} and {out / 'population.json'} "
          f"({len(doc['subjects'])} subjects)")
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    from emt.experiments.reproduce_figures import reproduce_figures

    sweep = Path(args.sweep) if args.sweep else Path("results") / "table1-quick"
    out = check_output_path(Path(args.out) if args.out else sweep / "figures")
    written = reproduce_figures(sweep, out, second_task=args.task)
    for path in written:
        print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `emt sweep` and `emt reproduce`."""
    p = subparsers.add_parser(
        "sweep", help="run a grid of training + verification jobs on Dask",
        description="Run every job of a sweep TOML (grid: task, hidden, l2, threshold, seed; "
                    "fixed: steps, activation, ground, ...).  Finished jobs are never retrained; "
                    "a killed sweep resumes; failed jobs are recorded and the sweep goes on.")
    p.add_argument("config", help="sweep TOML file")
    p.add_argument("--out", default=None, help="sweep directory (default: sweeps/<name>)")
    _add_cluster_options(p)
    p.set_defaults(func=_cmd_sweep)

    r = subparsers.add_parser("reproduce", help="reproduce the paper's Table 1, figures, the "
                              "input-phase finding and the cells table")
    sub = r.add_subparsers(dest="what", metavar="WHAT")
    sub.required = True
    t = sub.add_parser("table1", help="sweep a profile and write our Table 1 beside the paper's")
    t.add_argument("--profile", default="quick", choices=("quick", "paper"))
    t.add_argument("--out", default=None, help="output directory (default: results/table1-"
                   "<profile>)")
    t.add_argument("--aggregate-only", action="store_true",
                   help="train nothing; aggregate the records already there (a partial table "
                        "is labelled PARTIAL)")
    t.add_argument("--reverify", action="store_true",
                   help="verify every finished run again with the current verifier (no "
                   "training) before aggregating")
    _add_cluster_options(t)
    t.set_defaults(func=_cmd_table1)

    i = sub.add_parser("input-phase", help="linear vs tanh RNNs on a linearly solvable task and "
                       "one that is not")
    i.add_argument("--profile", default="quick", choices=("quick", "paper"),
                   help="quick: repeat-copy-4 / staggered-4; paper: T1 / T2")
    i.add_argument("--out", default=None,
                   help="output directory (default: results/table1-<profile>/input-phase)")
    _add_subset_options(i)
    _add_cluster_options(i)
    i.set_defaults(func=_cmd_input_phase)

    c = sub.add_parser("cells", help="the Elman RNN, LSTM, GRU and LRU on repeat-copy-4, "
                       "staggered-4 and T1, each judged by both claims")
    c.add_argument("--profile", default="quick", choices=("quick",),
                   help="quick: N_h 64, 20,000 steps, seeds 1-3 (the paper's recipe)")
    c.add_argument("--out", default=None, help="output directory (default: results/cells-"
                   "<profile>)")
    _add_subset_options(c)
    c.add_argument("--cells", nargs="+", default=None, metavar="CELL",
                   help="run and report only these of the profile's cells (rnn lstm gru lru)")
    _add_cluster_options(c)
    c.set_defaults(func=_cmd_cells)

    cr = sub.add_parser("cells-records", help="record finished `emt train --cell` runs with "
                        "their reports, and tabulate the records (results/cells)")
    cr.add_argument("action", choices=("record", "reverify", "table"),
                    help="record: copy RUN_DIRs' model.json and weights.npz into --out and "
                    "verify them; reverify: verify every record again; table: write cells.md "
                    "(reverify writes it too)")
    cr.add_argument("paths", nargs="+", metavar="PATH",
                    help="run directories (record) or the records directory")
    cr.add_argument("--out", default=None, help="records directory (record only)")
    cr.set_defaults(func=_cmd_cells_records)

    po = sub.add_parser("population", help="every claim's verdict over every committed run and "
                        "the calibration zoo, with 95 % intervals, by cell, regime and source")
    po.add_argument("--results", default="results",
                    help="the results directory to read (default: results)")
    po.add_argument("--out", default=None, help="output directory (default: "
                    "<results>/population)")
    po.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                    help="worker processes (default 2)")
    po.add_argument("--seed", type=int, default=0, help="the verifier's seed (default 0)")
    po.set_defaults(func=_cmd_population)

    f = sub.add_parser("figures", help="eigenvalue plane, Phi_hat heatmaps and the hidden state "
                       "in the privileged basis, from trained runs of a sweep")
    f.add_argument("--sweep", default=None,
                   help="sweep directory with finished runs (default: results/table1-quick)")
    f.add_argument("--out", default=None, help="figure directory (default: <sweep>/figures)")
    f.add_argument("--task", default=None, choices=("T2", "T3", "T4"),
                   help="the second task (default: the first of T2..T4 with a finished run)")
    f.set_defaults(func=_cmd_figures)

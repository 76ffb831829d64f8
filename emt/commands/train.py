"""Subcommands of this package for the `emt` CLI (dispatched by `emt.cli`): ``emt train``.

    emt train --task NAME|--task-file FILE --out RUN_DIR [--cell rnn|lstm|gru|lru]
              [--hidden 128] [--seed 1] [--linear]
              [--l2 0] [--threshold 0.96] [--steps 20000] [--checkpoint-every 1000]
              [--stop-when-learned] [--quiet]
    emt train ... --seeds 1 2 3 4 --out DIR [--group-processes P]   (DIR/seed-1 ... seed-4)
    emt train --resume RUN_DIR|DIR [--steps N] [--quiet]

``--seeds`` trains the seeds together as groups (`numerics.group.train_group`: one compiled
step per group), by default one 1-thread group per core, each in its own process
(`numerics.group_layout`; ``--group-processes P`` or ``EMT_GROUP_PROCESSES`` choose another
number of processes), and writes one ordinary run directory per seed, ``DIR/seed-N``,
each as ``--seed N --out DIR/seed-N`` writes it.  Running the same command again resumes every
unfinished member from its checkpoint and refuses to extend a finished one to more steps;
``--resume DIR [--steps N]`` continues or extends every member as one group, each keeping its
weights until its extension finishes (``--resume DIR/seed-N`` continues one member alone).

Everything is validated (task, hyper-parameters, the output directory, the checkpoint) before
anything is written; bad input is a ValueError, which the dispatcher reports with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from emt.core.limits import check_at_most, env_int, limit
from emt.core.safe_io import check_output_path
from emt.numerics.group import GroupResult, group_members
from emt.numerics.group_layout import group_processes, resume_group_layout, train_group_layout
from emt.numerics.train import TrainConfig, resume_run, train
from emt.theory import task_files

__all__ = ["register", "run_train"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``emt train``."""
    p = subparsers.add_parser(
        "train", help="train one RNN the paper's way and write a run directory",
        description="Train a bias-free Elman RNN on a variable binding task (Adam 1e-3, batch "
        "64, clip 1.0, curriculum H = 10..100, test at H = 200) and write RUN_DIR/model.json, "
        "checkpoint.npz and, when finished, weights.npz.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--task", metavar="NAME", help="a registered task (see `emt tasks`)")
    src.add_argument("--task-file", metavar="FILE", help="a task description file")
    src.add_argument("--resume", metavar="RUN_DIR",
                     help="continue an interrupted (or extend a finished) run from its checkpoint")
    p.add_argument("--out", metavar="RUN_DIR",
                   help="run directory to create (new or empty; an existing run is refused: "
                   "continue or extend it with --resume)")
    p.add_argument("--hidden", type=int, default=None, help="hidden size N_h (default 128)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=None,
                       help="seed for everything (default 1)")
    seeds.add_argument("--seeds", type=int, nargs="+", default=None, metavar="N",
                       help="train these seeds as one group in one compiled step and write "
                       "RUN_DIR/seed-N for each")
    p.add_argument("--cell", choices=("rnn", "lstm", "gru", "lru"), default=None,
                   help="recurrent cell: the paper's Elman rnn (default), or a bias-free lstm, "
                   "gru or lru (diagonal complex linear recurrence)")
    p.add_argument("--linear", action="store_true", help="linear activation instead of tanh")
    p.add_argument("--l2", type=float, default=None, help="coupled L2 weight decay (default 0)")
    p.add_argument("--threshold", type=float, default=None,
                   help="curriculum accuracy threshold in (0, 1) (default 0.96)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default 20000)")
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help="steps between checkpoints (default 1000)")
    p.add_argument("--stop-when-learned", action="store_true",
                   help="stop once the last curriculum stage passes the threshold")
    p.add_argument("--group-processes", type=int, default=None, metavar="P",
                   help="with --seeds (or --resume of their directory): train the seeds as P "
                   "groups, each in its own process on its share of the cores (default: "
                   "$EMT_GROUP_PROCESSES, else one 1-thread process per core, the fastest "
                   "layout measured; 1 = one group in this process on every core)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run_train, outputs=_outputs)


def _outputs(args: argparse.Namespace) -> list[str]:
    """The directories ``emt train`` writes: ``--out`` and, with ``--seeds``, each member's
    (``--out`` may exist already; a member directory it creates is its own to remove)."""
    if args.out is None:
        return []
    from pathlib import Path

    seeds = args.seeds or []
    try:
        refused = len(seeds) > limit("MAX_GROUP_MEMBERS")
    except ValueError:  # a malformed EMT_LIMIT_*: the command refuses it before making anything
        refused = True
    if refused or not Path(args.out).is_dir():  # members of a new --out lie inside it
        return [args.out]
    return [args.out, *(f"{args.out}/seed-{seed}" for seed in seeds)]


def _check_early(args: argparse.Namespace) -> None:
    """What can be refused from the command line and the environment alone, before the task
    is read or anything is made: the group's size, the seeds' range, EMT_TF_THREADS (read
    again when TensorFlow starts, after the run directory exists)."""
    from emt.numerics.config import check_seed  # numpy: loaded only when a verb runs

    if args.seeds is not None:
        check_at_most("the number of --seeds (members of one group)", len(args.seeds),
                      "MAX_GROUP_MEMBERS")
        for seed in args.seeds:
            check_seed(seed, f"--seeds {seed}: a seed")
    if args.seed is not None:
        check_seed(args.seed, f"--seed {args.seed}: the seed")
    env_int("EMT_TF_THREADS", 1, minimum=0)


_CONFIG_OPTIONS = ("hidden", "seed", "l2", "threshold", "checkpoint_every", "cell")


def _load_task(args: argparse.Namespace):
    return task_files.select(args.task, args.task_file)


def run_train(args: argparse.Namespace) -> int:
    quiet = bool(args.quiet)
    _check_early(args)
    if args.resume is not None:
        given = [f"--{n.replace('_', '-')}" for n in _CONFIG_OPTIONS
                 if getattr(args, n) is not None]
        given += ["--linear"] * args.linear + ["--stop-when-learned"] * args.stop_when_learned
        given += ["--out"] * (args.out is not None) + ["--seeds"] * (args.seeds is not None)
        if given:
            raise ValueError(f"--resume takes the run's stored configuration; remove "
                             f"{', '.join(given)} (only --steps may change)")
        members = group_members(args.resume)
        if members:  # the directory of `emt train --seeds`: its members resume as one group
            return _report_group([m.name for m in members], resume_group_layout(
                args.resume, steps=args.steps, progress=not quiet,
                processes=_processes(args, len(members))))
        _processes(args, None)
        result = resume_run(args.resume, steps=args.steps, progress=not quiet)
    else:
        if args.out is None:
            raise ValueError("--out RUN_DIR is required (or use --resume RUN_DIR)")
        task = _load_task(args)
        params = {n: getattr(args, n) for n in (*_CONFIG_OPTIONS, "steps")
                  if getattr(args, n) is not None}
        config = TrainConfig(task=task, activation="linear" if args.linear else "tanh",
                             stop_when_learned=bool(args.stop_when_learned), **params)
        check_output_path(args.out)
        if args.seeds is not None:
            return _train_seeds(config, args.seeds, args.out, quiet,
                                _processes(args, len(args.seeds)))
        _processes(args, None)
        # fresh: --out must be new or empty; an existing run is continued only by --resume
        result = train(config, args.out, progress=not quiet, fresh=True)
    _report(result)
    return 0


def _report(result) -> None:
    m = result.metrics
    print(f"{result.config.task.label}: test accuracy {m['test_accuracy']:.4f} at H = "
          f"{m['test_horizon']} after {m['steps_done']} steps (final H {m['final_horizon']}, "
          f"{m['wall_time_s']:.1f} s); run directory {result.run_dir}", file=sys.stdout)


def _processes(args: argparse.Namespace, members: int | None) -> int | None:
    """``--group-processes`` checked (``members``: None when this is no group, which refuses
    it)."""
    if args.group_processes is None:
        return None
    if members is None:
        raise ValueError("--group-processes applies to a group: use it with --seeds (or "
                         "--resume of their directory)")
    return group_processes(members, args.group_processes)


def _train_seeds(config, seeds: list[int], out: str, quiet: bool,
                 processes: int | None = None) -> int:
    """``--seeds``: one group, ``out/seed-N`` per seed; exit 2 if a member diverged (as a
    single run's divergence does), after every other member has finished.  A finished member
    is not extended to more steps here (as ``--out`` refuses a run): that is ``--resume``'s."""
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"--seeds lists {', '.join(map(str, repeated))} more than once")
    configs = [replace(config, seed=seed) for seed in seeds]  # TrainConfig validates each seed
    if Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"{out}: exists and is not a directory")
    group = train_group_layout(configs, [Path(out) / f"seed-{seed}" for seed in seeds],
                               processes=processes, progress=not quiet, extend=False)
    return _report_group([f"seed {seed}" for seed in seeds], group)


def _report_group(names: list[str], group: GroupResult) -> int:
    """Each member's result, or its error on stderr; exit 2 if a member failed."""
    for name, result, error in zip(names, group.results, group.errors, strict=True):
        if result is not None:
            _report(result)
        else:
            print(f"{name}: failed: {error}", file=sys.stderr)
    return 0 if group.ok else 2

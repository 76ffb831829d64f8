"""Subcommands of this package for the `emt` CLI (dispatched by `emt.cli`): ``emt tasks`` and
``emt derive``.

    emt tasks                                   table of the registered tasks
    emt tasks (--task NAME | --task-file FILE | --ids S D ID1 ID2 ID3) [--json]
    emt derive [--out DIR] [--check]

Input is validated before anything is written; bad input raises ``ValueError``, which the
dispatcher reports with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from emt.core.atomic import atomic_write_text

__all__ = ["register", "run_tasks", "run_derive", "task_summary", "write_documents",
           "compare_documents", "DEFAULT_OUT"]

DEFAULT_OUT = Path("derivations")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``emt tasks`` and ``emt derive``."""
    p = subparsers.add_parser(
        "tasks", help="list the registered tasks, or describe one",
        description="Without options: a table of the registered tasks (size, ids, nonzero "
        "eigenvalues of Phi, linear solvability). With one task: its F, Phi size, "
        "characteristic polynomial and spectrum summary.")
    one = p.add_mutually_exclusive_group()
    one.add_argument("--task", metavar="NAME", help="a registered task")
    one.add_argument("--task-file", metavar="FILE", help="a task file (TOML or JSON)")
    one.add_argument("--ids", nargs=5, type=int, metavar=("S", "D", "ID1", "ID2", "ID3"),
                     help="a task in the authors' id encoding")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_tasks)

    d = subparsers.add_parser(
        "derive", help="regenerate the derivation documents",
        description="Write the GSEMM energy, reduction and per-task documents (Markdown with "
        "LaTeX) to DIR; with --check, regenerate in memory and exit 1 if DIR differs.")
    d.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUT),
                   help=f"output directory (default ./{DEFAULT_OUT})")
    d.add_argument("--check", action="store_true",
                   help="compare with the files in DIR instead of writing; exit 1 on drift")
    d.set_defaults(func=run_derive)


# -- emt tasks ----------------------------------------------------------------------------------


def _selected_task(args: argparse.Namespace) -> Any:
    from emt.theory import task_files, taskspec

    if args.task is not None or args.task_file is not None:
        return task_files.select(args.task, args.task_file)
    if args.ids is not None:
        s, d, *ids = args.ids
        return taskspec.from_ids(s, d, ids)
    return None


def task_summary(task: Any) -> dict[str, Any]:
    """JSON-ready facts about one task: F (fraction strings), Phi size, the characteristic
    polynomial (expanded and factored), nonzero eigenvalue count and linear solvability."""
    import numpy as np

    from emt.theory.charpoly import LAMBDA
    from emt.theory.solvability import is_linearly_solvable
    from emt.theory.spectra import spectrum

    spec = spectrum(task)
    verdict = is_linearly_solvable(task)
    return {
        **task.to_json(),
        "phi_size": [task.n_slots, task.n_slots],
        "charpoly": str(spec.polynomial.as_expr()),
        "charpoly_factored": " * ".join(
            (str(f.as_expr()) if f.as_expr() == LAMBDA else f"({f.as_expr()})")
            + (f"**{m}" if m > 1 else "")
            for f, m in spec.factors
        ),
        "nonzero_eigenvalues": spec.nonzero,
        "spectral_radius": float(np.max(np.abs(spec.numeric))),
        "linearly_solvable": verdict.solvable,
        "linear_solvability_reason": verdict.reason,
    }


def _registry_table() -> str:
    from tabulate import tabulate

    from emt.theory import registry
    from emt.theory.solvability import is_linearly_solvable
    from emt.theory.spectra import spectrum

    rows = []
    for name in registry.names():
        t = registry.get(name)
        rows.append([
            name, t.s, t.d, "" if t.ids is None else " ".join(map(str, t.ids)),
            f"{spectrum(t).nonzero}/{t.n_slots}",
            "yes" if is_linearly_solvable(t) else "no",
            registry.describe(name),
        ])
    return tabulate(rows, headers=["name", "s", "d", "ids", "nonzero eig", "linear",
                                   "description"], tablefmt="github")


def run_tasks(args: argparse.Namespace) -> int:
    task = _selected_task(args)
    if task is None:
        if args.json:
            from emt.theory import registry

            out = [task_summary(registry.get(n)) for n in registry.names()]
            print(json.dumps(out, indent=2))
        else:
            print(_registry_table())
        return 0
    summary = task_summary(task)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"task {task.label}: s = {task.s}, d = {task.d}"
          + (f", ids {task.ids}" if task.ids is not None else ""))
    print("F (row k d + i: dimension i of step k, k = 0 the oldest):")
    for row in summary["F"]:
        print("  " + " ".join(f"{v:>5}" for v in row))
    print(f"Phi: {task.n_slots} x {task.n_slots}")
    print(f"characteristic polynomial: {summary['charpoly_factored']}")
    print(f"nonzero eigenvalues: {summary['nonzero_eigenvalues']} of {task.n_slots}")
    print(f"linearly solvable: {'yes' if summary['linearly_solvable'] else 'no'} "
          f"({summary['linear_solvability_reason']})")
    return 0


# -- emt derive ---------------------------------------------------------------------------------


def _validated_out(out: str) -> Path:
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {out}: exists and is not a directory")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise ValueError(f"--out {out}: {parent} is not a directory")
    return path


def _existing_documents(out: Path) -> set[str]:
    if not out.is_dir():
        return set()
    return {p.relative_to(out).as_posix() for p in out.rglob("*.md") if p.is_file()}


def compare_documents(docs: dict[str, str], out: Path) -> dict[str, list[str]]:
    """``{"differ": [...], "missing": [...], "extra": [...]}`` (relative paths, sorted):
    documents whose file content differs, that have no file, and ``.md`` files under ``out``
    that no document produces."""
    existing = _existing_documents(out)
    differ = sorted(p for p in docs if p in existing
                    and (out / p).read_bytes() != docs[p].encode("utf-8"))
    return {
        "differ": differ,
        "missing": sorted(set(docs) - existing),
        "extra": sorted(existing - set(docs)),
    }


def write_documents(docs: dict[str, str], out: Path) -> list[str]:
    """Write every document atomically; remove stale ``.md`` files under ``out/tasks`` (that
    folder is generated entirely).  Returns the paths whose content changed."""
    changed = []
    for rel, text in docs.items():
        target = out / rel
        if not target.exists() or target.read_bytes() != text.encode("utf-8"):
            atomic_write_text(target, text)
            changed.append(rel)
    for rel in compare_documents(docs, out)["extra"]:
        if rel.startswith(("tasks/", "cells/")):
            (out / rel).unlink()
            changed.append(rel)
    return changed


def run_derive(args: argparse.Namespace) -> int:
    from emt.core.safe_io import check_output_path
    from emt.theory.documents import build_documents

    out = _validated_out(args.out)
    if not args.check:
        check_output_path(out)  # writable, before the derivations run
    docs = build_documents()  # every step is checked here, before anything is written
    if args.check:
        drift = compare_documents(docs, out)
        problems = [f"{kind}: {p}" for kind in ("differ", "missing", "extra")
                    for p in drift[kind]]
        if problems:
            print(f"emt derive --check: {out} is out of date ({len(problems)} file(s)); run "
                  f"`emt derive --out {out}`", file=sys.stderr)
            for line in problems:
                print(f"  {line}", file=sys.stderr)
            return 1
        print(f"{out}: all {len(docs)} documents up to date")
        return 0
    changed = write_documents(docs, out)
    print(f"wrote {len(docs)} documents to {out} ({len(changed)} changed)")
    return 0

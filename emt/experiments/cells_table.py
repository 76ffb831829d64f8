"""Results for the other cells: verify finished ``emt train --cell ...`` runs and tabulate them.

    python -m emt.experiments.cells_table record RUN_DIR... --out results/cells
    python -m emt.experiments.cells_table table results/cells

``record`` copies each run's ``model.json`` and ``weights.npz`` (not the checkpoint) into
``OUT/<run name>/`` and writes the full verification report beside them (``report.json``,
`verify.judge.verify_subject` with seed 0, H = 200).  ``table`` writes ``OUT/cells.md``: one row per
record, computed only from the committed records, so a test can check that the committed table
is what this code computes from them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

__all__ = ["record_run", "cell_row", "cells_markdown", "main"]

REPORT = "report.json"


def record_run(run_dir: str | Path, out: str | Path, seed: int = 0) -> Path:
    """Verify the finished run in ``run_dir``; write its record into ``out/<name>``."""
    from emt.numerics import rundir

    run_dir, out = Path(run_dir), Path(out)
    rundir.load_run(run_dir)  # ValueError unless finished
    target = out / run_dir.name
    target.mkdir(parents=True, exist_ok=True)
    for name in (rundir.MODEL_JSON, rundir.WEIGHTS):
        shutil.copyfile(run_dir / name, target / name)
    return reverify_record(target, seed)


def reverify_record(target: str | Path, seed: int = 0) -> Path:
    """Verify a record directory (its ``model.json`` and ``weights.npz``) again with the current
    verifier and replace its report, so every record comes from one version of the checks."""
    from emt.verify.judge import verify_subject

    target = Path(target)
    report = verify_subject(target, seed=seed)
    report.write(target, "report", "json")
    (target / "report.report.json").replace(target / REPORT)
    return target


def _fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def cell_row(record_dir: Path) -> dict[str, Any]:
    """The table's numbers for one record directory."""
    meta = json.loads((record_dir / "model.json").read_text())
    report = json.loads((record_dir / REPORT).read_text())
    return {"run": record_dir.name, "cell": meta["config"].get("cell", "rnn"),
            "task": meta["task"].get("name") or "?", "hidden": meta["config"]["hidden"],
            "steps": meta["steps_done"], "train_accuracy_h200": meta["metrics"]["test_accuracy"],
            **report_numbers(report)}


def report_numbers(report: dict[str, Any]) -> dict[str, Any]:
    """Both claims' verdicts and the numbers that explain them, from a verify report (JSON) of
    any cell: each claim as "pass" or "fail (failed/checks)", the effective checks' values, the
    linear claim's key value (the LRU's spectrum error, else the mode-count mismatch of W_hh or
    of the gated cell's linearisation) and the descriptors (an Elman report keeps them at the
    top level, a cell report in its metrics)."""
    checks = {c["name"]: c for c in report["checks"]}
    desc = {**(report.get("descriptors") or {}),
            **(report["metrics"].get("descriptors") or {})}

    def status(claim: str) -> str:
        names = report["claims"][claim]["checks"]
        failed = report["claims"][claim]["failed"]
        unsure = report["claims"][claim].get("inconclusive") or []  # schema 3 on
        if failed:
            return f"fail ({len(failed)}/{len(names)})"
        return f"inconclusive ({len(unsure)}/{len(names)})" if unsure else "pass"

    linear_key = next(k for k in ("linear.lru_spectrum", "linear.spectrum.count",
                                  "spectrum.count") if k in checks or k == "spectrum.count")
    lin = checks.get(linear_key, {})
    return {
        "accuracy_h200": checks["generalisation"]["value"],
        "effective": status("effective"), "embedding_r2": checks["effective.embedding"]["value"],
        # a check before schema 3; since then a descriptor (the embedding implies the step)
        "effective_step": (checks["effective.step"]["value"] if "effective.step" in checks
                           else desc.get("effective_step_error")),
        "loaded_state": checks["effective.loaded_state"]["value"],
        "effective_holds": report["claims"]["effective"]["holds"],
        "linear": status("linear"), "linear_holds": report["claims"]["linear"]["holds"],
        "linear_key": linear_key, "linear_value": lin.get("value"),
        "linear_detail": lin.get("detail", ""), "lyapunov_1": desc.get("lyapunov_1"),
        "embedding_r2_affine": desc.get("embedding_r2_affine"),
        "state_offset_share": desc.get("state_offset_share"),
        "affine_step_error": desc.get("affine_step_error"),
        "affine_loaded_accuracy": desc.get("affine_loaded_accuracy"),
        "lru_mode_distance": desc.get("lru_mode_distance"),
    }


def cells_markdown(records: Path) -> str:
    rows = [cell_row(p) for p in sorted(Path(records).iterdir()) if (p / REPORT).is_file()]
    lines = ["| cell | task | N_h | steps | sign acc. H=200 (train test) | decided acc. H=200 "
             "(verify) | effective | embedding R^2 | affine R^2 | offset share | step error | "
             "loaded-state acc. | linear | linear key value | top Lyapunov |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['cell']} | {r['task']} | {r['hidden']} | {r['steps']} | "
            f"{_fmt(r['train_accuracy_h200'])} | {_fmt(r['accuracy_h200'])} | "
            f"{r['effective']} | {_fmt(r['embedding_r2'])} | "
            f"{_fmt(r['embedding_r2_affine'])} | {_fmt(r['state_offset_share'])} | "
            f"{_fmt(r['effective_step'])} | {_fmt(r['loaded_state'])} | {r['linear']} | "
            f"{r['linear_key']} = {_fmt(r['linear_value'], 4)} | {_fmt(r['lyapunov_1'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emt.experiments.cells_table")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record")
    r.add_argument("runs", nargs="+")
    r.add_argument("--out", required=True)
    v = sub.add_parser("reverify")
    v.add_argument("records")
    t = sub.add_parser("table")
    t.add_argument("records")
    args = p.parse_args(argv)
    try:
        if args.command == "record":
            for run in args.runs:
                print(f"recorded {record_run(run, args.out)}")
        elif args.command == "reverify":
            for d in sorted(Path(args.records).iterdir()):
                if (d / REPORT).is_file():
                    print(f"re-verified {reverify_record(d)}")
        else:
            text = cells_markdown(Path(args.records))
            (Path(args.records) / "cells.md").write_text(text)
            print(text)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

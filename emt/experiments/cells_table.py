"""Results for the other cells: verify finished ``emt train --cell ...`` runs and tabulate them.

    emt reproduce cells-records record RUN_DIR... --out results/cells
    emt reproduce cells-records table results/cells

``record`` copies each run's ``model.json`` and ``weights.npz`` (not the checkpoint) into
``OUT/<run name>/`` and writes the full verification report beside them (``report.json``,
`verify.entry.verify_subject` with seed 0, H = 200).  ``table`` writes ``OUT/cells.md``: one row per
record, computed only from the committed records, so a test can check that the committed table
is what this code computes from them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from emt.core.atomic import atomic_write_text
from emt.core.safe_io import read_json
from emt.numerics import rundir
from emt.verify.entry import verify_subject

__all__ = ["record_run", "reverify_record", "cell_row", "records_table_markdown",
           "write_records_table"]

REPORT = "report.json"


def record_run(run_dir: str | Path, out: str | Path, seed: int = 0) -> Path:
    """Verify the finished run in ``run_dir``; write its record into ``out/<name>``."""
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
    target = Path(target)
    report = verify_subject(target, seed=seed)
    report.write(target, "report", "json")
    (target / "report.report.json").replace(target / REPORT)
    return target


def _fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def cell_row(record_dir: Path) -> dict[str, Any]:
    """The table's numbers for one record directory."""
    meta = read_json(record_dir / "model.json", "record")
    report = read_json(record_dir / REPORT, "report")
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


def records_table_markdown(records: Path) -> str:
    """The Markdown table of every record directory under ``records``, one row each."""
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


def write_records_table(records: str | Path) -> Path:
    """Write `records_table_markdown` to ``records/cells.md`` (atomically); return the path."""
    records = Path(records)
    return atomic_write_text(records / "cells.md", records_table_markdown(records))

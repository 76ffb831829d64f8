"""The calibration harness: ``python -m emt.experiments.zoo.calibrate --zoo DIR --out DIR``.

Runs the verifier (`emt.verify.entry.verify_subject`, the library behind ``emt verify
--format json``) on every member of the zoo's manifest against the task it names, keeps each
check's value, bound and verdict and each claim's verdict -- whatever checks and claims the
report carries, read from its JSON -- and measures, for every bar, the false-positive rate on
nulls and the false-negative rate on positives (`rates`), per split:

* ``calibration``: constructed and `emt train` nets with an even seed;
* ``test``: those with an odd seed, and every PyTorch-trained net (a trainer the calibration
  split never sees).

It also reports, per check, the bar the calibration split's positives would set and what it
would do on the test split (`separation`).  Writes ``OUT/calibration.json`` (schema
``emt.zoo-calibration/1``: the per-member verdicts, the rates and the data bars) and
``OUT/calibration.md`` (the rate tables and the misfiring members per bar).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from emt.core.atomic import atomic_write_bytes
from emt.core.provenance import versions
from emt.experiments.zoo import manifest
from emt.experiments.zoo.members import CLAIM_PREFIX, label
from emt.experiments.zoo.rates import bar_rates
from emt.experiments.zoo.report import markdown
from emt.experiments.zoo.separation import data_bars
from emt.experiments.zoo.taskdata import SOLVES_ACCURACY
from emt.verify.entry import verify_subject

__all__ = ["SPLITS", "source_commit", "split_of", "judge_member", "calibrate", "rates_table",
           "main", "SCHEMA"]

SCHEMA = "emt.zoo-calibration/1"
SPLITS = ("calibration", "test")


def split_of(member: dict) -> str:
    """Calibration or test, by trainer and by seed (module docstring)."""
    if member["trainer"] == "torch":
        return "test"
    return "calibration" if member["seed"] % 2 == 0 else "test"


def _claim_accepts(claim: dict) -> bool | None:
    verdict = claim.get("verdict")
    if isinstance(verdict, str):  # a verdict word (e.g. "inconclusive") when reports carry one
        return {"holds": True, "fails": False}.get(verdict.lower())
    holds = claim.get("holds")
    return holds if isinstance(holds, bool) else None


def source_commit() -> str | None:
    """The git commit of the checked-out source the verifier ran from (``None`` outside a git
    checkout): the rates describe that verifier's bars."""
    try:
        run = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return None
    return (run.stdout.strip() or None) if run.returncode == 0 else None


def judge_member(zoo: Path, member: dict, seed: int = 0) -> dict:
    """The member's bars, ``{bar: {"accepts", "value", "status", "comparator", "tolerance"}}``,
    from its report, or ``{"error": ...}`` when the verifier refused it."""
    try:
        report = verify_subject(zoo / member["file"], member["task"], seed=seed).to_json()
    except ValueError as exc:
        return {"error": str(exc)}
    bars = {}
    for c in report.get("checks", []):
        passed = c.get("passed")
        bars[c["name"]] = {"accepts": passed if isinstance(passed, bool) else None,
                           "value": c.get("value"), "status": c.get("status"),
                           "comparator": c.get("comparator"), "tolerance": c.get("tolerance")}
    for name, claim in report.get("claims", {}).items():
        bars[CLAIM_PREFIX + name] = {"accepts": _claim_accepts(claim), "value": None,
                                     "status": claim.get("verdict", claim.get("holds")),
                                     "comparator": None, "tolerance": None}
    return {"bars": bars}


def rates_table(members: list[dict]) -> dict:
    """``{split: {bar: bar_rates}}`` plus the split ``all``; the ``solving_nulls`` group (nulls
    that solve the task they are judged on: the hard ones) is reported beside the nulls."""
    bars = sorted({b for m in members for b in m.get("bars", {})},
                  key=lambda b: (not b.startswith(CLAIM_PREFIX), b))
    out: dict = {}
    for split in (*SPLITS, "all"):
        group = [m for m in members if split in ("all", m["split"]) and "bars" in m]
        out[split] = {}
        for bar in bars:
            pos = [m for m in group if label(m, bar) == "positive"]
            nul = [m for m in group if label(m, bar) == "null"]
            hard = [m for m in nul if m["accuracy"] >= SOLVES_ACCURACY]
            r = bar_rates([m["bars"].get(bar, {}) for m in pos],
                          [m["bars"].get(bar, {}) for m in nul])
            r["fp_solving_nulls"] = bar_rates([], [m["bars"].get(bar, {}) for m in hard])["fp"]
            out[split][bar] = r
    return out


def calibrate(zoo: Path, seed: int = 0, log=sys.stderr) -> dict:
    """Judge every member and measure the rates (module docstring)."""
    if not (Path(zoo) / manifest.MANIFEST).is_file():
        raise ValueError(f"{zoo}: no {manifest.MANIFEST}; build a zoo first (docs/zoo.md)")
    data = manifest.read(zoo)
    if not data["members"]:
        raise ValueError(f"{zoo}: the manifest names no members")
    members = []
    for m in data["members"]:
        judged = judge_member(zoo, m, seed)
        row = {k: m[k] for k in ("id", "kind", "trainer", "family", "seed", "task",
                                 "accuracy")}
        row.update(split=split_of(m), **judged)
        members.append(row)
        print(f"{m['id']}: {'error' if 'error' in judged else 'judged'}", file=log)
    return {"schema": SCHEMA, "zoo": str(zoo), "verifier_seed": seed, "versions": versions(),
            "commit": source_commit(),
            "solves_accuracy": SOLVES_ACCURACY, "splits": {
                "calibration": "constructed and emt-train nets with an even seed",
                "test": "odd seeds, and every PyTorch-trained net"},
            "members": members, "rates": rates_table(members), "data_bars": data_bars(members)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emt.experiments.zoo.calibrate",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", required=True, type=Path, help="zoo directory (manifest.json)")
    ap.add_argument("--out", required=True, type=Path, help="directory for the outputs")
    ap.add_argument("--seed", type=int, default=0, help="the verifier's batch seed")
    args = ap.parse_args(argv)
    try:
        result = calibrate(args.zoo, args.seed)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    atomic_write_bytes(args.out / "calibration.json",
                       (json.dumps(result, allow_nan=False, separators=(",", ":")) + "\n")
                       .encode("utf-8"))
    atomic_write_bytes(args.out / "calibration.md", markdown(result).encode("utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

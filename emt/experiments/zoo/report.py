"""Markdown rendering of a calibration result (`calibrate.calibrate`): per split, each bar's
false-negative rate on positives and false-positive rate on nulls (and on the nulls that solve
their task) with Wilson 95% intervals; then which members each bar misfires on."""

from __future__ import annotations

from tabulate import tabulate

from emt.experiments.zoo.members import CLAIM_PREFIX, label

__all__ = ["markdown", "rate_cell"]

MAX_LISTED = 12  # members named per misfire line


def rate_cell(r: dict) -> str:
    """``k/n = rate [low, high]`` (Wilson 95 %), or ``- (0)`` for an empty count."""
    if not r["n"]:
        return "- (0)"
    lo, hi = r["ci95"]
    return f"{r['k']}/{r['n']} = {r['rate']:.2f} [{lo:.2f}, {hi:.2f}]"


def _split_table(rates: dict) -> str:
    rows = [[bar, rate_cell(r["fn"]), rate_cell(r["fp"]), rate_cell(r["fp_solving_nulls"]),
             f"{r['no_verdict']['positives']}/{r['no_verdict']['nulls']}"]
            for bar, r in rates.items()]
    return tabulate(rows, headers=["bar", "FN on positives", "FP on nulls",
                                   "FP on solving nulls", "no verdict (pos/null)"],
                    tablefmt="github")


def _num(v) -> str:
    return "-" if v is None else f"{v:.4g}"


def _data_table(result: dict) -> str:
    rows = [[name, f"{d['comparator']} {_num(d['current'])}", _num(d["data_bar"]),
             _num(d["best_solving_null"]), rate_cell(d["test"]["fn"]), rate_cell(d["test"]["fp"])]
            for name, d in result["data_bars"].items()]
    return tabulate(rows, headers=["check", "current bar", "data bar", "best solving null",
                                   "test FN (data bar)", "test FP (data bar)"],
                    tablefmt="github")


def _misfires(members: list[dict], bars: list[str]) -> list[str]:
    lines = []
    for bar in bars:
        fn = [m["id"] for m in members
              if label(m, bar) == "positive" and m.get("bars", {}).get(bar, {}).get("accepts")
              is False]
        fp = [m["id"] for m in members
              if label(m, bar) == "null" and m.get("bars", {}).get(bar, {}).get("accepts") is True
              and (bar.startswith(CLAIM_PREFIX) or m["accuracy"] >= 0.95)]
        for what, ids in (("rejects positives", fn), ("accepts nulls", fp)):
            if ids:
                more = f" (+{len(ids) - MAX_LISTED} more)" if len(ids) > MAX_LISTED else ""
                lines.append(f"- **{bar}** {what} ({len(ids)}): "
                             f"{', '.join(ids[:MAX_LISTED])}{more}")
    return lines


def _group(m: dict) -> str:
    return m["trainer"] if m["trainer"] != "construct" else m["family"]


def _family_matrix(members: list[dict], bars: list[str]) -> str:
    """Rows: bars; columns: constructed families and the trainers; cells: positives rejected
    / judged and nulls accepted / judged ("-" where the group has none)."""
    groups = sorted({_group(m) for m in members if "bars" in m})
    rows = []
    for bar in bars:
        row = [bar]
        for g in groups:
            cell = []
            for kind, miss in (("positive", False), ("null", True)):
                got = [m["bars"].get(bar, {}).get("accepts") for m in members
                       if "bars" in m and _group(m) == g and label(m, bar) == kind]
                got = [v for v in got if v is not None]
                if got:
                    cell.append(f"{'FN' if kind == 'positive' else 'FP'} "
                                f"{sum(v is miss for v in got)}/{len(got)}")
            row.append(" ".join(cell) or "-")
        rows.append(row)
    return tabulate(rows, headers=["bar", *groups], tablefmt="github")


def _member_rows(members: list[dict]) -> str:
    rows = []
    for m in members:
        bars = m.get("bars", {})
        claims = " ".join(f"{b[len(CLAIM_PREFIX):]}={'Y' if v.get('accepts') else 'N'}"
                          for b, v in bars.items() if b.startswith(CLAIM_PREFIX))
        failed = ", ".join(f"{b} {v['value']:.3g}" if isinstance(v.get("value"), float) else b
                           for b, v in bars.items()
                           if v.get("accepts") is False and not b.startswith(CLAIM_PREFIX))
        rows.append([m["id"], m["kind"], m["trainer"], m["split"], f"{m['accuracy']:.3f}",
                     m.get("error", claims), failed])
    return tabulate(rows, headers=["member", "kind", "trainer", "split", "own acc H=200",
                                   "claims", "failed checks"], tablefmt="github")


def markdown(result: dict) -> str:
    members = result["members"]
    counts: dict[tuple[str, str], int] = {}
    for m in members:
        key = (m["split"], m["kind"])
        counts[key] = counts.get(key, 0) + 1
    lines = ["# Verifier calibration on the zoo", "",
             f"Zoo `{result['zoo']}`: {len(members)} members judged by the verifier (batch seed "
             f"{result['verifier_seed']}; emt {result.get('versions', {}).get('emt')} at "
             f"commit {result.get('commit')}).  Positives: binding circuits by construction, and "
             f"trained nets, that solve the task they are judged on (own sign accuracy at "
             f"H = 200 >= {result['solves_accuracy']}); nulls: everything else; for the binding "
             f"claim and its checks a lookup that solves its task is a positive (it binds "
             f"per slot without a linear code; docs/zoo.md).",
             "", "| split | positives | nulls |", "|---|---|---|"]
    for split, text in result["splits"].items():
        lines.append(f"| {split} ({text}) | {counts.get((split, 'positive'), 0)} | "
                     f"{counts.get((split, 'null'), 0)} |")
    lines += ["", "Rates are k/n = rate [Wilson 95% interval]; a bar with no verdict on a "
              "member (skipped check) is left out of that member's count.", ""]
    for split, rates in result["rates"].items():
        lines += [f"## Split: {split}", "", _split_table(rates), ""]
    bars = list(result["rates"]["all"])
    if result.get("data_bars"):
        lines += ["## Bars read off the calibration split", "",
                  "The worst value a calibration positive reached (the loosest bar with no "
                  "calibration false negative), beside the current bar, the value of the "
                  "solving null closest to passing, and that bar's rates on the test split. "
                  "A measurement, not applied (docs/zoo.md).", "", _data_table(result), ""]
    lines += ["## Misfires by family and trainer (all splits)", "",
              "FN k/n: positives of the group the bar rejects; FP k/n: nulls it accepts "
              "(every null, solving or not).", "", _family_matrix(members, bars), "",
              "## Misfires (all splits)", "",
              "Checks are listed as accepting a null only when the null solves its task "
              "(accepting a non-solver is the generalisation check's job); claims always.", "",
              *(_misfires(members, bars) or ["- none"]), "", "## Members", "",
              _member_rows(members), ""]
    return "\n".join(lines)

"""`emt reproduce population`: every claim's verdict over every committed net, with intervals.

The population is every finished run directory committed under ``results/`` (the Table 1,
input-phase, cells and group-trained runs) plus every member of the calibration zoo
(``results/zoo/manifest.json``: constructed, PyTorch-trained and `emt train`-trained nets).
Each subject is judged once by the current verifier (`verify.entry.verify_subject`, seed 0,
H = 200) against its own task; the zoo's wrong-task members against the task they name.

For each claim and each group (cell, regime class, source) the table gives the fraction of
subjects whose verdict is ``holds``, with a Wilson 95 % interval; ``inconclusive`` verdicts are
counted apart (they are neither), so ``holds + fails + inconclusive = n``.  The fraction
describes this population only: the zoo's nulls are in it on purpose, so "holds" is not a
success rate of training, and each group is named so it can be read on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from emt.core.atomic import atomic_write_text, write_json
from emt.core.provenance import versions
from emt.core.safe_io import read_json
from emt.core.threads import limit_threads
from emt.experiments.zoo.members import CLAIM_PREFIX, label
from emt.experiments.zoo.rates import wilson
from emt.verify.claims import CLAIMS
from emt.verify.entry import verify_subject

__all__ = ["SCHEMA", "committed_runs", "zoo_subjects", "judge", "summarise", "population",
           "population_markdown"]

SCHEMA = "emt.population/1"
VERDICTS = ("holds", "fails", "inconclusive")


def committed_runs(results: Path) -> list[dict[str, Any]]:
    """Every finished run directory under ``results`` (outside the zoo, which `zoo_subjects`
    lists with its labels): ``{"id", "path", "task": None, "source", "cell"}``."""
    subjects = []
    for model_json in sorted(results.rglob("model.json")):
        run = model_json.parent
        rel = run.relative_to(results)
        if rel.parts[0] == "zoo" or not (run / "weights.npz").is_file():
            continue
        meta = read_json(model_json, "model.json")
        if meta.get("status") != "finished":
            continue
        subjects.append({"id": str(rel), "path": str(run), "task": None,
                         "source": f"results/{rel.parts[0]}",
                         "cell": str(meta.get("config", {}).get("cell") or "rnn")})
    return subjects


def zoo_subjects(zoo: Path) -> list[dict[str, Any]]:
    """Every member of the zoo's manifest, with its task, kind (positive/null) and family."""
    manifest = read_json(zoo / "manifest.json", "zoo manifest")
    return [{"id": f"zoo/{m['id']}", "path": str(zoo / m["file"]), "task": m["task"],
             "source": f"zoo/{m['trainer']}", "cell": "rnn", "kind": m["kind"],
             "family": m["family"], "accuracy": m["accuracy"]}
            for m in manifest["members"]]


def _word(claim: Mapping[str, Any]) -> str:
    """A report's claim entry as one of `VERDICTS`."""
    verdict = claim.get("verdict")
    if isinstance(verdict, str) and verdict in VERDICTS:
        return verdict
    return "holds" if claim.get("holds") is True else "fails"


def judge(subject: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """``subject`` with its verdict per claim and its regime class (or the verifier's
    refusal as ``error``)."""
    limit_threads(1)  # one BLAS thread per worker process: the workers share the cores
    try:
        report = verify_subject(subject["path"], subject["task"], seed=seed).to_json()
    except (ValueError, FileNotFoundError) as exc:
        return {**subject, "error": str(exc)}
    regime = report.get("descriptors", {}).get("regime")
    return {**subject,
            "verdicts": {name: _word(c) for name, c in report.get("claims", {}).items()},
            "regime": regime.get("class") if isinstance(regime, dict) else None}


def _groups(subject: dict[str, Any], claim: str) -> Iterable[tuple[str, str]]:
    yield "all", "all"
    yield "cell", subject["cell"]
    yield "regime", str(subject.get("regime"))
    yield "source", subject["source"]
    if "kind" in subject:  # the zoo's label for this claim (`zoo.members.label`)
        yield "zoo kind", label(subject, CLAIM_PREFIX + claim)


def summarise(judged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (claim, grouping, group): counts of each verdict, the fraction that holds
    and its Wilson 95 % interval."""
    counts: dict[tuple[str, str, str], dict[str, int]] = {}
    for subject in judged:
        for claim, word in subject.get("verdicts", {}).items():
            for by, group in _groups(subject, claim):
                row = counts.setdefault((claim, by, group), dict.fromkeys(VERDICTS, 0))
                row[word] += 1
    rows = []
    for (claim, by, group), c in sorted(counts.items()):
        n = sum(c.values())
        low, high = wilson(c["holds"], n)
        rows.append({"claim": claim, "by": by, "group": group, "n": n, **c,
                     "fraction": c["holds"] / n, "low": low, "high": high})
    return rows


def population(results: Path, out: Path, *, workers: int = 2, seed: int = 0) -> dict[str, Any]:
    """Judge the population (module docstring) on ``workers`` processes and write
    ``out/population.json`` (schema `SCHEMA`) and ``out/population.md``."""
    subjects = committed_runs(results)
    if (results / "zoo" / "manifest.json").is_file():
        subjects += zoo_subjects(results / "zoo")
    if not subjects:
        raise ValueError(f"{results}: no finished run directory and no zoo manifest")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        judged = list(pool.map(judge, subjects, [seed] * len(subjects)))
    doc = {"schema": SCHEMA, "seed": seed, "versions": versions(),
           "claims": [c for c in CLAIMS], "subjects": judged, "rows": summarise(judged)}
    write_json(out / "population.json", doc)
    atomic_write_text(out / "population.md", population_markdown(doc))
    return doc


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def population_markdown(doc: Mapping[str, Any]) -> str:
    """The tables of `population`: per claim, the fraction that holds by each grouping."""
    judged = doc["subjects"]
    errors = [s for s in judged if "error" in s]
    lines = ["# Every claim over every committed net", "",
             f"{len(judged)} subjects: {len(judged) - len(errors)} judged (seed {doc['seed']}, "
             f"H = 200), {len(errors)} refused by the verifier. 'holds' is the fraction whose "
             "verdict is holds, with its Wilson 95 % interval; inconclusive verdicts are "
             "counted apart. Regenerate: `emt reproduce population`.", ""]
    for claim in doc["claims"]:
        lines += [f"## {claim}", "", "| by | group | n | holds | fails | inconclusive | "
                  "fraction holding [95 %] |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['by']} | {r['group']} | {r['n']} | {r['holds']} | {r['fails']} | "
                  f"{r['inconclusive']} | {_pct(r['fraction'])} [{_pct(r['low'])}, "
                  f"{_pct(r['high'])}] |"
                  for r in doc["rows"] if r["claim"] == claim]
        lines.append("")
    if errors:
        lines += ["## Refused", ""] + [f"- `{s['id']}`: {s['error']}" for s in errors] + [""]
    return "\n".join(lines)


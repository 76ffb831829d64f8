"""`emt reproduce population`: every claim over a population of nets, with intervals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from emt import cli
from emt.experiments.population import population, summarise

ROOT = Path(__file__).resolve().parents[2]
ZOO = ROOT / "results" / "zoo"
COMMITTED = ROOT / "results" / "population"


def test_summarise_counts_each_verdict_and_bounds_the_fraction() -> None:
    judged = [{"cell": "rnn", "source": "a", "regime": "linear",
               "verdicts": {"effective": v}} for v in ("holds", "holds", "fails", "inconclusive")]
    rows = {(r["by"], r["group"]): r for r in summarise(judged) if r["claim"] == "effective"}
    row = rows[("all", "all")]
    assert (row["n"], row["holds"], row["fails"], row["inconclusive"]) == (4, 2, 1, 1)
    assert row["fraction"] == 0.5
    assert 0.0 < row["low"] < 0.5 < row["high"] < 1.0
    assert rows[("regime", "linear")]["n"] == 4


def test_a_circuit_holds_and_an_untrained_net_fails(tmp_path: Path) -> None:
    """A two-member zoo: the constructed circuit holds every claim, the untrained net none."""
    zoo = tmp_path / "results" / "zoo"
    (zoo / "nets").mkdir(parents=True)
    manifest = json.loads((ZOO / "manifest.json").read_text())
    keep = [m for m in manifest["members"]
            if m["id"] in ("circuit-h-repeat-copy-3-s1", "untrained-repeat-copy-3-s1")]
    assert len(keep) == 2
    for m in keep:
        shutil.copyfile(ZOO / m["file"], zoo / m["file"])
    (zoo / "manifest.json").write_text(json.dumps({**manifest, "members": keep}))
    doc = population(tmp_path / "results", tmp_path / "out", workers=1)
    verdicts = {s["id"]: s["verdicts"] for s in doc["subjects"]}
    assert set(verdicts["zoo/circuit-h-repeat-copy-3-s1"].values()) == {"holds"}
    assert "holds" not in set(verdicts["zoo/untrained-repeat-copy-3-s1"].values())
    assert (tmp_path / "out" / "population.md").read_text().startswith("# Every claim")


def test_an_empty_results_directory_is_bad_input(tmp_path: Path) -> None:
    assert cli.main(["reproduce", "population", "--results", str(tmp_path),
                     "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_the_committed_tables_are_what_the_verdicts_give() -> None:
    doc = json.loads((COMMITTED / "population.json").read_text())
    assert doc["rows"] == json.loads(json.dumps(summarise(doc["subjects"])))

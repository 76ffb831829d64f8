"""The calibration harness (emt/experiments/zoo/calibrate.py, rates.py, report.py): Wilson
intervals, rates that read whatever bars a report carries, the split rule, and the verifier's
verdicts on a known positive and a known null from the committed zoo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emt.experiments.zoo.calibrate import judge_member, main, rates_table, split_of
from emt.experiments.zoo.members import label
from emt.experiments.zoo.rates import bar_rates, wilson
from emt.experiments.zoo.report import markdown

ZOO = Path(__file__).resolve().parents[2] / "results" / "zoo"


def test_wilson_interval_known_values():
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(5, 10)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson(3, 2)


def test_rates_leave_out_members_without_a_verdict():
    r = bar_rates([{"accepts": True}, {"accepts": False}, {"accepts": None}],
                  [{"accepts": True}, {}, {"accepts": False}, {"accepts": False}])
    assert (r["fn"]["k"], r["fn"]["n"]) == (1, 2)
    assert (r["fp"]["k"], r["fp"]["n"]) == (1, 3)
    assert r["no_verdict"] == {"positives": 1, "nulls": 1}


def _member(i, kind, accepts, split="test", acc=1.0):
    return {"id": f"m{i}", "kind": kind, "trainer": "construct", "family": "f", "split": split,
            "accuracy": acc, "bars": {"binding.interchange": {"accepts": accepts},
                                      "claim:effective": {"accepts": accepts}}}


def test_rates_table_reads_any_bar_name():
    members = [_member(0, "positive", True), _member(1, "positive", False),
               _member(2, "null", True), _member(3, "null", None),
               _member(4, "null", False, "calibration", 0.5)]
    table = rates_table(members)
    bar = table["test"]["binding.interchange"]
    assert (bar["fn"]["k"], bar["fn"]["n"], bar["fp"]["k"], bar["fp"]["n"]) == (1, 2, 1, 1)
    assert table["all"]["claim:effective"]["fp"]["n"] == 2
    assert table["calibration"]["claim:effective"]["fp_solving_nulls"]["n"] == 0
    text = markdown({"zoo": "z", "verifier_seed": 0, "solves_accuracy": 0.95,
                     "splits": {"calibration": "c", "test": "t"}, "members": members,
                     "rates": table})
    assert "binding.interchange" in text and "m1" in text


def test_split_by_trainer_and_seed():
    assert split_of({"trainer": "torch", "seed": 2}) == "test"
    assert split_of({"trainer": "construct", "seed": 2}) == "calibration"
    assert split_of({"trainer": "emt-train", "seed": 13}) == "test"


def _entry(member_id: str) -> dict:
    data = json.loads((ZOO / "manifest.json").read_text(encoding="utf-8"))
    return next(m for m in data["members"] if m["id"] == member_id)


def test_the_verifier_accepts_a_constructed_circuit_and_rejects_its_shuffled_copy():
    good = judge_member(ZOO, _entry("circuit-h-repeat-copy-4-s2"))["bars"]
    bad = judge_member(ZOO, _entry("shuffled-repeat-copy-4-s2"))["bars"]
    assert good["claim:effective"]["accepts"] is True
    assert good["claim:linear"]["accepts"] is True
    assert bad["claim:effective"]["accepts"] is False
    assert bad["generalisation"]["accepts"] is False


def test_a_member_the_verifier_refuses_is_recorded_not_raised(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    out = judge_member(tmp_path, {"file": "bad.npz", "task": "repeat-copy-4"})
    assert "error" in out


def test_cli_bad_zoo_exits_2(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text('{"schema": "other"}')
    assert main(["--zoo", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "not an emt.zoo/1 manifest" in capsys.readouterr().err


def test_data_bar_is_the_worst_calibration_positive_and_is_scored_on_test():
    from emt.experiments.zoo.separation import data_bars

    def m(i, kind, split, value, acc=1.0):
        return {"id": f"m{i}", "kind": kind, "split": split, "accuracy": acc,
                "bars": {"x": {"value": value, "comparator": ">=", "tolerance": 0.9}}}

    members = [m(0, "positive", "calibration", 0.97), m(1, "positive", "calibration", 0.93),
               m(2, "null", "calibration", 0.5), m(3, "positive", "test", 0.92),
               m(4, "null", "test", 0.95), m(5, "null", "test", 0.1, acc=0.5)]
    d = data_bars(members)["x"]
    assert d["data_bar"] == 0.93 and d["current"] == 0.9 and d["best_solving_null"] == 0.95
    assert (d["test"]["fn"]["k"], d["test"]["fn"]["n"]) == (1, 1)
    assert (d["test"]["fp"]["k"], d["test"]["fp"]["n"]) == (1, 2)


def test_cli_without_a_manifest_exits_2(tmp_path, capsys):
    assert main(["--zoo", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "no manifest.json" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_bar_rates_table_in_the_docs_is_what_the_committed_calibration_gives():
    import json
    from pathlib import Path

    from emt.experiments.zoo.bar_table import BEGIN, END, bar_rates_table

    root = Path(__file__).resolve().parents[2]
    result = json.loads((root / "results" / "zoo" / "calibration.json").read_text())
    doc = (root / "docs" / "tolerances.md").read_text()
    committed = doc[doc.index(BEGIN) + len(BEGIN) + 1:doc.index(END)]
    assert committed == bar_rates_table(result)
    assert "`claim:effective`" in committed and "`binding.ablation`" in committed


def test_a_solving_lookup_is_a_binding_positive_and_an_effective_null():
    """A lookup stores each variable in its own block, so it binds by construction; it is a
    null for the claims about a linear code.  A lookup that does not solve its task is a null
    for every claim."""
    lookup = {**_member(0, "null", True), "family": "lookup"}
    failed = {**_member(1, "null", True, acc=0.6), "family": "lookup-onehot"}
    table = rates_table([lookup, failed])["test"]
    assert (table["binding.interchange"]["fn"]["n"], table["binding.interchange"]["fp"]["n"]) \
        == (1, 1)
    assert (table["claim:effective"]["fn"]["n"], table["claim:effective"]["fp"]["n"]) == (0, 2)
    assert label(lookup, "claim:binding") == "positive" and label(lookup, "readout") == "null"
    assert label(failed, "binding.ablation") == "null"

"""Aggregation of per-run records into Table 1, against a hand-made table and the paper's rule."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emt.experiments.aggregate import (
    PAPER_TABLE1,
    aggregate_records,
    aggregate_rows,
    claims_markdown,
    format_cell,
    run_row,
    table1_markdown,
)

NAN = math.nan


def _row(task, hidden, l2, threshold, seed, paper, acc, matched=0.01, status="done", checks=None):
    return {"key": f"{task}-{hidden}-{l2}-{threshold}-{seed}", "task": task, "hidden": hidden,
            "l2": l2, "threshold": threshold, "seed": seed, "status": status, "accuracy": acc,
            "paper_error": paper, "matched_error": matched, "modulus_error": 0.0,
            "count_trained": None, "count_theory": None,
            "checks": checks if checks is not None else {"spectrum.phase": True}}


# Hand-made per-run table: (task, N_h, L2) cells, two thresholds per seed.
HAND_ROWS = [
    # Cell T1/128/0: seed 1 best = 0.01 (the NaN run is skipped), seed 2 best = 0.02.
    _row("T1", 128, 0.0, 0.9, 1, 0.01, 0.90, matched=0.011),
    _row("T1", 128, 0.0, 0.98, 1, NAN, 0.95, matched=0.5),
    _row("T1", 128, 0.0, 0.9, 2, 0.03, 1.00, matched=0.03),
    _row("T1", 128, 0.0, 0.98, 2, 0.02, 0.99, matched=0.021),
    # Cell T2/128/0: seed 1 has counts mismatched in every run, seed 2 does not: the paper's
    # NaN-skipping mean is seed 2's value alone.
    _row("T2", 128, 0.0, 0.9, 1, NAN, 0.80),
    _row("T2", 128, 0.0, 0.98, 1, NAN, 0.85),
    _row("T2", 128, 0.0, 0.9, 2, 0.004, 0.97),
    # Cell T3/64/1e-3: no seed has matched counts anywhere: "---".
    _row("T3", 64, 1e-3, 0.9, 1, NAN, 0.6, checks={"spectrum.phase": False}),
    _row("T3", 64, 1e-3, 0.9, 2, NAN, 0.7, checks={"spectrum.phase": False}),
    # A failed job in T3/64/1e-3 counts as failed and enters no mean.
    _row("T3", 64, 1e-3, 0.98, 2, 0.0, 1.0, status="failed"),
]


def _cells():
    return {(c["task"], c["hidden"], c["l2"]): c for c in aggregate_rows(HAND_ROWS)}


def test_per_seed_best_then_mean_over_seeds():
    c = _cells()[("T1", 128, 0.0)]
    assert c["spectral"] == pytest.approx((0.01 + 0.02) / 2)
    assert c["accuracy"] == pytest.approx((0.95 + 1.00) / 2)
    assert c["matched"] == pytest.approx((0.011 + 0.021) / 2)
    assert c["modulus"] == pytest.approx(0.0)
    assert c["n_spectral"] == 2 and c["seeds"] == [1, 2]
    assert c["spectral_stats"]["min"] == pytest.approx(0.01)
    assert c["spectral_stats"]["max"] == pytest.approx(0.02)
    assert c["paper_spectral"] == 0.0005 and c["paper_accuracy"] == 1.00


def test_seed_without_matched_counts_is_skipped_like_the_paper():
    c = _cells()[("T2", 128, 0.0)]
    assert c["spectral"] == pytest.approx(0.004)
    assert c["n_spectral"] == 1
    assert c["accuracy"] == pytest.approx((0.85 + 0.97) / 2)


def test_dash_when_no_seed_has_matched_counts_and_failed_jobs_are_excluded():
    c = _cells()[("T3", 64, 1e-3)]
    assert c["spectral"] is None
    assert format_cell(c["spectral"], c["accuracy"]) == "--- (0.65)"
    assert c["n_failed"] == 1 and c["n_runs"] == 2
    assert c["check_pass_rate"] == {"spectrum.phase": 0.0}
    assert _cells()[("T1", 128, 0.0)]["check_pass_rate"] == {"spectrum.phase": 1.0}


@pytest.mark.parametrize("cell", [("T1", 128, 0.0), ("T2", 128, 0.0), ("T3", 64, 1e-3)])
def test_matches_the_authors_pandas_expression(cell):
    """Oracle: the authors' notebook, np.mean(df.groupby('seed')[col].min()) (and max)."""
    df = pd.DataFrame([r for r in HAND_ROWS if r["status"] == "done"])
    sub = df[(df.task == cell[0]) & (df.hidden == cell[1]) & (df.l2 == cell[2])]
    theirs = np.mean(sub.groupby("seed")["paper_error"].min())
    theirs_acc = np.mean(sub.groupby("seed")["accuracy"].max())
    ours = _cells()[cell]
    if math.isnan(theirs):
        assert ours["spectral"] is None
    else:
        assert ours["spectral"] == pytest.approx(theirs)
    assert ours["accuracy"] == pytest.approx(theirs_acc)


def test_markdown_places_paper_beside_ours():
    text = table1_markdown(aggregate_rows(HAND_ROWS))
    assert "| T1 | 128 | 0 | 0.0150 (0.97) | 0.0005 (1.00) | 2/2 |" in text
    assert "| T3 | 64 | 0.001 | --- (0.65) | 0.0026 (1.00)" not in text  # T3/64/1e-3 below
    assert "| T3 | 64 | 0.001 | --- (0.65) | 0.0010 (0.97) | 0/2 |" in text


def test_cell_without_finished_runs_is_not_shown_as_dash():
    rows = [_row("T4", 128, 0.0, 0.96, 1, NAN, NAN, status="running")]
    (cell,) = aggregate_rows(rows)
    assert cell["seeds"] == [] and cell["n_failed"] == 1
    assert "| T4 | 128 | 0 | no finished run | 0.0022 (1.00) | 0/0 |" in table1_markdown([cell])


def test_paper_table_has_all_cells():
    assert len(PAPER_TABLE1) == 4 * 2 * 3
    assert PAPER_TABLE1[("T4", 64, 0.0)] == (0.0112, 0.94)


SPECTRUM = {"threshold": 0.8, "n_theory": 8, "n_trained": 9, "count_mismatch": 1,
            "phase_error_max": 0.3, "phase_error_mean": 0.2, "modulus_error_max": 0.1,
            "modulus_error_mean": 0.05, "paper_metric": None, "paper_threshold": 0.9}
REPORT_METRICS = {"spectrum": SPECTRUM, "accuracy_h200": 0.93, "loaded_state_accuracy": 0.5,
                  "psi_condition": 12.0, "slots": 8, "passed": False,
                  "effective_holds": False, "linear_holds": False}
CLAIMS = {"effective": {"holds": False}, "linear": {"holds": False}}


def _record(**changes):
    record = {
        "schema": "emt.sweep-record/1", "key": "abc", "status": "done", "attempt": 1,
        "started": "2026-01-01T00:00:00+00:00", "host": "h", "pid": 1, "versions": {},
        "job": {"task": {"name": "T1", "s": 8, "d": 8}, "hidden": 64, "l2": 0.0,
                "threshold": 0.9, "seed": 3},
        "train": {"metrics": {"test_accuracy": 0.99}},
        "verify": {"passed": False, "checks": {"spectrum.phase": True, "output.accuracy": False},
                   "metrics": REPORT_METRICS},
    }
    record.update(changes)
    return record


def test_run_row_reads_a_record():
    record = _record()
    row = run_row(record)
    assert (row["task"], row["hidden"], row["seed"]) == ("T1", 64, 3)
    assert math.isnan(row["paper_error"]) and row["matched_error"] == 0.2
    assert row["accuracy"] == 0.93
    assert (row["count_trained"], row["count_theory"]) == (9, 8)
    cells = aggregate_records([record])
    assert cells[0]["spectral"] is None and cells[0]["all_checks_pass_rate"] == 0.0


def test_run_row_reads_fields_by_name_and_never_falls_back_to_training_accuracy():
    # A done record without the verify summary has no accuracy at H = 200: refused, even though
    # the training metrics hold a test accuracy.
    with pytest.raises(ValueError, match="no verify summary"):
        run_row(_record(verify=None))
    renamed = {k: v for k, v in REPORT_METRICS.items() if k != "accuracy_h200"}
    with pytest.raises(ValueError, match="missing field 'accuracy_h200'"):
        run_row(_record(verify={"passed": False, "checks": {}, "metrics": renamed}))
    with pytest.raises(ValueError, match="unknown field.*'test_accuracy'"):
        run_row(_record(verify={"passed": False, "checks": {}, "metrics": {
            **renamed, "test_accuracy": 0.9}}))
    with pytest.raises(ValueError, match="unknown field"):
        run_row(_record(extra=1))
    failed = run_row(_record(status="failed", verify=None, error="boom"))
    assert failed["status"] == "failed" and math.isnan(failed["accuracy"])


RESULTS = Path(__file__).resolve().parents[2] / "results" / "table1-quick"


@pytest.mark.skipif(not (RESULTS / "table1.json").is_file(), reason="no committed results")
def test_committed_aggregate_is_what_the_code_computes():
    committed = json.loads((RESULTS / "table1.json").read_text())
    records = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("runs/*/record.json"))]
    assert records, "committed table without per-run records"
    keys = {r["key"] for r in records}
    assert set(committed["keys"]) == keys
    recomputed = json.loads(json.dumps(aggregate_records(records)))
    assert committed["cells"] == recomputed


def test_skipped_checks_are_neither_pass_nor_fail():
    from emt.experiments.sweep_job import summarize_report

    def report(*checks):
        return {"schema": "emt.report/2", "claim": "effective", "claims": CLAIMS,
                "descriptors": {}, "metadata": {}, "metrics": REPORT_METRICS,
                "checks": [{"name": n, "passed": p} for n, p in checks]}

    summary = summarize_report(report(("markov", None), ("spectrum.phase", True)))
    assert summary["checks"] == {"markov": None, "spectrum.phase": True}
    assert summary["passed"] is True
    assert summarize_report(report(("markov", None), ("x", False)))["passed"] is False
    assert summarize_report(report(("markov", None)))["passed"] is False
    with pytest.raises(ValueError, match="missing field 'metrics'"):
        summarize_report({"schema": "emt.report/2", "claim": "effective", "claims": CLAIMS,
                          "descriptors": {}, "metadata": {}, "checks": []})
    rows = [_row("T1", 128, 0.0, 0.96, 1, 0.001, 1.0, checks=summary["checks"]),
            _row("T1", 128, 0.0, 0.96, 2, 0.001, 1.0, checks={"markov": None,
                                                              "spectrum.phase": False})]
    (cell,) = aggregate_rows(rows)
    assert cell["check_pass_rate"] == {"markov": None, "spectrum.phase": 0.5}
    assert cell["all_checks_pass_rate"] == 0.5


COMMITTED_INPUT_PHASE = [RESULTS / "input-phase", RESULTS.parent / "input-phase-paper"]


@pytest.mark.parametrize("where", COMMITTED_INPUT_PHASE, ids=lambda p: p.name)
def test_committed_input_phase_is_what_the_code_computes(where: Path) -> None:
    from emt.experiments.input_phase import _verdict_rows, input_phase_configs

    if not (where / "input_phase.json").is_file():
        pytest.fail(f"{where}/input_phase.json is not committed")
    committed = json.loads((where / "input_phase.json").read_text())
    configs = input_phase_configs(committed["profile"], committed["settings"]["seeds"])
    rows = _verdict_rows(configs, where)
    assert committed["rows"] == json.loads(json.dumps(rows))


def test_claims_and_descriptors_per_cell():
    """A seed holds a claim when any of its runs does; descriptors come from each seed's most
    accurate run; records from before the claims existed give n/a, never a verdict."""
    rows = [
        {**_row("T3", 128, 0.0, 0.96, 1, 0.001, 1.0),
         "claims": {"effective": True, "linear": False},
         "descriptors": {"mean_gain": 0.8, "matched_modulus_max": 1.3}},
        {**_row("T3", 128, 0.0, 0.96, 2, 0.001, 0.7),
         "claims": {"effective": False, "linear": False},
         "descriptors": {"mean_gain": 0.6, "matched_modulus_max": 2.0}},
        {**_row("T3", 128, 0.0, 0.99, 2, 0.001, 0.9),
         "claims": {"effective": True, "linear": False},
         "descriptors": {"mean_gain": 0.9, "matched_modulus_max": 1.1}},
        _row("T1", 128, 0.0, 0.96, 1, 0.001, 1.0),
    ]
    t1, t3 = aggregate_rows(rows)
    assert t3["claim_rate"] == {"effective": 1.0, "linear": 0.0}
    assert t3["descriptors"]["mean_gain"]["mean"] == pytest.approx(0.85)  # 0.8 and 0.9
    assert t3["descriptors"]["matched_modulus_max"]["max"] == pytest.approx(1.3)
    assert t1["claim_rate"] == {"effective": None, "linear": None}
    text = claims_markdown([t1, t3])
    assert "| T3 | 128 | 0 | 2/2 | 0/2 | 0.85 (0.8..0.9) |" in text
    assert "| T1 | 128 | 0 | n/a | n/a |" in text


def test_summary_carries_both_claims_and_the_descriptors():
    from emt.experiments.sweep_job import summarize_report

    report = {"schema": "emt.report/2", "claim": "effective", "metadata": {},
              "checks": [{"name": "generalisation", "passed": True}],
              "claims": {"effective": {"holds": True}, "linear": {"holds": False}},
              "descriptors": {"mean_gain": 0.9}, "metrics": REPORT_METRICS}
    summary = summarize_report(report)
    assert summary["claims"] == {"effective": True, "linear": False}
    row = run_row(_record(verify=summary))
    assert row["claims"] == {"effective": True, "linear": False}
    assert row["descriptors"] == {"mean_gain": 0.9}

"""Each JSON record type has one validated schema: what the code writes reads back, and a record
with a missing, renamed or mistyped field is refused naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emt.experiments.sweep_record import read_sweep_record
from emt.numerics.run_record import read_run_record
from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
from emt.verify.judge import verify_weights
from emt.verify.report_record import read_report_record

RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_a_fresh_report_reads_back_and_a_damaged_one_is_refused() -> None:
    task = get("repeat-copy-3")
    c = Circuit(task, random_psi(task, 12, rng=0))
    report = json.loads(verify_weights(RNNWeights(c.w_uh, c.w_hh, c.w_hy, "linear"), task,
                                       horizon=20).to_json_text())
    record = read_report_record(report)
    assert record.metrics.accuracy_h200 == 1.0 and record.metrics.spectrum.n_theory == 9
    report["metrics"]["slots"] = "nine"
    with pytest.raises(ValueError, match="field 'slots' must be an integer"):
        read_report_record(report)
    report["metrics"]["slots"] = 9
    report["schema"] = "emt.report/0"
    with pytest.raises(ValueError, match="expected 'emt.report/3'"):
        read_report_record(report)


def test_committed_records_all_read_back() -> None:
    paths = {kind: sorted(RESULTS.glob(f"**/{kind}")) for kind in
             ("model.json", "report.json", "record.json")}
    assert all(paths.values()), "no committed records found"
    readers = {"model.json": read_run_record, "report.json": read_report_record,
               "record.json": read_sweep_record}
    for kind, files in paths.items():
        for path in files:
            readers[kind](json.loads(path.read_text()), str(path))


def test_run_and_sweep_records_refuse_bad_fields() -> None:
    model = json.loads(next(RESULTS.glob("**/model.json")).read_text())
    with pytest.raises(ValueError, match="unknown status 'paused'"):
        read_run_record({**model, "status": "paused"}, "model.json")
    with pytest.raises(ValueError, match="field 'seed' must be an integer; got True"):
        read_run_record({**model, "seed": True}, "model.json")
    without = {k: v for k, v in model.items() if k != "history"}
    with pytest.raises(ValueError, match="missing field 'history'"):
        read_run_record(without, "model.json")
    record = json.loads(next(RESULTS.glob("**/record.json")).read_text())
    with pytest.raises(ValueError, match="unknown field"):
        read_sweep_record({**record, "accuracy": 1.0})
    with pytest.raises(ValueError, match="checks must be true, false or null"):
        read_sweep_record({**record, "verify": {**record["verify"], "checks": {"x": "yes"}}})

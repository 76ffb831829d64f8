"""The committed cell results (`results/cells`): the table is what `experiments.cells_table`
computes
from the committed records, the records' verdicts are consistent with their numbers, and every
committed trained cell fails the effective claim when judged against the wrong task."""

from __future__ import annotations

from pathlib import Path

import pytest

from emt.experiments.cells_table import cell_row, records_table_markdown
from emt.theory.registry import get
from emt.verify.cell_subject import verify_cell
from emt.verify.subject import load_subject

RESULTS = Path(__file__).resolve().parents[2] / "results" / "cells"
RECORDS = sorted(p for p in RESULTS.glob("*") if (p / "report.json").is_file())
# for each size (s, d), a task of that size that differs from the one a net was trained on
WRONG_TASKS = ("reverse-copy-4", "repeat-copy-4", "T2", "T1")


def wrong_task(task):
    return next(get(n) for n in WRONG_TASKS
                if (get(n).s, get(n).d) == (task.s, task.d) and get(n).label != task.label)


def test_committed_table_is_computed_from_the_records() -> None:
    assert RECORDS, "no committed cell records"
    assert (RESULTS / "cells.md").read_text() == records_table_markdown(RESULTS)


@pytest.mark.parametrize("record", RECORDS, ids=[p.name for p in RECORDS])
def test_record_verdicts_follow_from_their_numbers(record: Path) -> None:
    row = cell_row(record)
    # a net below the generalisation bar cannot pass the effective claim's loaded-state check
    if row["loaded_state"] < 0.95:
        assert row["effective"].startswith("fail")
    assert row["steps"] > 0 and 0 <= row["train_accuracy_h200"] <= 1


@pytest.mark.parametrize("record", RECORDS, ids=[p.name for p in RECORDS])
def test_committed_cells_fail_the_effective_claim_on_the_wrong_task(record: Path) -> None:
    subj = load_subject(record)
    assert subj.task is not None
    report = verify_cell(subj.weights, wrong_task(subj.task), horizon=40)
    effective = [c for c in report.checks if c.name.startswith("effective.")]
    assert any(c.passed is False for c in effective), report.table()
    assert report.check("generalisation").passed is False


QUICK = RESULTS.parent / "cells-quick"


def test_committed_cells_quick_report_is_computed_from_its_records(monkeypatch) -> None:
    """`results/cells-quick` (from `emt reproduce cells`): cells.json and cells.md are what
    `experiments.reproduce_cells` computes from the committed job records, and every finished
    run's verdicts agree with its report."""
    import json

    from emt.core.safe_io import standard_json
    from emt.experiments.reproduce_cells import cells_document
    from emt.experiments.reproduce_cells import cells_document_markdown as quick_markdown

    committed = json.loads((QUICK / "cells.json").read_text())
    assert committed["n_done"] >= 1
    s = committed["settings"]
    monkeypatch.chdir(RESULTS.parents[1])  # the finish command names the relative directory
    doc = cells_document(committed["profile"], Path("results") / "cells-quick", s["seeds"],
                         s["cells"])
    assert json.loads(standard_json(doc, sort_keys=True)) == committed
    assert (QUICK / "cells.md").read_text() == quick_markdown(doc)
    for run in doc["runs"]:
        if run["status"] == "done":
            report = json.loads((QUICK / "runs" / run["key"] / "report.json").read_text())
            assert run["effective_holds"] == report["claims"]["effective"]["holds"]
            assert report["metadata"].get("cell", "rnn") == run["cell"]


def test_cells_records_verb_rewrites_the_committed_table(tmp_path) -> None:
    """`emt reproduce cells-records table DIR` writes the table the committed records give."""
    import shutil

    from emt import cli

    copy = tmp_path / "cells"
    shutil.copytree(RESULTS, copy)
    (copy / "cells.md").write_text("stale\n")
    assert cli.main(["reproduce", "cells-records", "table", str(copy)]) == 0
    assert (copy / "cells.md").read_text() == (RESULTS / "cells.md").read_text()
    # two records directories, or one that is not there: bad input, nothing written
    assert cli.main(["reproduce", "cells-records", "table", str(copy), str(copy)]) == 2
    assert cli.main(["reproduce", "cells-records", "table", str(tmp_path / "none")]) == 2
    assert not (tmp_path / "none").exists()

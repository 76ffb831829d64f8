"""`Report` displays as an HTML table in Jupyter."""

from __future__ import annotations

from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
from emt.verify.judge import verify_weights


def test_report_repr_html_is_the_verdict_and_the_check_table() -> None:
    task = get("repeat-copy-3")
    c = Circuit(task, random_psi(task, 12, rng=1))
    good = verify_weights(RNNWeights(c.w_uh, c.w_hh, c.w_hy, "linear"), task, horizon=20)
    # a readout reading the wrong sign (a positive gain would read the same slot and pass)
    bad = verify_weights(RNNWeights(c.w_uh, c.w_hh, -1.5 * c.w_hy, "linear"), task, horizon=20)
    for report, verdict, colour in ((good, "PASS", "#2a7a2a"), (bad, "FAIL", "#b22222")):
        page = report._repr_html_()
        assert page.count("<table") == 1 and colour in page and verdict in page
        for check in report.checks:
            assert f"<td>{check.name}</td>" in page

"""Both claims in every report: verdict sentences, selection (claim= / --claim), JSON schema 2,
Markdown and HTML that open with the verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emt.cli import main
from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
from emt.verify.checks import CheckResult
from emt.verify.claims import claim_of, judge, selected_holds, selected_verdict
from emt.verify.entry import assert_emt
from emt.verify.judge import verify_weights

TASK = get("repeat-copy-3")


@pytest.fixture(scope="module")
def scaled() -> RNNWeights:
    """The constructed circuit (both claims hold with the default tolerances)."""
    c = Circuit(TASK, random_psi(TASK, 12, 2))
    return RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear")


def test_claim_membership() -> None:
    assert claim_of("generalisation") == ("effective", "linear", "binding")
    assert claim_of("binding.interchange") == claim_of("binding.ablation") == ("binding",)
    assert claim_of("readout") == ("effective", "linear")
    assert claim_of("effective.tracking") == ("effective",)
    assert claim_of("spectrum.modulus") == ("linear",)


def test_a_claim_with_no_check_that_ran_does_not_hold() -> None:
    skipped = CheckResult("effective.tracking", "x", None, 0.1, "<=", None, "skipped")
    verdict = judge("effective", [skipped])
    assert not verdict.holds and "not judged" in verdict.sentence
    passing = CheckResult("effective.tracking", "x", 0.01, 0.1, "<=", True)
    failing = CheckResult("spectrum.modulus", "x", 0.3, 0.1, "<=", False)
    verdicts = {c: judge(c, [passing, failing]) for c in ("effective", "linear")}
    assert verdicts["effective"].holds and not verdicts["linear"].holds
    assert "spectrum.modulus 0.3 > 0.1" in verdicts["linear"].sentence
    assert selected_holds(verdicts, "effective") and not selected_holds(verdicts, "both")
    with pytest.raises(ValueError, match="claim must be one of"):
        selected_holds(verdicts, "nonlinear")


def test_selection_decides_passed_and_every_rendering_opens_with_both_verdicts(
        scaled: RNNWeights, tmp_path: Path) -> None:
    # a linear claim failing only on a tightened modulus bound: effective holds, linear fails
    tols = {"spectrum.modulus": 1e-30}
    reports = {claim: verify_weights(scaled, TASK, claim=claim, ground="input", tolerances=tols)
               for claim in ("effective", "linear", "both")}
    assert [reports[c].passed for c in ("effective", "linear", "both")] == [True, False, False]
    report = reports["effective"]
    md = report.to_markdown().splitlines()
    assert md[2].startswith("* Effective circuit: HOLDS") and "effective.rank" in md[2]
    assert md[3].startswith("  Linear circuit (W_hh = Psi Phi Psi^+ with unit gain): FAILS")
    assert "spectrum.modulus" in md[3] and "|lambda| 1-1" in md[3]
    doc = reports["both"].to_json()
    assert doc["schema"] == "emt.report/3" and doc["claim"] == "both"
    assert doc["claims"]["effective"]["holds"] is True
    assert doc["claims"]["linear"]["failed"] == ["spectrum.modulus"]
    assert doc["metrics"]["passed"] is False and doc["metrics"]["effective_holds"] is True
    assert {"matched_modulus_max", "cond_psi.input", "mean_gain"} <= set(doc["descriptors"])
    json.dumps(doc, allow_nan=False)
    page = report.to_html(figures={})
    assert page.index("Effective circuit: HOLDS") < page.index("<table")
    assert "Linear circuit (W_hh = Psi Phi Psi^+ with unit gain): FAILS" in page


def test_cli_claim_selects_the_exit_status(scaled: RNNWeights, tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    p = scaled.save_npz(tmp_path / "c.npz")
    base = ["verify", str(p), "--task", "repeat-copy-3", "--ground", "input",
            "--tol", "spectrum.modulus=1e-30"]
    assert main(base) == 0
    assert main([*base, "--claim", "effective"]) == 0
    assert main([*base, "--claim", "linear"]) == 1
    assert main([*base, "--claim", "both"]) == 1
    out = capsys.readouterr().out
    assert "Effective circuit: HOLDS" in out and "Linear circuit" in out
    with pytest.raises(SystemExit) as bad:
        main([*base, "--claim", "nonlinear"])
    assert bad.value.code == 2
    with pytest.raises(ValueError, match="claim must be one of"):
        verify_weights(scaled, TASK, claim="nonlinear")
    with pytest.raises(AssertionError, match="Linear circuit .* FAILS"):
        assert_emt(scaled, TASK, claim="linear", ground="input", spectrum_modulus=1e-30)


def test_t1_circuit_holds_both_claims_under_every_grounding() -> None:
    task = get("T1")
    c = Circuit(task, np.linalg.qr(random_psi(task, 70, 4))[0])
    w = RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear")
    for ground in ("input", "output", "output-pinv"):
        report = verify_weights(w, task, claim="both", ground=ground, horizon=40)
        assert report.passed, report.table()


def test_an_interval_that_straddles_its_bar_is_inconclusive_and_a_decided_failure_wins() -> None:
    unsure = CheckResult("effective.embedding", "x", 0.96, 0.95, ">=", False,
                         interval=(0.94, 0.97))
    clear = CheckResult("effective.rank", "x", 3.0, 1.0, ">=", True, interval=(2.5, 3.5))
    assert unsure.status == "inconclusive" and not unsure.failed and clear.status == "pass"
    verdict = judge("effective", [unsure, clear])
    assert verdict.verdict == "inconclusive" and not verdict.holds
    assert verdict.inconclusive == ("effective.embedding",) and "INCONCLUSIVE" in verdict.sentence
    assert "[0.94, 0.97]" in verdict.sentence
    below = CheckResult("effective.rank", "x", 0.5, 1.0, ">=", False, interval=(0.4, 0.6))
    assert judge("effective", [unsure, below]).verdict == "fails"
    assert selected_verdict({"effective": verdict}, "effective") == "inconclusive"

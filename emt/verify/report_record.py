"""The schema of a verification report's JSON (``emt.report/3``), read by name.

``claim`` is the claim that decided the report's exit status ("effective", "linear" or "both");
``claims`` holds both claims' verdicts (`verify.claims.ClaimVerdict.to_json`); ``descriptors``
the numbers that explain a verdict and never decide one; ``metadata`` describes the subject and
the settings (free-form but always present); ``checks`` lists `checks.CheckResult.to_json`
entries; ``metrics`` is `ReportMetrics`. Version 2 added the claims (version 1 judged only the
linear circuit); version 3 the checks' bootstrap intervals, the inconclusive status and verdict
(``verdict``: "pass", "fail" or "inconclusive") and ``metrics.effective_coordinates``; version 2
reports are still read (their new fields are absent). Readers (the sweep's
record summary, the aggregation) go through `read_report_record`, so a report with a missing or
renamed metric is refused with the field's name instead of being read as something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from emt.core.records import read_record

__all__ = ["REPORT_SCHEMA", "READABLE", "SpectrumMetrics", "ReportMetrics", "ReportRecord",
           "read_report_record"]

REPORT_SCHEMA = "emt.report/3"
READABLE = ("emt.report/2", REPORT_SCHEMA)  # version 2 lacks only optional fields


@dataclass(frozen=True)
class SpectrumMetrics:
    """`spectra.SpectralComparison.to_json` plus the paper's metric (null = its "---")."""

    threshold: float
    n_theory: int
    n_trained: int
    count_mismatch: int
    phase_error_max: float
    phase_error_mean: float
    modulus_error_max: float
    modulus_error_mean: float
    paper_metric: float | None
    paper_threshold: float
    # how the memory modes were counted and the phase bound capped (absent before version 2)
    count_rule: str | None = None
    gap_ratio: float | None = None
    angular_gap: float | None = None
    phase_bound: float | None = None


@dataclass(frozen=True)
class ReportMetrics:
    """``accuracy_h200`` is the generalisation check's sign accuracy at the report's horizon
    (H = 200 by default) with the input phase driven through the network; ``passed`` whether the
    selected claims hold, ``effective_holds`` / ``linear_holds`` / ``binding_holds`` each
    claim's verdict.  The Elman RNN's report has the spectral and privileged-basis numbers; a
    gated or diagonal cell's report (`verify.cell_subject`) has the embedding R^2, its cell
    descriptors and the linearisation's numbers (``linear``) instead."""

    accuracy_h200: float
    passed: bool
    effective_holds: bool
    linear_holds: bool
    spectrum: SpectrumMetrics | None = None
    loaded_state_accuracy: float | None = None
    psi_condition: float | None = None
    slots: int | None = None
    embedding_r2: float | None = None
    descriptors: dict | None = None
    linear: dict | None = None
    binding_holds: bool | None = None  # the binding claim's verdict (absent in older reports)
    effective_coordinates: str | None = None  # "h" or "a" (absent before version 3)


@dataclass(frozen=True)
class ReportRecord:
    SCHEMA: ClassVar[str] = REPORT_SCHEMA

    schema: str
    claim: str
    claims: dict
    descriptors: dict
    metadata: dict
    checks: list
    metrics: ReportMetrics
    verdict: str | None = None  # "pass", "fail" or "inconclusive" (absent before version 3)


def read_report_record(data: Any, where: str = "report") -> ReportRecord:
    """`ReportRecord` from a parsed report JSON; ValueError naming what is wrong."""
    if isinstance(data, dict) and data.get("schema") in READABLE:
        data = dict(data, schema=REPORT_SCHEMA)
    record = read_record(ReportRecord, data, where)
    for i, check in enumerate(record.checks):
        if not isinstance(check, dict) or not isinstance(check.get("name"), str) or \
                check.get("passed") not in (True, False, None):
            raise ValueError(f"{where}: checks[{i}] needs a name and passed true/false/null")
    return record

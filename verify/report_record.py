"""The schema of a verification report's JSON (``emt.report/1``), read by name.

``metadata`` describes the subject and the settings (free-form but always present); ``checks``
lists `checks.CheckResult.to_json` entries; ``metrics`` is `ReportMetrics`. Readers (the sweep's
record summary, the aggregation) go through `read_report_record`, so a report with a missing or
renamed metric is refused with the field's name instead of being read as something else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from emt.numerics.records import read_record

__all__ = ["REPORT_SCHEMA", "SpectrumMetrics", "ReportMetrics", "ReportRecord",
           "read_report_record"]

REPORT_SCHEMA = "emt.report/1"


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


@dataclass(frozen=True)
class ReportMetrics:
    """``accuracy_h200`` is the generalisation check's sign accuracy at the report's horizon
    (H = 200 by default) with the input phase driven through the network."""

    spectrum: SpectrumMetrics
    accuracy_h200: float
    loaded_state_accuracy: float
    psi_condition: float
    slots: int
    passed: bool


@dataclass(frozen=True)
class ReportRecord:
    SCHEMA: ClassVar[str] = REPORT_SCHEMA

    schema: str
    metadata: dict
    checks: list
    metrics: ReportMetrics


def read_report_record(data: Any, where: str = "report") -> ReportRecord:
    """`ReportRecord` from a parsed report JSON; ValueError naming what is wrong."""
    record = read_record(ReportRecord, data, where)
    for i, check in enumerate(record.checks):
        if not isinstance(check, dict) or not isinstance(check.get("name"), str) or \
                check.get("passed") not in (True, False, None):
            raise ValueError(f"{where}: checks[{i}] needs a name and passed true/false/null")
    return record

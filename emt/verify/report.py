"""`Report`: the checks of one subject plus metadata, rendered for people and machines.

A report judges three claims (`verify.claims`): "binding", "effective circuit" and "linear
circuit", each from its own checks; ``claim`` selects which decide `Report.passed` and the exit
status ("binding", "effective", "linear", "both" = effective and linear, or "all").  Every
rendering opens with every verdict, one sentence each.

JSON schema ``emt.report/3`` (stable; the sweep reads it; version 1 had no claims, version 2 no
intervals and no inconclusive verdict)::

    {"schema": "emt.report/3",
     "claim": "binding" | "effective" | "linear" | "both" | "all",   (what decides "passed")
     "verdict": "pass" | "fail" | "inconclusive",   (of the selected claims; exit 0 / 1 / 1)
     "claims": {"binding":   {claim, title, holds, verdict, checks, failed, inconclusive,
                              sentence},
                "effective": {...the same},
                "linear":    {...the same}},
     "descriptors": {name: number | {name: value}},   (never decide a verdict: gains, moduli,
                    cond(Psi), ...; "regime", "long_horizon", "fit_over_time", "walsh" are
                    objects, `verify.binding`)
     "metadata": {subject, subject_sha256, convention, task, task_label, grounding, seed,
                  horizon, n_hidden, activation, tolerances, versions, date},
     "checks": [{name, subject, status, value, interval, tolerance, comparator, passed, detail,
                 metrics}],   (status: pass, fail, inconclusive or skip; interval: null or
                               the value's bootstrap interval [low, high])
     "metrics": {"spectrum": {threshold, n_theory, n_trained, count_mismatch, phase_error_max,
                              phase_error_mean, modulus_error_max, modulus_error_mean,
                              paper_metric (null = the paper's "---"), paper_threshold},
                 "accuracy_h200", "loaded_state_accuracy", "psi_condition", "slots",
                 "passed" (the selected claims hold), "binding_holds", "effective_holds",
                 "linear_holds", "effective_coordinates" ("h" or "a": where the effective checks
                 ran)}}

No NaN anywhere (``json.dumps(..., allow_nan=False)``); a skipped check has ``value`` null.
"""

from __future__ import annotations

import base64
import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emt.core.atomic import atomic_write_bytes
from emt.verify.checks import CheckResult
from emt.verify.claims import ClaimVerdict, judge_all, selected, selected_holds, selected_verdict

__all__ = ["Report", "SCHEMA", "FORMATS"]

SCHEMA = "emt.report/3"
FORMATS = ("md", "json", "html")


def _clean(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def _descriptor_rows(descriptors: dict[str, Any], prefix: str = "") -> list[list[str]]:
    """``[name, value]`` rows, objects flattened to ``name.key``, lists joined, numbers 4g."""
    rows = []
    for k, v in descriptors.items():
        if isinstance(v, dict):
            rows += _descriptor_rows(v, f"{prefix}{k}.")
        elif isinstance(v, list | tuple):
            rows.append([f"{prefix}{k}", ", ".join(f"{x:.3g}" for x in v)])
        else:
            rows.append([f"{prefix}{k}", v if isinstance(v, str) else f"{v:.4g}"])
    return rows


@dataclass(eq=False)
class Report:
    """Checks of one subject, metadata, summary metrics and (not serialised) figure data."""

    checks: list[CheckResult]
    metadata: dict[str, Any]
    metrics: dict[str, Any]
    artifacts: dict[str, Any] = field(default_factory=dict, repr=False)
    claim: str = "effective"
    descriptors: dict[str, Any] = field(default_factory=dict)  # numbers, or objects of them
    notes: dict[str, str] = field(default_factory=dict)  # per-claim descriptor clause

    # -- verdict -------------------------------------------------------------------------------
    @property
    def verdicts(self) -> dict[str, ClaimVerdict]:
        """Every claim's verdict (`verify.claims.judge_all`)."""
        return judge_all(self.checks, self.notes)

    @property
    def passed(self) -> bool:
        """True when every selected claim holds (`verify.claims.selected`)."""
        return selected_holds(self.verdicts, self.claim)

    @property
    def verdict(self) -> str:
        """"pass", "fail" or "inconclusive" for the selected claim(s)."""
        return selected_verdict(self.verdicts, self.claim)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def failed(self) -> list[CheckResult]:
        """Failed checks of the selected claim(s)."""
        names = {n for c in selected(self.claim) for n in self.verdicts[c].failed}
        return [c for c in self.checks if c.name in names]

    def verdict_lines(self) -> list[str]:
        """One plain sentence per claim, the selected one(s) marked."""
        wanted = selected(self.claim)
        return [("* " if c in wanted else "  ") + v.sentence
                for c, v in self.verdicts.items()]

    def check(self, name: str) -> CheckResult:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    # -- renderings ------------------------------------------------------------------------------
    def to_dataframe(self):
        import pandas as pd

        rows = [{"check": c.name, "status": c.status, "value": c.value,
                 "interval": c.interval, "comparator": c.comparator,
                 "tolerance": c.tolerance, "detail": c.detail}
                for c in self.checks]
        return pd.DataFrame(rows, columns=["check", "status", "value", "interval",
                                           "comparator", "tolerance", "detail"])

    def table(self) -> str:
        """The checks as a Markdown table (tabulate, GitHub style)."""
        from tabulate import tabulate

        from emt.verify.claims import claim_of

        rows = [[c.name, "+".join(claim_of(c.name)), c.status.upper(),
                 "-" if c.value is None else f"{c.value:.4g}" + (
                     "" if c.interval is None else
                     f" [{c.interval[0]:.4g}, {c.interval[1]:.4g}]"),
                 f"{c.comparator} {c.tolerance:g}", c.detail] for c in self.checks]
        return tabulate(rows, headers=["check", "claim", "status", "value [interval]", "bound",
                                       "detail"],
                        tablefmt="github")

    def descriptor_table(self) -> str:
        """The descriptors (never gate a verdict) as a Markdown table."""
        from tabulate import tabulate

        return tabulate(_descriptor_rows(self.descriptors),
                        headers=["descriptor (never gates)", "value"], tablefmt="github")

    def summary_line(self) -> str:
        m = self.metadata
        verdict = {"pass": "PASS", "inconclusive": "INCONCLUSIVE"}.get(
            self.verdict, f"FAIL ({len(self.failed)} failed)")
        return (f"{m['subject']} vs {m['task_label']} ({m['grounding']} grounding, "
                f"N_h = {m['n_hidden']}, {m['activation']}, claim {self.claim}): {verdict}")

    def to_markdown(self) -> str:
        sp = self.metrics.get("spectrum", {})
        pm = sp.get("paper_metric")
        lines = [f"# EMT verification: {self.metadata['subject']}", "",
                 *self.verdict_lines(), "", self.summary_line(), "", self.table(), ""]
        if self.descriptors:
            lines += [self.descriptor_table(), ""]
        lines += [
                 f"- paper's spectral metric (|lambda| > {sp.get('paper_threshold', 0.9)}): "
                 f"{'---' if pm is None else f'{pm:.4g} rad'}",
                 f"- accuracy at H = {self.metadata['horizon']}: "
                 f"{self.metrics.get('accuracy_h200')}",
                 f"- subject sha256: `{self.metadata['subject_sha256']}`",
                 f"- date: {self.metadata['date']}", ""]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        verdicts = self.verdicts
        metrics = dict(self.metrics, passed=self.passed,
                       **{f"{c}_holds": v.holds for c, v in verdicts.items()})
        return _clean({"schema": SCHEMA, "claim": self.claim, "verdict": self.verdict,
                       "claims": {c: v.to_json() for c, v in verdicts.items()},
                       "descriptors": self.descriptors, "metadata": self.metadata,
                       "checks": [c.to_json() for c in self.checks],
                       "metrics": metrics})

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, allow_nan=False, sort_keys=False) + "\n"

    def figures(self) -> dict[str, bytes]:
        """PNG bytes of the figures (empty when the report carries no figure data)."""
        from emt.verify import plots

        a = self.artifacts
        if not a:
            return {}
        label = self.metadata["task_label"]
        out = {
            "eigenvalues": plots.eigenvalue_figure(a["theory_eigs"], a["trained_eigs"],
                                                   a["threshold"], f"eigenvalues: {label}",
                                                   n_modes=a.get("n_modes")),
            "phi_hat": plots.phi_hat_figure(a["phi_hat"], a["block_starts"],
                                            f"Phi_hat ({self.metadata['grounding']} grounding)"),
            "trajectory": plots.trajectory_figure(a["trajectory"], a["s"], a["block_starts"],
                                                  "Psi* h(t), one sequence (linear claim's "
                                                  "basis)"),
        }
        eff = a.get("effective_trajectory")
        if eff is not None and np.all(np.isfinite(eff.decoded)):
            out["effective_trajectory"] = plots.effective_trajectory_figure(
                eff.decoded, eff.truth, eff.times, eff.s, eff.d,
                f"effective circuit, {label}: one sequence in the fitted slot basis")
        return out

    def to_html(self, figures: dict[str, bytes] | None = None) -> str:
        """One self-contained page: verdict, table, metadata, figures as data: URIs."""
        figures = self.figures() if figures is None else figures
        df = self.to_dataframe()
        imgs = "\n".join(
            f'<figure><img alt="{name}" src="data:image/png;base64,'
            f'{base64.b64encode(png).decode("ascii")}"><figcaption>{name}</figcaption></figure>'
            for name, png in figures.items())
        colour = "#2a7a2a" if self.passed else "#b22222"
        verdicts = "\n".join(
            f'<p style="color:{"#2a7a2a" if v.holds else "#b22222"}">'
            f'{html.escape(v.sentence)}</p>' for v in self.verdicts.values())
        meta = html.escape(json.dumps(_clean(self.metadata), indent=2))
        return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>EMT verification: {html.escape(
            str(self.metadata['subject']))}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;font-size:90%}}
figure{{display:inline-block;margin:1em}}pre{{background:#f6f6f6;padding:1em;font-size:80%}}
</style></head><body>
<h1>EMT verification</h1>
{verdicts}
<p style="color:{colour};font-weight:bold">{html.escape(self.summary_line())}</p>
{df.to_html(index=False, na_rep="-", escape=True)}
<h2>Descriptors (never gate a verdict)</h2><pre>{html.escape(json.dumps(
            _clean(self.descriptors), indent=2))}</pre>
<h2>Figures</h2>
{imgs}
<h2>Metrics</h2><pre>{html.escape(json.dumps(_clean(self.metrics), indent=2))}</pre>
<h2>Metadata</h2><pre>{meta}</pre>
</body></html>
"""

    def _repr_html_(self) -> str:
        """Jupyter's display: the verdict and the check table (no figures, which cost seconds
        to draw; `to_html` has them)."""
        colour = "#2a7a2a" if self.passed else "#b22222"
        return (f'<p style="color:{colour};font-weight:bold">{html.escape(self.summary_line())}'
                f'</p>\n{self.to_dataframe().to_html(index=False, na_rep="-", escape=True)}')

    def write(self, out_dir: str | os.PathLike, stem: str, fmt: str = "md") -> list[Path]:
        """Write ``stem.report.{fmt}`` and the figures as ``stem.{figure}.png`` into
        ``out_dir``; returns the paths written (each file written atomically)."""
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
        out = Path(out_dir)
        figures = self.figures()
        text = {"md": self.to_markdown, "json": self.to_json_text,
                "html": lambda: self.to_html(figures)}[fmt]()
        written = [atomic_write_bytes(out / f"{stem}.report.{fmt}", text.encode("utf-8"))]
        for name, png in figures.items():
            written.append(atomic_write_bytes(out / f"{stem}.{name}.png", png))
        return written

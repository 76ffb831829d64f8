"""LSTM, GRU and LRU subjects: judging both claims of the theory on them (`verify_cell`).

Loading them (our cell files, PyTorch and Keras names, ``.keras`` files, run directories) is
`verify.subject`'s job, through the one naming table of `verify.conventions`.

Verdicts (`verify_cell`): ``no_bias``; ``generalisation`` (the cell's own sign accuracy at H on
the batches every cell shares, `verify.generalisation`); the effective claim
(`verify.effective`, on the full state ``(h, c)`` for the LSTM); the linear claim: for the gated
cells every check of `verify.judge.verify_weights` on the linear Elman triple that is
equivalent to the cell's linearisation at the zero state (`theory.cell_linearisation`), named
``linear.*``; for the LRU ``linear.solvable`` (the theorem: an LTI system cannot solve a task
that `is_linearly_solvable` rejects) and ``linear.lru_spectrum`` (Ho-Kalman reduction of the
trained LRU against the task's minimal realisation), both in `verify.lru_checks`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from emt.core.provenance import versions
from emt.numerics.cell_models import CellWeights, cell_dynamics
from emt.numerics.dynamics import Dynamics
from emt.numerics.weights import RNNWeights
from emt.theory.cell_linearisation import linearised_triple
from emt.theory.taskspec import TaskSpec
from emt.verify.binding import binding_part
from emt.verify.checks import CheckResult, judged
from emt.verify.claims import judge_all, selected_holds
from emt.verify.effective import EffectiveAnalysis, effective_analysis
from emt.verify.embedding import held_out_r2
from emt.verify.generalisation import drive, generalisation_score
from emt.verify.judge import verify_weights
from emt.verify.lru_checks import lru_linear_checks
from emt.verify.report import Report
from emt.verify.tolerances import resolve

__all__ = ["verify_cell", "embedding_descriptors", "affine_note"]


# -- verdicts ------------------------------------------------------------------------------------

def _no_bias(weights: CellWeights, subject: str, tol: float) -> CheckResult:
    present = [b for b in ("b_ih", "b_hh", "b_y") if b in weights.arrays]
    size = max((float(np.max(np.abs(weights.arrays[b]))) for b in present), default=0.0)
    detail = ("no biases" if not present else
              f"biases {', '.join(present)} present, max |b| = {size:.3g}; the other checks "
              "still run, but the zero state is then not a fixed point")
    return CheckResult("no_bias", subject, size, tol, "<=", size <= tol, detail)


def _generalisation(model: Dynamics, task: TaskSpec, seed: int, horizon: int, subject: str,
                    tol: float) -> CheckResult:
    """The generalisation check of `verify.generalisation` (its sequential test), the Elman
    nets' own."""
    run = drive(model, task, seed, horizon, bar=tol)
    acc, metrics, detail, interval = generalisation_score(run.outputs, run.targets, seed)
    return judged("generalisation", subject, acc, tol, ">=", detail, metrics, interval)


def _r2(z: np.ndarray, x: np.ndarray, zh: np.ndarray, xh: np.ndarray, affine: bool) -> float:
    """Held-out R^2 of ``x ~ A z`` (``+ b`` when ``affine``), fitted on ``(z, x)``."""
    if affine:
        z, zh = np.c_[z, np.ones(len(z))], np.c_[zh, np.ones(len(zh))]
    A = np.linalg.lstsq(z, x, rcond=None)[0]
    return held_out_r2(xh - zh @ A, xh)


def embedding_descriptors(analysis: EffectiveAnalysis, weights: CellWeights) -> dict[str, float]:
    """What explains the embedding's R^2 (descriptors; they never gate a verdict), on the effective
    checks' own fit and held-out states:

    * ``state_offset_share``: ``|mean x|^2 / mean |x|^2``, the share of the states' second moment
      that does not depend on the window.  The circuit maps the zero window to the zero state;
      a gated cell can carry an even function of the +-1 inputs, whose window-constant part
      shows here (its varying part, e.g. ``w_i w_j``, is what ``effective.even`` judges);
    * the circuit read as an affine image ``x = A z + b`` (the window stored linearly around a
      shifted operating point; `verify.effective.EffectiveAnalysis.affine`):
      ``embedding_r2_affine``, ``affine_step_error``, ``affine_loaded_accuracy``,
      ``affine_tracking_error``;
    * for the LSTM, ``embedding_r2_h``/``_c`` and their ``_affine`` forms on each half of the state.
    """
    z, x = analysis.fit_data
    zh, xh = analysis.heldout_data
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(xh))):
        return {}
    with np.errstate(all="ignore"):  # states near float64's range: NaN (null), not warnings
        share = float(np.sum(xh.mean(axis=0) ** 2)
                      / max(float(np.mean(np.sum(xh ** 2, axis=1))), 1e-300))
    out = {"state_offset_share": share if np.isfinite(share) else float("nan"), **analysis.affine}
    if weights.cell == "lstm":
        n = weights.n_hidden
        for part, cols in (("h", slice(0, n)), ("c", slice(n, 2 * n))):
            out[f"embedding_r2_{part}"] = _r2(z, x[:, cols], zh, xh[:, cols], False)
            out[f"embedding_r2_{part}_affine"] = _r2(z, x[:, cols], zh, xh[:, cols], True)
    return out


def verify_cell(weights: CellWeights, task: TaskSpec, *, claim: str = "effective",
                ground: str = "output",
                tolerances: Mapping[str, float] | None = None, seed: int = 0,
                horizon: int = 200, subject: str = "weights", subject_sha256: str | None = None,
                convention: str | None = None) -> Report:
    """Both claims on an LSTM, GRU or LRU (module docstring); returns a `verify.report.Report`
    whose ``metrics`` hold the effective descriptors, the embedding R^2 and the accuracy."""
    if not isinstance(weights, CellWeights):
        raise ValueError(f"weights must be CellWeights; got {type(weights).__name__}")
    if weights.d_in != task.d or weights.d_out != task.d:
        raise ValueError(f"{subject}: weights have d_in = {weights.d_in}, d_out = "
                         f"{weights.d_out} but task {task.label} has d = {task.d}")
    tols = resolve(tolerances)
    model = cell_dynamics(weights)
    checks = [_no_bias(weights, subject, tols["no_bias"]),
              _generalisation(model, task, seed, horizon, subject, tols["generalisation"])]
    analysis = effective_analysis(model, task, tols, seed, horizon=horizon, subject=subject)
    binding, binding_descriptors = binding_part(
        analysis.chosen.model, task, analysis.fit, tols, seed, horizon=horizon,
        subject=subject, coordinates=analysis.coordinates)
    checks += analysis.checks + binding
    descriptors = {**analysis.descriptors, **binding_descriptors}
    descriptors.update(embedding_descriptors(analysis, weights))
    linear_metrics: dict[str, Any] = {}
    if weights.cell == "lru":
        lru_checks, extra = lru_linear_checks(weights, task, tols, subject)
        checks += lru_checks
        descriptors.update(extra)
    else:
        triple = RNNWeights(*linearised_triple(weights.cell, weights.arrays),
                            activation="linear")
        lin = verify_weights(triple, task, claim="linear", ground=ground,
                             tolerances=tolerances, seed=seed,
                             horizon=horizon, subject=f"{subject} (linearised)")
        # the linear claim's checks of the linearised net (its own effective checks would
        # judge the linearisation, not this cell)
        checks += [_renamed(c) for c in lin.checks
                   if c.name != "no_bias" and not c.name.startswith(("effective.", "binding."))]
        linear_metrics = {"spectrum": lin.metrics["spectrum"],
                          "accuracy_h200": lin.metrics["accuracy_h200"]}
    embedding = next(c for c in checks if c.name == "effective.embedding")
    notes = affine_note(descriptors)
    verdicts = judge_all(checks, notes)  # the same two claims as an Elman report
    # (Report.to_json adds each claim's verdict as effective_holds / linear_holds)
    metrics = {"accuracy_h200": checks[1].value, "embedding_r2": embedding.value,
               "descriptors": descriptors, "linear": linear_metrics,
               "effective_coordinates": analysis.coordinates,
               "passed": selected_holds(verdicts, claim)}
    metadata = {"subject": subject, "subject_sha256": subject_sha256, "convention": convention,
                "task": task.to_json(), "task_label": task.label, "grounding": ground,
                "seed": seed, "horizon": horizon, "n_hidden": weights.n_hidden,
                "activation": weights.cell, "cell": weights.cell, "tolerances": tols,
                "versions": versions(),
                "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    return Report(checks, metadata, metrics, claim=claim, notes=notes, descriptors=descriptors)


def affine_note(descriptors: Mapping[str, float]) -> dict[str, str]:
    """The effective verdict's clause on the affine reading of the circuit (it explains, never
    decides), when the descriptors have it."""
    if "affine_step_error" not in descriptors:
        return {}
    return {"effective": (
        f"read as an affine image x = A z + b, which the claim does not allow: held-out R^2 "
        f"{descriptors['embedding_r2_affine']:.3f}, step error "
        f"{descriptors['affine_step_error']:.3g}, loaded-state accuracy "
        f"{descriptors['affine_loaded_accuracy']:.3f}")}


def _renamed(check: CheckResult) -> CheckResult:
    return replace(check, name=f"linear.{check.name}")

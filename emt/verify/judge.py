"""The Elman judge: `verify_weights` (an Elman net's weights + task -> `Report`), validating its
input and raising ``ValueError`` naming it.  Judging sits above loading (`verify.subject`) and
imports none of it; the gated cells' judge (`verify.cell_subject`) builds on this one, and
`verify.entry` picks between them."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import numpy as np

from emt.core.provenance import versions
from emt.numerics.simulate import ElmanDynamics
from emt.numerics.weights import RNNWeights
from emt.theory.taskspec import TaskSpec
from emt.verify.basis import GROUNDINGS
from emt.verify.binding import binding_part
from emt.verify.checks import Context, run_checks
from emt.verify.claims import CHOICES
from emt.verify.effective import EffectiveAnalysis, effective_analysis
from emt.verify.linear_descriptors import linear_descriptors
from emt.verify.report import Report
from emt.verify.spectra import PAPER_THRESHOLD
from emt.verify.tolerances import resolve

__all__ = ["verify_weights", "effective_of", "claim_notes"]

TRAJECTORY_PLOT_STEPS = 3  # output-phase length of the Figure 3 plot, in multiples of s


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def effective_of(weights: RNNWeights, task: TaskSpec, tolerances: Mapping[str, float],
                 seed: int, horizon: int, subject: str) -> EffectiveAnalysis:
    """The effective claim's analysis (`verify.effective.EffectiveAnalysis`: checks,
    descriptors, Figure 3 data) through the cell-agnostic `Dynamics` view of the net
    (`numerics.simulate.ElmanDynamics`), exactly as for any other model."""
    return effective_analysis(ElmanDynamics(weights), task, tolerances, seed, horizon=horizon,
                              subject=subject)


def _range(d: Mapping[str, float], low: str, high: str, fmt: str = ".3g") -> str:
    return f"{d[low]:{fmt}}-{d[high]:{fmt}}" if low in d and high in d else ""


def claim_notes(descriptors: Mapping[str, float]) -> dict[str, str]:
    """Descriptor clauses appended to the verdict sentences (they explain, never decide)."""
    notes = {}
    moduli = _range(descriptors, "matched_modulus_min", "matched_modulus_max")
    if moduli:
        notes["linear"] = f"W_hh's matched memory modes have |lambda| {moduli}"
    parts = []
    if "mean_gain" in descriptors:
        parts.append(f"mean gain 1 - h^2 {descriptors['mean_gain']:.3g}")
    if "saturated_fraction" in descriptors:
        parts.append(f"{100 * descriptors['saturated_fraction']:.2g}% of samples with |h| > 0.9")
    if parts:
        notes["effective"] = ", ".join(parts)
    return notes


def verify_weights(
    weights: RNNWeights,
    task: TaskSpec,
    *,
    claim: str = "effective",
    ground: str = "output",
    tolerances: Mapping[str, float] | None = None,
    seed: int = 0,
    horizon: int = 200,
    subject: str = "weights",
    subject_sha256: str | None = None,
    convention: str | None = None,
) -> Report:
    """Judge ``weights`` against ``task`` on both claims (`verify.claims`): the linear checks of
    `verify.checks` and the effective checks of `verify.effective`.

    ``claim``: which claim decides `Report.passed` -- "effective" (default), "linear" or
    "both"; every report carries both verdicts and the descriptors either way.
    ``ground``: "input" (G = W_uh), "output" (G fitted to the readout over s steps, exact for
    the circuit) or "output-pinv" (G = pinv(W_hy), the authors' code) for the privileged basis;
    ``tolerances``: overrides by name (`verify.tolerances`); ``seed`` seeds every batch;
    ``horizon``: output-phase length H of the generalisation and loaded-state checks.
    """
    if not isinstance(weights, RNNWeights):
        raise ValueError(f"weights must be RNNWeights; got {type(weights).__name__}")
    if not isinstance(task, TaskSpec):
        raise ValueError(f"task must be a TaskSpec; got {type(task).__name__}")
    if claim not in CHOICES:
        raise ValueError(f"claim must be one of {', '.join(CHOICES)}; got {claim!r}")
    if ground not in GROUNDINGS:
        raise ValueError(f"grounding must be one of {', '.join(GROUNDINGS)}; got {ground!r}")
    if weights.d_in != task.d or weights.d_out != task.d:
        raise ValueError(f"{subject}: weights have d_in = {weights.d_in}, d_out = "
                         f"{weights.d_out} but task {task.label} has d = {task.d}")
    seed = _check_int("seed", seed, 0)
    horizon = _check_int("horizon", horizon, 1)
    tols = resolve(tolerances)
    ctx = Context(weights, task, tols, subject=subject, ground=ground, seed=seed,
                  horizon=horizon)
    checks = run_checks(ctx)
    effective = effective_of(weights, task, tols, seed, horizon, subject)
    binding, binding_descriptors = binding_part(
        effective.chosen.model, task, effective.fit, tols, seed, horizon=horizon,
        subject=subject, coordinates=effective.coordinates)
    checks = checks + list(effective.checks) + binding
    descriptors = {**linear_descriptors(ctx),
                   **{k: float(v) for k, v in effective.descriptors.items()},
                   **binding_descriptors}

    spectral = ctx.spectral.to_json()
    spectral.update(paper_metric=ctx.paper, paper_threshold=PAPER_THRESHOLD)
    basis = ctx.basis
    metrics = {
        "spectrum": spectral,
        "accuracy_h200": next(c.value for c in checks if c.name == "generalisation"),
        "loaded_state_accuracy": next(c.value for c in checks if c.name == "loaded_state"),
        "psi_condition": basis.condition,
        "slots": basis.plan.rank,
        "effective_coordinates": effective.coordinates,
    }
    metadata = {
        "subject": subject,
        "subject_sha256": subject_sha256,
        "convention": convention,
        "task": task.to_json(),
        "task_label": task.label,
        "grounding": ground,
        "seed": seed,
        "horizon": horizon,
        "n_hidden": weights.n_hidden,
        "activation": weights.activation,
        "tolerances": tols,
        "versions": versions(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    s = task.s
    h = ctx.driven_h[0, : s + TRAJECTORY_PLOT_STEPS * s]
    artifacts = {
        "theory_eigs": ctx.theory_eigs,
        "trained_eigs": ctx.trained_eigs,
        "threshold": tols["spectrum.threshold"],
        "phi_hat": basis.phi_hat,
        "block_starts": basis.plan.block_starts,
        "trajectory": h @ basis.psi_dual.T,
        "s": s,
        "n_modes": ctx.spectral.n_theory,
        "effective_trajectory": effective.trajectory,
    }
    return Report(checks, metadata, metrics, artifacts, claim=claim, descriptors=descriptors,
                  notes=claim_notes(descriptors))

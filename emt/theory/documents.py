"""Build every derivation document, deterministically (byte for byte).

``build_documents()`` returns ``{relative path: Markdown text}``:

- ``gsemm-energy.md``: `theory.gsemm.derivation`;
- ``reduction.md``: `theory.reduction.derivation`;
- ``effective.md``: `theory.effective_derivation.derivation` (the effective-circuit claim);
- ``tasks/<name>.md``: one per registered task: Phi (printed when ``s d <= 16``, its block
  structure otherwise), the characteristic polynomial in factored form (checked against the
  closed form, the cycle form for signed-copy tasks and brute force for small tasks), the
  spectrum with multiplicities and the linear-solvability verdict;
- ``cells/lstm.md``, ``cells/gru.md``, ``cells/lru.md``: `theory.cell_linearisation` (the gated
cells'
  linear regime at the zero state; what a diagonal linear recurrence can learn);
- ``index.md``: a table of contents.
"""

from __future__ import annotations

import cmath
import math

import sympy as sp

from emt.theory import cell_linearisation, effective_derivation, gsemm, reduction, registry
from emt.theory.charpoly import (
    LAMBDA,
    characteristic_polynomial,
    phi,
    signed_copy_cycles,
)
from emt.theory.derivation import Derivation, Step
from emt.theory.solvability import Solvability, is_linearly_solvable
from emt.theory.spectra import spectrum
from emt.theory.taskspec import TaskSpec, is_signed_copy, signed_copy_structure

__all__ = ["build_documents", "task_document", "PRINT_PHI_MAX_SLOTS", "BRUTE_FORCE_MAX_SLOTS"]

# Phi is printed entry by entry up to this size (16 x 16 still reads on a page).
PRINT_PHI_MAX_SLOTS = 16
# sympy's charpoly of the full Phi is cheap up to about this size (12 x 12 generic symbolic
# matrices are already slow, but Phi is sparse and exact).
BRUTE_FORCE_MAX_SLOTS = 16


def _composition_lines(task: TaskSpec) -> list[str]:
    s, d = task.s, task.d
    lines = []
    if is_signed_copy(task):
        choice, sign = signed_copy_structure(task)
        lines.append("| output dim j | copies dim i | lag | sign |")
        lines.append("|---|---|---|---|")
        for j, (c, sg) in enumerate(zip(choice, sign, strict=True)):
            k, i = divmod(c, d)
            lines.append(f"| {j} | {i} | {s - k} | {'+' if sg > 0 else '-'} |")
        return lines
    lines.append("Nonzero entries of F (x_j(t) = sum F[k d + i, j] x_i(t - s + k)):")
    lines.append("")
    lines.append("| output dim j | input dim i | lag | coefficient |")
    lines.append("|---|---|---|---|")
    for j in range(d):
        for r in range(s * d):
            v = task.F[r, j]
            if v != 0:
                k, i = divmod(r, d)
                lines.append(f"| {j} | {i} | {s - k} | {v} |")
    return lines


def _phi_section(task: TaskSpec) -> str:
    s, d, n = task.s, task.d, task.n_slots
    if n <= PRINT_PHI_MAX_SLOTS:
        body = f"$$\n\\Phi = {sp.latex(sp.Matrix(phi(task)))}\n$$"
    else:
        body = (
            f"Phi is {n} x {n}, {s} x {s} blocks of size {d} x {d}: identity blocks on the block "
            f"super-diagonal (rows 1..{s - 1} shift each variable one slot older) and the last "
            "block row [F_1^T ... F_s^T] (the composition). Too large to print entry by entry."
        )
    return body + "\n\nThe composition x(t) = F^T [x(t-s); ...; x(t-1)]:\n\n" + "\n".join(
        _composition_lines(task)
    )


def _spectrum_section(task: TaskSpec) -> str:
    spec = spectrum(task)
    lines = [
        f"{spec.nonzero} of {task.n_slots} eigenvalues are nonzero (with multiplicity).",
        "",
        "| eigenvalue | multiplicity | modulus | argument / pi |",
        "|---|---|---|---|",
    ]
    for root, m in spec.roots:
        value = complex(sp.N(root, 30))
        # + 0.0 turns -0.0 into 0.0 so the text does not depend on the sign of a zero
        modulus, arg = abs(value) + 0.0, cmath.phase(value) / math.pi + 0.0
        lines.append(f"| ${sp.latex(root)}$ | {m} | {modulus:.6f} | {arg:.6f} |")
    return "\n".join(lines)


def _cycles_section(task: TaskSpec) -> str:
    cycles, n_nil = signed_copy_cycles(task)
    lines = [f"{n_nil} slot(s) lie on no cycle (eigenvalue 0).", ""]
    lines.append("| cycle (slots) | length L | sign product | factor |")
    lines.append("|---|---|---|---|")
    for cyc, sigma in cycles:
        factor = sp.latex(LAMBDA ** len(cyc) - sigma)
        lines.append(f"| {', '.join(map(str, cyc))} | {len(cyc)} | {sigma:+d} | ${factor}$ |")
    return "\n".join(lines)


def task_document(task: TaskSpec, description: str = "",
                  verdict: Solvability | None = None) -> Derivation:
    """The per-task document as a checked `Derivation` (``verdict``: the task's
    `is_linearly_solvable`, when the caller has it already)."""
    spec = spectrum(task)
    closed = characteristic_polynomial(task, method="closed")
    factored_display = spec.factored_latex()
    steps = [
        Step(
            "characteristic polynomial, factored",
            closed.as_expr(),
            sp.Mul(*[f.as_expr() ** m for f, m in spec.factors]),
            (f"s = {task.s}, d = {task.d}",),
            "The closed form det(lambda^s I_d - sum_k lambda^k F_k^T) (k = 0 the oldest step; a "
            "d x d determinant over Q[lambda]) equals the factored form.",
            rf"\det(\lambda I - \Phi) = {factored_display}",
        )
    ]
    if is_signed_copy(task):
        steps.append(
            Step(
                "cycle form",
                characteristic_polynomial(task, method="cycles").as_expr(),
                closed.as_expr(),
                ("signed-copy task: each row of Phi has one entry +-1",),
                "Each cycle of length L of the signed slot graph with sign product sigma "
                "contributes lambda^L - sigma; slots on no cycle contribute lambda.",
                r"\lambda^{n_0} \prod_{\mathrm{cycles}} (\lambda^{L} - \sigma) = "
                r"\det(\lambda I - \Phi)",
            )
        )
    if task.n_slots <= BRUTE_FORCE_MAX_SLOTS:
        steps.append(
            Step(
                "brute force",
                characteristic_polynomial(task, method="brute").as_expr(),
                closed.as_expr(),
                (f"Phi small enough ({task.n_slots} x {task.n_slots})",),
                "sympy's charpoly of the full Phi agrees.",
                r"\mathrm{charpoly}(\Phi) = " + factored_display,
            )
        )
    verdict = is_linearly_solvable(task) if verdict is None else verdict
    sections = [("Phi", _phi_section(task))]
    if is_signed_copy(task):
        sections.append(("Cycle structure", _cycles_section(task)))
    sections.append(("Spectrum", _spectrum_section(task)))
    sections.append((
        "Linear solvability",
        f"**{'Solvable' if verdict.solvable else 'Not solvable'}** by a linear time-invariant "
        f"RNN started at h = 0 with the input phase driven through the recurrence: "
        f"{verdict.reason}.",
    ))
    ids = f", ids {task.ids}" if task.ids is not None else ""
    intro = f"{description}\n\ns = {task.s}, d = {task.d}{ids}; Phi is {task.n_slots} x " \
            f"{task.n_slots}."
    return Derivation(f"Task {task.label}", tuple(steps), intro=intro.strip(),
                      sections=tuple(sections))


def build_documents() -> dict[str, str]:
    """All documents as ``{relative path: text}``, in a fixed order."""
    docs: dict[str, str] = {}
    docs["gsemm-energy.md"] = gsemm.derivation().to_markdown()
    docs["reduction.md"] = reduction.derivation().to_markdown()
    docs["effective.md"] = effective_derivation.derivation().to_markdown()
    verdicts = {name: is_linearly_solvable(registry.get(name)) for name in registry.names()}
    for name in registry.names():
        doc = task_document(registry.get(name), registry.describe(name), verdicts[name])
        docs[f"tasks/{name}.md"] = doc.to_markdown()
    docs["cells/lstm.md"] = cell_linearisation.lstm_derivation().to_markdown()
    docs["cells/gru.md"] = cell_linearisation.gru_derivation().to_markdown()
    docs["cells/lru.md"] = cell_linearisation.lru_derivation(
        [(name, registry.get(name), verdicts[name]) for name in registry.names()]).to_markdown()
    index = ["# Derivations", "", "Generated by `emt derive`; do not edit by hand "
             "(`emt derive --check` fails on drift).", ""]
    index += [f"- [{path}]({path})" for path in docs]
    docs = {"index.md": "\n".join(index) + "\n", **docs}
    return docs

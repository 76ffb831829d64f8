"""The three claims a report judges, each from its own checks, each with a one-sentence verdict.

* **binding** -- the fitted embedding's live-slot subspaces are causally the task's variables:
  swapping one variable's component between two runs makes the net's own dynamics emit the
  task's continuation of the swapped window, and projecting the whole live image out brings the
  outputs to chance (`verify.interventions`); and the net solves the task.  Checks:
  ``binding.interchange``, ``binding.ablation``, ``generalisation``.  It adds causal evidence
  to the effective claim's geometric one.
* **effective circuit** -- after the transient, the odd part of the states,
  ``x_odd(w) = (x(w) - x(-w)) / 2``, is a linear image of the live slots, ``Psi_eff Pi_Phi w``,
  in either coordinate system of the conjugacy (h, or the pre-activation a); the even part is
  window-constant or invisible to the readout; states loaded on that image run the task; and the
  net solves the task.  Checks: every ``effective.*`` check plus ``generalisation`` and
  ``readout``.
* **linear circuit** -- ``W_hh = Psi Phi Psi^+`` with unit gain: W_hh's memory modes are Phi's
  eigenvalues (count, phase, modulus), Phi_hat's entries match, states loaded and decoded with
  the W_hh-power basis behave like the circuit, no bias; and the net solves the task.  Checks:
  the rest (`verify.checks.CHECKS`).  It is the effective claim's special case with
  ``act'`` = 1 on the states, so a net can hold the effective claim and fail this one (a tanh
  net whose circuit modes have |lambda| > 1, compensated by its gain 1 - h^2 < 1).

A claim holds when at least one of its checks ran and every one that ran passed with its
bootstrap interval clear of its bar; it fails when a check failed with its interval clear of the
bar; otherwise it is *inconclusive* (a check's interval straddles its bar: the data do not
decide, and the exit status is 1, as for a failure).  A skipped check is no evidence either
way.  ``generalisation`` belongs to all three claims (no claim says anything about a net that
does not do its task) and ``readout`` to the effective and the linear claim (in both the
readout reads the newest slot).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from emt.verify.checks import CheckResult

__all__ = ["CLAIMS", "CHOICES", "TITLES", "SHARED", "ClaimVerdict", "claim_of", "judge",
           "judge_all", "selected", "selected_holds", "selected_verdict"]

CLAIMS = ("effective", "linear", "binding")  # reports list the verdicts in this order
CHOICES = ("effective", "linear", "binding", "both", "all")  # what --claim / claim= may select
SELECTS = {"both": ("effective", "linear"), "all": CLAIMS}  # the choices naming several claims
TITLES = {
    "binding": "binding (the live-slot subspaces are causally the variables)",
    "effective": "effective circuit",
    "linear": "linear circuit (W_hh = Psi Phi Psi^+ with unit gain)",
}
MEANING = {
    "binding": "the net solves the task, swapping one variable's live-slot component between "
               "two runs makes it emit the swapped window's continuation, and removing the "
               "live image leaves its outputs at chance",
    "effective": "the net solves the task, the odd part of its states is a linear embedding of "
                 "the live slots that its own nonlinear map runs as the task",
    "linear": "the net solves the task and W_hh, read as a linear map with unit gain, is "
              "Psi Phi Psi^+",
}

SHARED = ("generalisation", "readout")  # checks of both the effective and the linear claim
EFFECTIVE_PREFIX = "effective."
BINDING_PREFIX = "binding."


def claim_of(check_name: str) -> tuple[str, ...]:
    """The claims a check belongs to: ``generalisation`` to all three, ``readout`` to the
    effective and the linear claim, ``binding.*`` to binding, ``effective.*`` to effective and
    every other check to linear."""
    if check_name == "generalisation":
        return CLAIMS
    if check_name in SHARED:
        return ("effective", "linear")
    if check_name.startswith(BINDING_PREFIX):
        return ("binding",)
    return ("effective",) if check_name.startswith(EFFECTIVE_PREFIX) else ("linear",)


def selected(choice: str) -> tuple[str, ...]:
    """The claims a ``--claim`` choice names ("both": effective and linear; "all": every
    claim); ``ValueError`` for an unknown choice."""
    if choice not in CHOICES:
        raise ValueError(f"claim must be one of {', '.join(CHOICES)}; got {choice!r}")
    return SELECTS.get(choice, (choice,))


def _span(c: CheckResult) -> str:
    return "" if c.interval is None else f" [{c.interval[0]:.3g}, {c.interval[1]:.3g}]"


def _number(c: CheckResult) -> str:
    return (f"{c.name} {c.value:.3g}{_span(c)} {'>=' if c.comparator == '>=' else '<='} "
            f"{c.tolerance:g}")


def _missed(c: CheckResult) -> str:
    sign = "<" if c.comparator == ">=" else ">"
    return f"{c.name} {c.value:.3g}{_span(c)} {sign} {c.tolerance:g}"


@dataclass(frozen=True)
class ClaimVerdict:
    """One claim's verdict: its checks (by name), which failed, and the plain sentence."""

    claim: str
    holds: bool
    checks: tuple[str, ...]
    failed: tuple[str, ...]
    sentence: str
    inconclusive: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        """"holds", "fails", "inconclusive" or "not judged"."""
        if self.holds:
            return "holds"
        if self.failed:
            return "fails"
        return "inconclusive" if self.inconclusive else "not judged"

    def to_json(self) -> dict:
        return {"claim": self.claim, "title": TITLES[self.claim], "holds": self.holds,
                "verdict": self.verdict, "checks": list(self.checks),
                "failed": list(self.failed), "inconclusive": list(self.inconclusive),
                "sentence": self.sentence}


def judge(claim: str, checks: Iterable[CheckResult],
          notes: Mapping[str, str] | None = None) -> ClaimVerdict:
    """The verdict on ``claim`` from the checks that belong to it; ``notes[claim]`` (optional)
    is a clause of descriptor numbers appended to the sentence (they never decide it)."""
    if claim not in CLAIMS:
        raise ValueError(f"claim must be one of {', '.join(CLAIMS)}; got {claim!r}")
    mine = [c for c in checks if claim in claim_of(c.name)]
    ran = [c for c in mine if c.passed is not None]
    failed = [c for c in mine if c.failed]
    unsure = [c for c in mine if c.inconclusive]
    holds = bool(ran) and not failed and not unsure
    title = TITLES[claim][0].upper() + TITLES[claim][1:]
    if not ran:
        sentence = f"{title}: not judged -- none of its checks ran."
    elif holds:
        sentence = (f"{title}: HOLDS -- {MEANING[claim]} "
                    f"({'; '.join(_number(c) for c in ran)}).")
    elif failed:
        sentence = (f"{title}: FAILS -- {len(failed)} of {len(ran)} checks missed: "
                    f"{'; '.join(_missed(c) for c in failed)}.")
    else:
        sentence = (f"{title}: INCONCLUSIVE -- no check failed, but {len(unsure)} of {len(ran)} "
                    f"have an interval that straddles the bar: "
                    f"{'; '.join(_number(c) for c in unsure)}.")
    note = (notes or {}).get(claim)
    if note:
        sentence = f"{sentence[:-1]} ({note})."
    return ClaimVerdict(claim, holds, tuple(c.name for c in mine),
                        tuple(c.name for c in failed), sentence,
                        tuple(c.name for c in unsure))


def judge_all(checks: list[CheckResult],
              notes: Mapping[str, str] | None = None) -> dict[str, ClaimVerdict]:
    return {claim: judge(claim, checks, notes) for claim in CLAIMS}


def selected_verdict(verdicts: Mapping[str, ClaimVerdict], choice: str) -> str:
    """"pass" when every claim the choice names holds (`selected`), "fail" when one fails (or
    could not be judged), else "inconclusive"."""
    wanted = selected(choice)
    if all(verdicts[c].holds for c in wanted):
        return "pass"
    return "fail" if any(verdicts[c].verdict in ("fails", "not judged") for c in wanted) \
        else "inconclusive"


def selected_holds(verdicts: Mapping[str, ClaimVerdict], choice: str) -> bool:
    """Whether every claim the choice names holds (`selected`)."""
    return all(verdicts[c].holds for c in selected(choice))

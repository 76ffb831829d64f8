"""The two claims a report judges, each from its own checks, each with a one-sentence verdict.

* **effective circuit** -- the hidden states are a linear embedding of the live slots,
  ``h(t) = Psi_eff Pi_Phi w(t)``, and one step of the network's own nonlinear map carries that
  embedding by Phi, ``act(W_hh Psi_eff Pi_Phi w) = Psi_eff Phi Pi_Phi w``; and the net solves the
  task.  Checks: every ``effective.*`` check plus ``generalisation``.
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
way.  ``generalisation`` and ``readout`` belong to both: neither claim says
anything about a net that does not do its task, and in both the readout reads the newest slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from emt.verify.checks import CheckResult

__all__ = ["CLAIMS", "CHOICES", "TITLES", "SHARED", "ClaimVerdict", "claim_of", "judge",
           "judge_all", "selected_holds", "selected_verdict"]

CLAIMS = ("effective", "linear")
CHOICES = ("effective", "linear", "both")  # what --claim / claim= may select
TITLES = {
    "effective": "effective circuit",
    "linear": "linear circuit (W_hh = Psi Phi Psi^+ with unit gain)",
}
MEANING = {
    "effective": "the net solves the task, the odd part of its states is a linear embedding of "
                 "the live slots that its own nonlinear map runs as the task",
    "linear": "the net solves the task and W_hh, read as a linear map with unit gain, is "
              "Psi Phi Psi^+",
}
SHARED = ("generalisation", "readout")  # checks that belong to both claims
EFFECTIVE_PREFIX = "effective."


def claim_of(check_name: str) -> tuple[str, ...]:
    """The claims a check belongs to (``("effective", "linear")`` for the shared ones)."""
    if check_name in SHARED:
        return CLAIMS
    return ("effective",) if check_name.startswith(EFFECTIVE_PREFIX) else ("linear",)


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


def selected_verdict(verdicts: Mapping[str, ClaimVerdict], selected: str) -> str:
    """"pass" when the selected claim(s) hold, "fail" when one fails, else "inconclusive"."""
    wanted = CLAIMS if selected == "both" else (selected,)
    if all(verdicts[c].holds for c in wanted):
        return "pass"
    return "fail" if any(verdicts[c].verdict in ("fails", "not judged") for c in wanted) \
        else "inconclusive"


def selected_holds(verdicts: Mapping[str, ClaimVerdict], selected: str) -> bool:
    """Whether the selected claim holds ("both": both do)."""
    if selected not in CHOICES:
        raise ValueError(f"claim must be one of {', '.join(CHOICES)}; got {selected!r}")
    wanted = CLAIMS if selected == "both" else (selected,)
    return all(verdicts[c].holds for c in wanted)

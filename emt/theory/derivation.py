"""The `Derivation` noun: an ordered list of named, checked equalities rendered to Markdown.

Each `Step` states ``lhs = rhs`` (sympy expressions or matrices) with the assumptions it uses and
a line of prose.  It is checked when constructed: ``lhs - rhs`` must simplify to zero (entry by
entry for matrices), else ``ValueError`` naming the step.  The rendered document shows the
equality as display math (``$$ ... $$``); a step may carry its own LaTeX (``display``) when the
checked objects are explicit small instances of a general formula.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

__all__ = ["Step", "Derivation", "is_zero"]


def is_zero(expr: Any) -> bool:
    """Whether ``expr`` (expression or matrix) is identically zero: cheap ``expand`` first,
    then ``simplify`` on what is left."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(v) for v in expr)
    expr = sp.sympify(expr)
    if expr == 0:
        return True
    expanded = sp.expand(expr)
    if expanded == 0:
        return True
    return bool(sp.simplify(expanded) == 0)


@dataclass(frozen=True)
class Step:
    """One checked equality ``lhs = rhs``; raises ``ValueError`` if it does not hold."""

    name: str
    lhs: Any
    rhs: Any
    assumptions: tuple[str, ...] = ()
    prose: str = ""
    display: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("a step needs a non-empty name")
        object.__setattr__(self, "assumptions", tuple(self.assumptions))
        lhs, rhs = self.lhs, self.rhs
        if isinstance(lhs, sp.MatrixBase) != isinstance(rhs, sp.MatrixBase):
            raise ValueError(f"step {self.name!r}: one side is a matrix and the other is not")
        if isinstance(lhs, sp.MatrixBase) and lhs.shape != rhs.shape:
            raise ValueError(f"step {self.name!r}: shapes differ, {lhs.shape} vs {rhs.shape}")
        diff = lhs - rhs if isinstance(lhs, sp.MatrixBase) else sp.sympify(lhs) - sp.sympify(rhs)
        if not is_zero(diff):
            raise ValueError(f"step {self.name!r} does not hold: lhs - rhs = {sp.simplify(diff)}")

    def equation_latex(self) -> str:
        if self.display is not None:
            return self.display
        return f"{sp.latex(self.lhs)} = {sp.latex(self.rhs)}"

    def to_markdown(self, number: int) -> str:
        lines = [f"## {number}. {self.name}", ""]
        if self.prose:
            lines += [self.prose, ""]
        lines += ["$$", self.equation_latex(), "$$", ""]
        if self.assumptions:
            lines.append("Assumptions: " + "; ".join(self.assumptions) + ".")
            lines.append("")
        lines.append("Checked: the difference of the two sides simplifies to zero.")
        lines.append("")
        return "\n".join(lines)


@dataclass(frozen=True)
class Derivation:
    """An ordered, titled list of checked `Step`s plus free prose before and after."""

    title: str
    steps: tuple[Step, ...]
    intro: str = ""
    outro: str = ""
    sections: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        if not all(isinstance(s, Step) for s in steps):
            raise ValueError("a derivation is a sequence of Step objects")
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"step names must be unique; got {names}")
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "sections", tuple(self.sections))

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise ValueError(f"no step named {name!r} in {self.title!r}")

    def to_markdown(self) -> str:
        """The document: title, intro, numbered steps, extra sections, outro; ends in one
        newline, no trailing spaces (deterministic byte for byte)."""
        parts = [f"# {self.title}", ""]
        if self.intro:
            parts += [self.intro.strip(), ""]
        for i, s in enumerate(self.steps, start=1):
            parts.append(s.to_markdown(i))
        for heading, body in self.sections:
            parts += [f"## {heading}", "", body.strip(), ""]
        if self.outro:
            parts += [self.outro.strip(), ""]
        text = "\n".join(parts)
        text = "\n".join(line.rstrip() for line in text.splitlines())
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
        return text.strip() + "\n"


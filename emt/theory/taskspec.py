"""The `TaskSpec` noun and the authors' id encoding (docs/science.md).

A task stores ``s`` variables of dimension ``d`` and then emits, forever,

    x(t) = F^T [x(t-s); x(t-s+1); ...; x(t-1)]          (t >= s)

where ``F`` is an ``(s d) x d`` matrix and the window index ``k*d + i`` is dimension ``i`` of the
``k``-th oldest step (``k = 0`` is the oldest).  ``F`` is kept exact (sympy rationals) so the
symbolic layer and the data generator read the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy as sp

from emt.core.limits import check_at_most, limit, raise_hint

__all__ = [
    "TaskSpec",
    "from_ids",
    "to_ids",
    "is_signed_copy",
    "signed_copy_structure",
    "exact_number",
    "slot",
    "block",
]


def slot(k: int, i: int, d: int) -> int:
    """The window (slot) index of dimension ``i`` of the ``k``-th oldest step: ``k d + i``.

    ``k = 0`` is the oldest step of the window and ``k = s - 1`` the newest; the same index
    numbers the rows of ``F``, the rows and columns of Phi and the columns of Psi.
    """
    return k * d + i


def block(k: int, d: int) -> slice:
    """The ``d`` slot indices of step ``k`` (``k = 0`` oldest), as a slice."""
    return slice(slot(k, 0, d), slot(k + 1, 0, d))


def exact_number(value: object, where: str = "entry") -> sp.Rational:
    """Convert ``value`` to an exact sympy rational, or raise ``ValueError`` naming ``where``.

    Accepts ints, `fractions.Fraction`, sympy rationals, fraction strings such as ``"3/7"`` or
    ``"-0.25"``, and finite floats (taken at their shortest decimal representation, so ``0.1``
    becomes ``1/10``).  NaN, infinities, booleans, text that is not a number and anything
    irrational are rejected.
    """
    if isinstance(value, bool):
        raise ValueError(f"{where}: expected a number, got the boolean {value!r}")
    if isinstance(value, sp.Rational):
        return _bounded(value, where)
    if isinstance(value, int | np.integer):
        return _bounded(sp.Integer(int(value)), where)
    if isinstance(value, Fraction):
        return _bounded(sp.Rational(value.numerator, value.denominator), where)
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            raise ValueError(f"{where}: expected a finite number, got {value!r}")
        return _bounded(sp.Rational(repr(float(value))), where)
    if isinstance(value, str):
        text = value.strip()
        _check_number_text(text, where)
        try:
            frac = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"{where}: {value!r} is not a number (use an integer, a decimal or a fraction "
                f"like '3/7')"
            ) from None
        return _bounded(sp.Rational(frac.numerator, frac.denominator), where)
    if isinstance(value, sp.Basic):
        if value.is_finite is False or value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            raise ValueError(f"{where}: expected a finite number, got {value}")
        if value.is_Rational:
            return _bounded(sp.Rational(value), where)
        raise ValueError(f"{where}: expected an exact rational number, got {value}")
    raise ValueError(f"{where}: expected a number, got {type(value).__name__} {value!r}")


# An exponent beyond this many decimal places cannot keep the entry within MAX_ENTRY_DIGITS
# digits (a 100-character mantissa shifted by it): refuse before Fraction expands it.
def _check_number_text(text: str, where: str) -> None:
    """Refuse number text whose expansion would be huge (``"1e999999999"``), before parsing:
    at most ``MAX_ENTRY_TEXT`` characters and a decimal exponent of at most
    ``MAX_ENTRY_TEXT + MAX_ENTRY_DIGITS`` in magnitude (no longer mantissa can bring a larger
    exponent back within ``MAX_ENTRY_DIGITS`` digits)."""
    cap = limit("MAX_ENTRY_TEXT")
    if len(text) > cap:
        raise ValueError(f"{where}: the number text is {len(text)} characters, above the limit "
                         f"{cap} (MAX_ENTRY_TEXT; {raise_hint('MAX_ENTRY_TEXT')})")
    lowered = text.lower()
    if "e" in lowered:
        exponent = lowered.rsplit("e", 1)[1].split("/")[0].replace("_", "")
        try:
            magnitude = abs(int(exponent))
        except ValueError:
            return  # not a number at all: Fraction reports it
        if magnitude > cap + limit("MAX_ENTRY_DIGITS"):
            raise ValueError(f"{where}: {text!r} has the exponent {exponent}, whose value "
                             f"would exceed MAX_ENTRY_DIGITS = {limit('MAX_ENTRY_DIGITS')} "
                             f"digits ({raise_hint('MAX_ENTRY_DIGITS')})")


def _bounded(value: sp.Rational, where: str) -> sp.Rational:
    """``value`` if its numerator and denominator have at most ``MAX_ENTRY_DIGITS`` decimal
    digits (counted from the bit length, so no huge number is ever printed)."""
    cap = limit("MAX_ENTRY_DIGITS")
    for part in (int(value.p), int(value.q)):
        # digits = floor(log10 |x|) + 1 <= bit_length * log10(2) + 1
        if part and (abs(part).bit_length() - 1) * 0.30103 >= cap:
            raise ValueError(f"{where}: an entry with more than {cap} digits in its numerator "
                             f"or denominator is above the limit (MAX_ENTRY_DIGITS; "
                             f"{raise_hint('MAX_ENTRY_DIGITS')})")
    return value


def _as_exact_matrix(F: object, s: int, d: int) -> sp.ImmutableMatrix:
    """Validate ``F`` as an ``(s d) x d`` table of finite exact numbers."""
    if isinstance(F, sp.MatrixBase):
        rows = [[F[i, j] for j in range(F.shape[1])] for i in range(F.shape[0])]
    elif isinstance(F, np.ndarray):
        if F.ndim != 2:
            raise ValueError(f"F must be a 2-D matrix of shape ({s * d}, {d}); got {F.ndim}-D")
        rows = F.tolist()
    elif isinstance(F, Sequence) and not isinstance(F, str):
        rows = list(F)
    else:
        raise ValueError(f"F must be a matrix (rows of numbers); got {type(F).__name__}")
    if len(rows) != s * d:
        raise ValueError(f"F must have s*d = {s * d} rows (shape ({s * d}, {d})); got {len(rows)}")
    exact = []
    for r, row in enumerate(rows):
        if not isinstance(row, Sequence) or isinstance(row, str):
            raise ValueError(f"F row {r} must be a list of {d} numbers; got {row!r}")
        if len(row) != d:
            raise ValueError(
                f"F must have shape ({s * d}, {d}); row {r} has {len(row)} entries"
            )
        exact.append([exact_number(v, where=f"F[{r}][{c}]") for c, v in enumerate(row)])
    return sp.ImmutableMatrix(exact)


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return check_at_most(name, int(value), "MAX_SLOTS")


def _check_slots(s: int, d: int) -> None:
    """The circuit's Phi is ``s d x s d`` and F holds ``s d d`` entries: bound both before
    anything of that size is built."""
    check_at_most("s*d (the size of Phi)", s * d, "MAX_SLOTS")
    check_at_most("the number of F entries s*d*d", s * d * d, "MAX_F_ENTRIES")


@dataclass(frozen=True)
class TaskSpec:
    """A linear variable binding task: ``s`` steps of ``d``-dimensional variables and the
    composition matrix ``F`` (``(s d) x d``, exact) with ``x(t) = F^T window(t)``.

    ``name`` and ``ids`` are optional labels; ``ids`` (the authors' triple) is filled in by
    `from_ids`.  Construction validates everything and raises ``ValueError`` naming the problem.
    """

    s: int
    d: int
    F: sp.ImmutableMatrix = field(repr=False)
    name: str | None = None
    ids: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        s = _check_size("s", self.s)
        d = _check_size("d", self.d)
        _check_slots(s, d)
        object.__setattr__(self, "s", s)
        object.__setattr__(self, "d", d)
        object.__setattr__(self, "F", _as_exact_matrix(self.F, s, d))
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()):
            raise ValueError(f"task name must be a non-empty string; got {self.name!r}")
        if self.ids is not None:
            if len(tuple(self.ids)) != 3 or not all(
                isinstance(i, int | np.integer) and not isinstance(i, bool) and i >= 0
                for i in self.ids
            ):
                raise ValueError(f"ids must be three non-negative integers; got {self.ids!r}")
            object.__setattr__(self, "ids", tuple(int(i) for i in self.ids))

    # -- views -------------------------------------------------------------------------------
    @property
    def n_slots(self) -> int:
        """Size of the circuit's Phi: ``s * d``."""
        return self.s * self.d

    @property
    def label(self) -> str:
        """A short human-readable name: the registry name, else the ids, else ``s=..,d=..``."""
        if self.name:
            return self.name
        if self.ids is not None:
            return f"ids{self.ids}"
        return f"task(s={self.s},d={self.d})"

    def F_numeric(self) -> np.ndarray:
        """``F`` as a float64 array of shape ``(s d, d)``."""
        return np.array(self.F.tolist(), dtype=np.float64)

    def F_block(self, k: int) -> sp.ImmutableMatrix:
        """The ``d x d`` block of ``F`` acting on step ``k`` of the window (``k = 0`` oldest)."""
        if not 0 <= k < self.s:
            raise ValueError(f"block index k must be in 0..{self.s - 1}; got {k}")
        return self.F[block(k, self.d), :]

    def to_json(self) -> dict:
        """A JSON-ready description: ``s``, ``d``, ``F`` as fraction strings, name, ids."""
        return {
            "name": self.name,
            "s": self.s,
            "d": self.d,
            "ids": list(self.ids) if self.ids is not None else None,
            "F": [[str(v) for v in self.F.row(r)] for r in range(self.F.rows)],
        }

    @classmethod
    def from_json(cls, data: dict) -> TaskSpec:
        """Inverse of `to_json`."""
        try:
            ids = data.get("ids")
            return cls(
                s=data["s"],
                d=data["d"],
                F=data["F"],
                name=data.get("name"),
                ids=tuple(ids) if ids is not None else None,
            )
        except KeyError as exc:
            raise ValueError(f"task description is missing the field {exc.args[0]!r}") from None

    def with_name(self, name: str | None) -> TaskSpec:
        return TaskSpec(self.s, self.d, self.F, name=name, ids=self.ids)

    def same_task(self, other: TaskSpec) -> bool:
        """Whether two specs define the same task (same s, d and F; labels ignored)."""
        return self.s == other.s and self.d == other.d and self.F == other.F


# -- the authors' id encoding -----------------------------------------------------------------


def _digits(value: int, base: int) -> list[int]:
    out = []
    while value:
        value, r = divmod(value, base)
        out.append(r)
    return out


def from_ids(s: int, d: int, ids: Iterable[int], name: str | None = None) -> TaskSpec:
    """Decode the authors' ``(id1, id2, id3)`` into a signed-copy `TaskSpec` (docs/science.md).

    1. The set bits of ``id1`` in ascending position are the window indices ``choice``;
       exactly ``d`` bits must be set, all below ``s d``.
    2. ``id2`` in base ``d``, least significant digit first: digit ``c > 0`` at position ``p``
       swaps ``choice[p]`` and ``choice[p + c]`` (invalid when ``p + c >= d``).
    3. ``id3`` in base 2: bit ``j`` set makes ``sign[j] = -1``.
    4. ``F[choice[j], j] = sign[j]``.
    """
    s = _check_size("s", s)
    d = _check_size("d", d)
    _check_slots(s, d)
    ids = tuple(ids)
    if len(ids) != 3:
        raise ValueError(f"ids must be a triple (id1, id2, id3); got {ids!r}")
    for label, v in zip(("id1", "id2", "id3"), ids, strict=True):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise ValueError(f"{label} must be a non-negative integer; got {v!r}")
        check_at_most(f"the bit length of {label}", int(v).bit_length(), "MAX_ID_BITS")
    id1, id2, id3 = (int(v) for v in ids)

    choice = [b for b in range(id1.bit_length()) if id1 >> b & 1]
    if len(choice) != d:
        raise ValueError(f"id1={id1} must have exactly d={d} set bits; it has {len(choice)}")
    if choice[-1] >= s * d:
        raise ValueError(
            f"id1={id1} sets bit {choice[-1]}, at or beyond s*d = {s * d} (window indices are "
            f"0..{s * d - 1})"
        )

    if d == 1:
        if id2 != 0:
            raise ValueError(f"id2={id2} is out of range: with d=1 there is nothing to swap")
    else:
        for p, c in enumerate(_digits(id2, d)):
            if c == 0:
                continue
            if p + c >= d:
                raise ValueError(
                    f"id2={id2}: digit {c} at position {p} swaps choice[{p}] with "
                    f"choice[{p + c}], which is out of range (d={d})"
                )
            choice[p], choice[p + c] = choice[p + c], choice[p]

    if id3 >> d:
        raise ValueError(f"id3={id3} has a sign bit at or beyond d={d}")
    F = sp.zeros(s * d, d)
    for j in range(d):
        F[choice[j], j] = -1 if id3 >> j & 1 else 1
    return TaskSpec(s, d, F, name=name, ids=(id1, id2, id3))


def is_signed_copy(task: TaskSpec) -> bool:
    """Whether every column of ``F`` has exactly one nonzero entry and it is +1 or -1."""
    for j in range(task.d):
        nz = [v for v in task.F.col(j) if v != 0]
        if len(nz) != 1 or abs(nz[0]) != 1:
            return False
    return True


def signed_copy_structure(task: TaskSpec) -> tuple[list[int], list[int]]:
    """For a signed-copy task, ``(choice, sign)``: output dim ``j`` is ``sign[j]`` times window
    entry ``choice[j]``.  Raises ``ValueError`` for any other F."""
    if not is_signed_copy(task):
        raise ValueError(
            f"task {task.label} is not a signed-copy task: each column of F must hold exactly "
            "one nonzero entry, +1 or -1"
        )
    choice, sign = [], []
    for j in range(task.d):
        col = list(task.F.col(j))
        r = next(i for i, v in enumerate(col) if v != 0)
        choice.append(r)
        sign.append(int(col[r]))
    return choice, sign


def to_ids(task: TaskSpec) -> tuple[int, int, int]:
    """Encode a signed-copy task as the authors' ``(id1, id2, id3)``; inverse of `from_ids`.

    Raises ``ValueError`` when F is outside the signed-copy family or when two output
    dimensions copy the same window entry (id1 cannot express a repeated index).
    """
    choice, sign = signed_copy_structure(task)
    if len(set(choice)) != len(choice):
        raise ValueError(
            f"task {task.label} copies the same window entry into two outputs; the id "
            "encoding cannot express that"
        )
    id1 = sum(1 << c for c in choice)
    # Replay the swap procedure: at position p the digit is the distance to where the wanted
    # element currently sits (always at or after p, since earlier positions are final).
    current = sorted(choice)
    id2, place = 0, 1
    for p in range(task.d):
        q = current.index(choice[p])
        c = q - p
        current[p], current[q] = current[q], current[p]
        id2 += c * place
        place *= task.d
    id3 = sum(1 << j for j, sg in enumerate(sign) if sg < 0)
    return id1, id2, id3



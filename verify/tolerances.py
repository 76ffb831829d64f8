"""Named tolerances for the verification checks, each with a default and the reason for it.

Every check reads its bound from a `Tolerances` mapping; a user overrides any of them by name
(``emt verify --tol spectrum.phase=0.01`` or ``verify_weights(..., tolerances={...})``).
Defaults were set so that a well-trained small tanh repeat-copy network passes (docs/tolerances.md
says what one looks like) and untrained networks fail; they are never loosened to make a
particular model pass -- a miss is a finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Tolerance", "DEFAULTS", "resolve", "parse_overrides", "names"]


@dataclass(frozen=True)
class Tolerance:
    """One named bound: ``name``, default ``value`` and the ``reason`` for that default."""

    name: str
    value: float
    reason: str


_DEFINITIONS = (
    Tolerance(
        "spectrum.threshold", 0.8,
        "modulus above which an eigenvalue counts as a memory mode: between the theory's nonzero "
        "moduli (1 for signed-copy tasks) and the bulk radius of a PyTorch-initialised random "
        "W_hh (about sqrt(1/3) = 0.58); the authors' own slot criterion uses 0.8.",
    ),
    Tolerance(
        "spectrum.count", 0.0,
        "the theory predicts exactly how many eigenvalues lie above the threshold; any "
        "difference means a mode is missing or spurious.",
    ),
    Tolerance(
        "spectrum.phase", 0.05,
        "max |wrapped angle difference| (rad) over optimally matched pairs; a trained repeat-copy "
        "net is under 0.001 and the paper's Table 1 means are under 0.012; 0.05 is still far "
        "below the 2 pi / s = 0.79 rad spacing of the s = 8 roots of unity.",
    ),
    Tolerance(
        "spectrum.modulus", 0.1,
        "max ||lambda_trained| - |lambda_theory|| over matched pairs; trained tanh nets sit "
        "slightly outside the unit circle (about 1.01-1.03; saturation bounds them).",
    ),
    Tolerance(
        "phi_hat", 0.3,
        "max entry error of Phi_hat against the prediction after the best diagonal similarity; "
        "a well-trained tanh repeat-copy net shows off-support entries up to about 0.2 (input "
        "grounding) and scaled cycle products of about 1.03 per edge.",
    ),
    Tolerance(
        "generalisation", 0.95,
        "minimum sign accuracy at H = 200 on fresh batches; the paper's learned nets reach "
        "0.94-1.00, chance is 0.5.",
    ),
    Tolerance(
        "loaded_state", 0.95,
        "minimum sign accuracy over H steps from the loaded state h(s-1) = Psi x; same bar as "
        "generalisation (the constructed circuit is exact; its max error is also reported).",
    ),
    Tolerance(
        "trajectory", 0.9,
        "minimum over slots of the correlation between Psi* h(t) (decoded to slots) and the "
        "true window; a saturating tanh net is not exactly linear, so not 1.",
    ),
    Tolerance(
        "markov", 0.05,
        "max |W_hy W_hh^m W_uh - K(m)| / max(1, |K(m)|) over lags m = 1..3s for linear nets; "
        "the constructed circuit is exact, a trained linear net should be within a few percent.",
    ),
    Tolerance(
        "no_bias", 0.0,
        "the theory linearises at h = 0, a fixed point only without bias: max |bias| must be 0.",
    ),
)

DEFAULTS: dict[str, Tolerance] = {t.name: t for t in _DEFINITIONS}


def names() -> list[str]:
    return list(DEFAULTS)


def resolve(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """The defaults with ``overrides`` applied; ``ValueError`` for an unknown name or a value
    that is not a finite non-negative number."""
    values = {name: t.value for name, t in DEFAULTS.items()}
    for name, value in (overrides or {}).items():
        if name not in DEFAULTS:
            raise ValueError(f"unknown tolerance {name!r}; known tolerances: {', '.join(names())}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"tolerance {name} must be a number; got {value!r}") from None
        if not number >= 0 or number == float("inf"):
            raise ValueError(f"tolerance {name} must be finite and >= 0; got {value!r}")
        values[name] = number
    return values


def parse_overrides(items: Iterable[str]) -> dict[str, float]:
    """Parse ``NAME=VALUE`` strings (``--tol``); ``ValueError`` naming a malformed one."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(
                f"malformed --tol {item!r}: expected NAME=VALUE, e.g. spectrum.phase=0.01")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"malformed --tol {item!r}: {value!r} is not a number") from None
    resolve(out)
    return out

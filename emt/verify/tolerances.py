"""Named tolerances for the verification checks, each with a default and the reason for it.

Every check reads its bound from a `Tolerances` mapping; a user overrides any of them by name
(``emt verify --tol spectrum.phase=0.01`` or ``verify_weights(..., tolerances={...})``).
Each default's reason records what it was measured on: the committed nets of
``results/table1-quick`` (T1-T4, three seeds each, N_h = 128) and of the input-phase studies
(repeat-copy-4 and staggered-4, linear and tanh), and the theory's spectra of every registered
task (fibonacci-2 has no trained net; its numbers are the theory's).  Where the math caps a bound
(the phase, at half of Phi's smallest angular gap) the cap is applied to any value, default or
override.  No default is loosened to make a particular model pass -- a miss is a finding.
(docs/tolerances.md gives every reason in prose).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Tolerance", "DEFAULTS", "DERIVED", "CALIBRATE", "resolve", "parse_overrides",
           "names"]


DERIVED = "derived"  # the value follows from the mathematics (the reason says how)
CALIBRATE = ("measured; to be calibrated at a 1% false-positive rate on a null population "
             "(nets that do not implement the claim)")


@dataclass(frozen=True)
class Tolerance:
    """One named bound: ``name``, default ``value``, the ``reason`` for that default and its
    ``origin``: `DERIVED` (from the mathematics) or `CALIBRATE` (measured on committed nets;
    the value is to be set from a null population at a stated false-positive rate)."""

    name: str
    value: float
    reason: str
    origin: str = CALIBRATE


_DEFINITIONS = (
    Tolerance(
        "spectrum.threshold", 0.8,
        "fallback only, used when W_hh's spectrum has no clear gap (spectrum.gap): memory modes "
        "are the eigenvalues above 0.8 x Phi's smallest nonzero modulus (1 for signed-copy tasks, "
        "0.618 for fibonacci-2, whose modes a bare 0.8 would halve). The theory side is always "
        "Phi's exact nonzero count. Measured: T2 seed 2's 37th eigenvalue is 0.752, 0.05 under "
        "a bare 0.8, so the gap, not this number, decides its count.",
    ),
    Tolerance(
        "spectrum.gap", 1.5,
        "minimum ratio |lambda_k| / |lambda_(k+1)| of W_hh's sorted moduli for a clear gap, "
        "which then sets the trained count k. Measured at the predicted count on every committed "
        "net that learned its task: 1.67-2.73 (T1 2.51-2.73, repeat-copy-4 1.82-2.06, staggered-4 "
        "tanh 1.76-1.99, T2 seeds 2-3 1.67-1.76, T3 2.03-2.18, T4 2.08-2.20); nets that did not "
        "learn have no gap there (T2 seed 1: 1.07; linear staggered-4: 1.01-1.07).",
    ),
    Tolerance(
        "spectrum.count", 0.0,
        "the theory predicts exactly how many memory modes there are (Phi's nonzero count); "
        "any difference means a mode is missing or spurious.",
        DERIVED,
    ),
    Tolerance(
        "spectrum.phase", 0.05,
        "max |wrapped angle difference| (rad) over optimally matched pairs, and never more than "
        "half the smallest angular gap between Phi's distinct eigenvalues (applied per task: "
        "T4's gap is 0.090, so 0.045 there; T2 0.112, T3 0.131, staggered-4 0.52, repeat copy "
        "and fibonacci-2 >= 0.79). Measured on nets that learned: T1 and repeat-copy-4 <= 0.0021, "
        "T3 <= 0.0090, T4 <= 0.0145, T2 seed 2 0.021, staggered-4 tanh <= 0.039.",
    ),
    Tolerance(
        "spectrum.modulus", 0.1,
        "max ||lambda_trained| - |lambda_theory|| over matched pairs: the linear claim's unit "
        "gain. Repeat copy and T1 nets are within 0.008 (tanh) and 0.0025 (linear); tanh nets on "
        "composition tasks are not (staggered-4 0.23-0.30, T3 0.26-0.34, T4 0.13-0.22, T2 0.92+):"
        " their circuit modes sit at |lambda| 1.1-1.9, compensated by the tanh gain -- a finding "
        "about the linear claim, not a reason to loosen it.",
    ),
    Tolerance(
        "phi_hat", 0.3,
        "max entry error of Phi_hat against the prediction after the best diagonal similarity. "
        "Measured (output grounding): T1 tanh 0.017-0.021, T1 linear 0.13, repeat-copy-4 tanh "
        "0.037-0.043, repeat-copy-4 linear 0.18-0.30 (off-support entries; one net at 0.304 "
        "fails -- a finding, not loosened), staggered-4 tanh 0.22-0.27; T2-T4 tanh nets "
        "2.8-127 (their modes' moduli enter the cycle products).",
    ),
    Tolerance(
        "generalisation", 0.95,
        "minimum sign accuracy at H = 200 on fresh batches; the paper's learned nets reach "
        "0.94-1.00, chance is 0.5.",
    ),
    Tolerance(
        "readout", 0.95,
        "min fraction of outputs over the first max(2s, 4) output steps, driven from h = 0, "
        "that sit on the target's side past readout.margin of the target after a fitted "
        "positive gain per output dimension (the circuit reads the newest slot; a readout "
        "scaled by c > 0 reads the same slot, so the gain is reported, not judged). The same "
        "bar as generalisation: a net that reads the slot keeps nearly every output decided.",
        CALIBRATE,
    ),
    Tolerance(
        "readout.margin", 0.5,
        "the margin an output must clear, as a fraction of its target at the fitted gain: "
        "halfway between 0 (a sign flip) and the target, the largest margin that treats an "
        "error towards 0 and one away from it alike.",
        DERIVED,
    ),
    Tolerance(
        "loaded_state", 0.95,
        "minimum sign accuracy over H steps from the loaded state h(s-1) = Psi x, with Psi's "
        "slot scales from powers of W_hh (unit gain assumed: the linear claim); same bar as "
        "generalisation. Measured: T1 and repeat copy 0.994-1.000, staggered-4 tanh 0.936-0.978, "
        "T2-T4 tanh 0.49-0.59 (their gain is not 1).",
    ),
    Tolerance(
        "trajectory", 0.9,
        "minimum over slots of the correlation between Psi* h(t) (decoded to slots) and the "
        "true window; a tanh net is not exactly linear, so not 1. Measured: T1 0.95-0.98, "
        "repeat-copy-4 0.90-0.98, staggered-4 tanh 0.89-0.96, T2-T4 tanh below 0.05.",
    ),
    Tolerance(
        "markov", 0.05,
        "max |W_hy W_hh^m W_uh - K(m)| / max(1, |K(m)|) over lags m = 1..3s for linear nets; "
        "the constructed circuit is exact, a trained linear net should be within a few percent.",
    ),
    Tolerance(
        "effective.embedding", 0.95,
        "min held-out R^2 of the reachable output-phase states on the live slots Pi_Phi w(t) (1 - "
        "R^2 is the share of state variance the window does not explain linearly). Measured: nets "
        "that solve their task 0.989-1.000 (T1-T4 at N_h 128 from table1-quick, staggered-4 at "
        "N_h 64); the constructed circuit 1 - 1e-15; nets that fail their task or are judged "
        "against another one 0.24-0.86 (T2 seed 3, accuracy 0.94, is the 0.86), untrained "
        "0.09-0.19, circuits on tasks their input phase cannot write (T2, T3, staggered-4, "
        "fibonacci-2) 0.30-0.72, one-hot lookup nets that solve s = 2 tasks exactly 0.19-0.35. "
        "0.95 sits 4 points below the worst passing net and 9 above the best failing one.",
    ),
    Tolerance(
        "effective.rank_gap", 1.0,
        "a live direction counts towards the numerical rank of the fitted embedding when the "
        "state moves along it (singular value of the fitted map A whitened by the window "
        "covariance, per sample) more than the random-matrix edge of the fit's own noise: the "
        "residual, treated as noise of covariance Sigma, puts singular values of at most "
        "(sqrt(|Sigma|) sqrt(r) + sqrt(tr Sigma)) / sqrt(n_fit) into the fitted A (Chevet's "
        "bound; Marchenko-Pastur's sigma (sqrt(N) + sqrt(r)) when Sigma = sigma^2 I), so a "
        "direction above 1 x the edge is resolved from noise; below it the fit cannot tell the "
        "direction from the residual.",
        DERIVED,
    ),
    Tolerance(
        "effective.even", 0.05,
        "max of the two shares of the state's even part x_even(w) = (x(w) + x(-w)) / 2 (the "
        "tasks are odd, so the claim speaks about the odd part): the claim allows an even part "
        "that is constant over windows (its window-variance share of the state) or invisible "
        "to the readout (|y_even| / |y_odd|); the check passes when either share is at most "
        "0.05, the share of unexplained variance that effective.embedding allows (1 - 0.95). "
        "A bias-free Elman net is odd: both shares are exactly 0.",
        DERIVED,
    ),
    Tolerance(
        "effective.loaded_state", 0.95,
        "min sign accuracy over H steps after loading x(s-1) = Psi_eff Pi_Phi x and running the "
        "model's own step; the same bar as generalisation. Measured: passing nets 0.9997-1.000, "
        "failing and control nets 0.05-0.94 (T2 seed 1: 0.75).",
    ),
    Tolerance(
        "effective.tracking", 0.5,
        "max over output steps of the relative RMS distance between the loaded run's state and "
        "Psi_eff Pi_Phi w(t). A slot value +-1 flips sign only after an error of 1, so an RMS "
        "error below half of that keeps the decoded window on the right side. Measured: T2-T4 and "
        "staggered-4 nets 0.004-0.053 (they contract onto the embedding); T1 nets 0.30-0.33 and a "
        "linear T1 net 0.25 (modes with |lambda| ~ 1.003 are nearly neutral, so the per-step "
        "error of 0.004 accumulates over 200 steps while the signs stay right); failing and "
        "control nets 0.96-3.9, one-hot lookup nets 0.98-1.7.",
        DERIVED,
    ),
    Tolerance(
        "effective.trajectory", 0.9,
        "min over live slots of the correlation between the driven states decoded in the fitted "
        "basis and Pi_Phi w(t) over 50 output steps, the same bar as the linear trajectory check. "
        "Measured: passing nets 0.997-1.000, failing and control nets -0.13-0.87.",
    ),
    Tolerance(
        "linear.lru_spectrum", 0.05,
        "max distance in the complex plane between the matched eigenvalues of a trained LRU's "
        "minimal-order Ho-Kalman reduction and the task's exact minimal realisation; the same "
        "0.05 as spectrum.phase (a phase error of 0.05 rad is far below the 2 pi / s spacing of "
        "the roots of unity), and a modulus error of 0.05 already halves a unit-modulus mode in "
        "14 steps. Capped per task at half the smallest distance between distinct predicted "
        "eigenvalues (as spectrum.phase is), so a mode cannot pass matched to a neighbour. "
        "Measured on trained LRUs: repeat-copy-4 0.0042, T1 0.0063.",
    ),
    Tolerance(
        "no_bias", 0.0,
        "the theory linearises at h = 0, a fixed point only without bias: max |bias| must be 0.",
        DERIVED,
    ),
    Tolerance(
        "binding.interchange", 0.95,
        "min interchange-intervention accuracy: the sign accuracy of the net's own run after one "
        "variable's live-slot component is swapped in from another window, on the entries whose "
        "target sign the swap flips (chance 0.5, a net that ignores the swap 0); the same bar as "
        "generalisation, since a net that binds its variables does its task on the swapped "
        "window. Measured (32 pairs, seed 0): the circuit 1.000; every net of table1-quick and "
        "t1-seeds that holds the effective claim 1.000 (T2 seed 3, accuracy 0.94: 0.93); Elman "
        "nets of cells-quick on repeat-copy-4 and staggered-4 1.000, LSTM/GRU nets there "
        "0.83-1.00; T2 seed 1 (accuracy 0.74) 0.73, "
        "circuits on tasks their input phase cannot write 0.85-0.86, a T3 net judged on T4 0.47, "
        "untrained nets 0.50-0.57. Its rates on the zoo's test split are in docs/tolerances.md.",
    ),
    Tolerance(
        "binding.ablation", 3.0,
        "z of the chance band: with the live image A A^+ x projected out, the sign accuracy over "
        "the decided outputs must lie within z sqrt(1/4 / n_eff) of 0.5, the binomial spread of "
        "chance accuracy over n_eff independent decided outputs (decided: past readout.margin "
        "of the target at the net's own gain, the readout check's rule for an answer; scaled "
        "by the share of independent targets, rank K / (s d)); z = 3 is a two-sided "
        "false-positive rate of 0.27% for a net whose ablated outputs carry nothing.",
        DERIVED,
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

"""Long zero-input runs for descriptors that decide nothing, in float32 where that is faithful.

The regime and long-horizon descriptors (`verify.regime`) run a model for up to 1000 steps with
zero input; at N_h = 1024 each step reads the 1024 x 1024 ``W_hh``, and the run is sequential.
In float32 the matrix is half the bytes and a step takes about 0.5 ms instead of 0.7-0.8 ms
(8 sequences, one BLAS thread).  The descriptors report 3-4 significant digits; float32 keeps
7, so its rounding is harmless *where errors propagate linearly*: they then grow with the
states (measured over H = 1000 on the N_h = 1024 circuits and PyTorch-style initialisations of
repeat-copy-4, T1 and T2: states within 1.6e-5 of the float64 run, relative, and every
descriptor within 2.6e-6, benchmarks/RESULTS.md).  Where the step is nonlinear they need not:
a saturating tanh net that passes near the boundary between two attractors lands in the other
one after a float32 rounding (measured: fit_over_time -0.31 instead of -0.24; a one-ulp change
of W_hh in float64 moves it by 6e-4 and it comes back), so a nonlinear step never runs in
float32.

`zero_input_blocks` therefore runs an Elman net's chunk of `SINGLE_CHUNK` steps in float32 only
while its step is affine to float32's precision, and in float64 otherwise:

* the net's activation is the identity, or every state (hence every pre-activation, ``a =
  atanh h``) is within ``LINEAR_EDGE = 1e-5`` of 0, where ``tanh a = a (1 - a^2/3 + ...)``
  differs from ``a`` by at most 3.3e-11 relative: the chunk runs the net's *linear* copy (no
  tanh), which is the tanh net to that precision;
* a bias-free affine step is linear, ``x -> W x``, so the chunk runs on the state scaled by a
  power of two to unit size (exact in binary) and is scaled back: a fading net (a PyTorch-style
  initialisation loses about 25 decades per 100 steps) never reaches float32's subnormal
  numbers, which would lose its digits (and run ten times slower);
* every state in the chunk (scaled) keeps its largest entry within ``SINGLE_RANGE = (2^-100,
  2^100)``, 26 binary orders inside float32's normal range, so neither products nor sums
  overflow or underflow; and the caller's own test of the chunk holds (`verify.regime`'s sign
  test for exactly cancelling outputs).

A float32 chunk that fails any of these is run again in float64, and so is the rest of its
block (the caller's unit: 100 steps of the long horizon); the next block tries float32 again,
unless `SINGLE_FAILURES` chunks have failed (a failure that recurs is structural, such as an
output that always cancels: no more chunks are wasted on it).  A chunk whose start is outside
the affine region runs in float64 and the next one asks again.
An Elman net's float64 chunks use row-major copies of its matrices (15 % faster at N_h = 1024,
the same numbers to float64's rounding, `numerics.simulate.ElmanDynamics`); any other model (a
gated cell, the pre-activation view) runs in float64 throughout, exactly as
`numerics.dynamics.rollout_dynamics` would in one call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.numerics.simulate import ElmanDynamics
from emt.numerics.weights import RNNWeights

__all__ = ["zero_input_blocks", "SINGLE_RANGE", "SINGLE_CHUNK", "LINEAR_EDGE", "SINGLE_FAILURES"]

SINGLE_RANGE = (2.0**-100, 2.0**100)  # where a float32 state keeps its digits (docstring)
SINGLE_CHUNK = 10  # steps between the checks: a fading state loses < 3 decades in 10 steps
LINEAR_EDGE = 1e-5  # |a| below which tanh a = a to 3.3e-11 relative
SINGLE_FAILURES = 2  # failed float32 chunks after which a run stays in float64

Chunk = Callable[[np.ndarray, np.ndarray, int], bool]


def _largest(states: np.ndarray) -> np.ndarray:
    """Each state's largest entry in magnitude (``... x D -> ...``; NaN stays NaN)."""
    with np.errstate(all="ignore"):
        return np.max(np.abs(states), axis=-1)


def _in_range(states: np.ndarray) -> bool:
    top = _largest(states)
    return bool(np.all((top >= SINGLE_RANGE[0]) & (top <= SINGLE_RANGE[1])))


class _Single:
    """An Elman net's float32 linear copy, the largest state its step is affine to, whether
    that step is linear (bias-free, so a run may be scaled), and its float64 steps with
    row-major matrices (`numerics.simulate.ElmanDynamics`'s ``contiguous``: faster, and the
    same numbers to float64's rounding)."""

    def __init__(self, net: ElmanDynamics) -> None:
        w = net.weights
        self.net = ElmanDynamics(RNNWeights(w.W_uh, w.W_hh, w.W_hy, "linear", w.b_h, w.b_y),
                                 np.float32)
        self.double = ElmanDynamics(w, np.float64, contiguous=True)
        self.edge = np.inf if w.activation == "linear" else LINEAR_EDGE
        self.homogeneous = not w.has_bias

    def run(self, x: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """``(states, outputs, faithful)`` of ``steps`` zero-input steps from ``x`` (float64
        arrays; ``faithful``: whether float32 kept the digits and the step stayed affine)."""
        top = float(np.max(_largest(x))) if x.size else 0.0
        shift = -int(np.frexp(top)[1]) if self.homogeneous and 0 < top < np.inf else 0
        u = np.zeros((len(x), steps, self.net.d_in))
        with np.errstate(all="ignore"):
            states, y = rollout_dynamics(self.net, u, state_init=np.ldexp(x, shift),
                                         dtype=np.float32)
            faithful = _in_range(states)
            states = np.ldexp(states.astype(np.float64), -shift)
            y = np.ldexp(y.astype(np.float64), -shift)
        return states, y, faithful and bool(np.all(_largest(states) <= self.edge))

    def admits(self, x: np.ndarray) -> bool:
        """Whether a chunk from ``x`` may start in float32 (its step affine there)."""
        return bool(np.all(_largest(x) <= self.edge))


def zero_input_blocks(model: Dynamics, start: np.ndarray, sizes: Sequence[int],
                      trusted: Chunk | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The zero-input run of ``model`` from ``x(-1) = start`` (``B x D``) in consecutive blocks
    of ``sizes`` steps, each ``(states, outputs)`` in float64, computed in float32 where that
    is faithful (module docstring); ``trusted(states, outputs, first)``: the caller's own test
    of a float32 chunk whose first step is ``first``."""
    single = _Single(model) if isinstance(model, ElmanDynamics) else None
    x = np.asarray(start, dtype=np.float64)
    B, d = len(x), model.d_in
    step = failed = 0
    for end in np.cumsum(sizes):
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        tried = single if failed < SINGLE_FAILURES else None  # tried again in every block
        while step < end:
            n = int(end - step) if tried is None else min(SINGLE_CHUNK, int(end - step))
            run = None
            if tried is not None and tried.admits(x):
                states, y, faithful = tried.run(x, n)
                if faithful and (trusted is None or trusted(states, y, step)):
                    run = states, y
                else:  # this chunk again, and the rest of the block, in float64
                    tried, n, failed = None, int(end - step), failed + 1
            if run is None:
                with np.errstate(all="ignore"):  # an overflowing model is described
                    run = rollout_dynamics(model if single is None else single.double,
                                           np.zeros((B, n, d)), state_init=x)
            parts.append(run)
            x, step = run[0][:, -1], step + n
        yield (np.concatenate([p[0] for p in parts], axis=1),
               np.concatenate([p[1] for p in parts], axis=1))

"""Resource limits: every bound the suite puts on its input, with the reason for its value.

A tiny input can ask for an enormous computation: a 46-byte task file with ``s = 10**18``, an F
entry ``"1e999999999"`` (a billion-digit integer), a 3 MB ``.npz`` whose arrays inflate to
gigabytes, ``--horizon 1000000000``.  Each limit below is checked *before* the allocation or
computation it guards, and a refusal is a ``ValueError`` (exit status 2 on the command line)
that names the value, the limit and, where raising it is reasonable, how to raise it.

Every limit can be raised through an environment variable ``EMT_LIMIT_<NAME>`` (for example
``EMT_LIMIT_MAX_HIDDEN=8192``); that is the escape hatch for a bigger machine, not a default.
The values are chosen well above everything the paper and the registered tasks need (the
paper: s = d = 8, so 64 slots; N_h <= 128; H <= 200; 640 sweep jobs).

This module sits in the lowest layer (``emt.theory``) so that every layer can import it; it
imports nothing but the standard library.
"""

from __future__ import annotations

import os
import re

__all__ = [
    "MAX_SLOTS", "MAX_F_ENTRIES", "MAX_ENTRY_DIGITS", "MAX_ENTRY_TEXT", "MAX_ID_BITS",
    "MAX_HIDDEN", "MAX_HORIZON", "MAX_BATCH", "MAX_STEPS", "MAX_GROUP_MEMBERS",
    "MAX_ARRAY_ELEMENTS", "MAX_NPZ_MEMBERS", "MAX_NPZ_BYTES", "MAX_TEXT_FILE_BYTES",
    "MAX_TASK_FILE_BYTES", "MAX_NESTING", "MAX_SWEEP_JOBS", "MAX_WORKERS",
    "LIMITS", "limit", "check_at_most", "raise_hint", "env_int",
]

# -- tasks ---------------------------------------------------------------------------------------
# s*d, the size of the circuit's Phi.  The closed-form characteristic polynomial and spectrum
# take about 1-2 s at s = d = 32 (1024 slots, benchmarks/RESULTS.md); the registered tasks use
# at most 64.  Beyond this the symbolic work (and the N_h >= s*d networks) grow without bound:
# `emt tasks --ids 100000 1 1 0 0` would ask for a 100,000 x 100,000 Phi.
MAX_SLOTS = 1024
# (s*d)*d exact entries of F are parsed and stored as sympy rationals (~1 us .. 10 us each);
# 65,536 covers s = d = 32 with room to spare and keeps parsing well under a second.
MAX_F_ENTRIES = 65_536
# Decimal digits of an F entry's numerator and of its denominator.  Exact arithmetic on F is
# polynomial in the digit count, but an entry like "1e999999999" is a billion digits (it hangs
# the parser); 40 digits hold every float64 exactly as a decimal and any sensible fraction.
MAX_ENTRY_DIGITS = 40
# Characters of one F entry given as text (a fraction or decimal string), checked before the
# text is parsed, so the exponent of "1e999999999" is never expanded.
MAX_ENTRY_TEXT = 100
# Bits of an id of the authors' encoding.  id1 needs at most MAX_SLOTS bits; id2 is a base-d
# number of d digits (d * log2(d) <= 10,240 bits at d = 1024) and id3 needs d bits.
MAX_ID_BITS = 16_384

# -- networks and runs ---------------------------------------------------------------------------
# Hidden size N_h.  Verification is O(N_h^3) (eigendecomposition, pseudo-inverses): 6 s at
# N_h = 1024, so about 6 min at 4096 on the same core; one float64 W_hh is then 128 MiB.
MAX_HIDDEN = 4096
# Output-phase length H (verify --horizon, curriculum, test horizon).  Memory is linear in H
# (batch 64 x H x N_h states when a rollout keeps them); the paper tests at H = 200, and 10,000
# is 50 times that.
MAX_HORIZON = 10_000
# Sequences per training batch (the paper: 64).  Memory is batch x H x N_h per step.
MAX_BATCH = 4096
# Training steps of one run.  The run's history grows with steps / history_every; the paper
# trains 20,000 steps; 10,000,000 is 500 times that (days of CPU time at the measured speed).
MAX_STEPS = 10_000_000
# Networks trained as one group (`emt train --seeds ...`).  Every member holds its weights, Adam
# moments and batch x H x N_h states in the one compiled step (about 3.3 MB of float32 states
# per member at the paper's batch 64, H = 100, N_h = 128) and writes its own run directory of
# four files; throughput per core levels off at about 16 members (the sweep's groups), so 256
# is 16 times that, about 1 GB of states at the paper's sizes.  Counted from the command line
# before any member is validated or any directory made: `--seeds 1 .. 20000` wrote 82,834
# paths and took 3 GB before it was killed.
MAX_GROUP_MEMBERS = 256

# -- files ---------------------------------------------------------------------------------------
# Elements of one array in a weights or checkpoint file: a MAX_HIDDEN x MAX_HIDDEN W_hh.
MAX_ARRAY_ELEMENTS = MAX_HIDDEN * MAX_HIDDEN
# Arrays in one .npz (ours hold at most ~15: weights, biases, Adam moments, meta).
MAX_NPZ_MEMBERS = 64
# Uncompressed bytes of all arrays of one .npz, read from the zip directory and the .npy
# headers before anything is decompressed: a compressed archive can inflate 1000-fold.
# Four float64 MAX_HIDDEN^2 matrices (weights plus Adam's two moments, and a margin).
MAX_NPZ_BYTES = 4 * MAX_ARRAY_ELEMENTS * 8
# Bytes of a text input (task file, sweep config, model.json, record.json).  The largest
# legitimate one is a task file at MAX_F_ENTRIES entries (~2 MB as fraction strings) or a
# model.json with a long history (~100 bytes per record).
MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024
# Bytes of a task file, checked before it is parsed.  The largest task within the limits holds
# MAX_F_ENTRIES entries of at most MAX_ENTRY_TEXT characters, plus quotes and separators: about
# 7 MB.  Parsing keeps ~25 times the text as Python objects (a 50 MB file took 1.15 GB and 44 s
# before `s` could be checked), so the bound is the largest legitimate file, not the generic
# MAX_TEXT_FILE_BYTES.
MAX_TASK_FILE_BYTES = MAX_F_ENTRIES * (MAX_ENTRY_TEXT + 4) + 64 * 1024
# Nesting depth of JSON/TOML containers.  Our formats nest at most 5 deep; Python's parsers
# recurse once per level and crash (RecursionError) near 1000.
MAX_NESTING = 64

# -- sweeps --------------------------------------------------------------------------------------
# Jobs in one sweep, counted from the grid before any job is expanded or validated.  The
# paper's grid is 640 jobs; validating a job costs ~1 ms, and each is minutes of training.
MAX_SWEEP_JOBS = 10_000

# Worker processes of a LocalCluster started by `emt sweep --workers N` on this machine (each
# holds its own TensorFlow, a few hundred MB): far beyond any single machine's useful count.
MAX_WORKERS = 256

# An environment value read as an integer: ASCII digits, an optional minus, at most 4300 digits
# (Python's own cap on int() of a string).
_PLAIN_INT = re.compile(r"-?[0-9]{1,4300}")

LIMITS: dict[str, int] = {
    name: globals()[name] for name in __all__ if name.startswith("MAX_")
}


def limit(name: str) -> int:
    """The value of limit ``name`` (e.g. ``"MAX_HIDDEN"``): ``EMT_LIMIT_<NAME>`` from the
    environment if set (a positive integer), else the default above."""
    if name not in LIMITS:
        raise KeyError(f"unknown limit {name!r}")
    return env_int(f"EMT_LIMIT_{name}", LIMITS[name], minimum=1)


def env_int(variable: str, default: int, minimum: int) -> int:
    """The integer environment variable ``variable`` (``default`` when unset); ValueError naming
    it when it is not a plain decimal integer or is below ``minimum``.

    Only ASCII digits with an optional leading minus are accepted: Python's ``int()`` would also
    read ``" 2_0 "`` as 20 and non-ASCII digits, so a typo would silently set a limit."""
    raw = os.environ.get(variable)
    if raw is None:
        return default
    if not _PLAIN_INT.fullmatch(raw):
        raise ValueError(f"{variable} must be a plain decimal integer >= {minimum}; got {raw!r}")
    value = int(raw)
    if value < minimum:
        raise ValueError(f"{variable} must be an integer >= {minimum}; got {value}")
    return value


def raise_hint(name: str) -> str:
    """The sentence every refusal ends with: how to raise limit ``name``."""
    return f"raise it with EMT_LIMIT_{name}=N if you mean it"


def check_at_most(what: str, value: int, name: str) -> int:
    """Return ``value`` if it is at most limit ``name``; else ``ValueError`` naming ``what``,
    the value, the limit and how to raise it."""
    cap = limit(name)
    if value > cap:
        raise ValueError(f"{what} = {value} is above the limit {cap} ({name}; "
                         f"{raise_hint(name)})")
    return value


# -- documentation -------------------------------------------------------------------------------
# What each limit bounds, in one line: the table of docs/cli.md is rendered from this and the
# values above (`limits_table`), and a test holds the committed table equal to the rendering.
LIMIT_BOUNDS: dict[str, str] = {
    "MAX_SLOTS": "s·d, the size of Phi (and s, d alone)",
    "MAX_F_ENTRIES": "s·d·d entries of F",
    "MAX_ENTRY_DIGITS": "digits of an F entry's numerator and of its denominator",
    "MAX_ENTRY_TEXT": "characters of an F entry's text, checked before parsing "
                      "(`\"1e999999999\"` is refused unparsed)",
    "MAX_ID_BITS": "bits of each id of the authors' encoding",
    "MAX_HIDDEN": "N_h (`--hidden`; a weights file's W_hh through `MAX_ARRAY_ELEMENTS`; a "
                  "`.keras` file's `units` and input width, from its config.json)",
    "MAX_HORIZON": "`--horizon`, curriculum and test horizons",
    "MAX_BATCH": "sequences per training batch",
    "MAX_STEPS": "training steps of one run",
    "MAX_GROUP_MEMBERS": "networks trained as one group (`--seeds`), counted before any member "
                         "is validated or any directory made",
    "MAX_ARRAY_ELEMENTS": "elements of one array of an `.npz`, read from its `.npy` header",
    "MAX_NPZ_MEMBERS": "arrays per `.npz`",
    "MAX_NPZ_BYTES": "uncompressed bytes of all arrays of an `.npz`, read from the `.npy` "
                     "headers before decompressing",
    "MAX_TEXT_FILE_BYTES": "bytes of a task file, sweep config, `model.json` or `record.json`",
    "MAX_TASK_FILE_BYTES": "bytes of a task file, checked before it is parsed (the largest task "
                           "within `MAX_F_ENTRIES` and `MAX_ENTRY_TEXT`)",
    "MAX_NESTING": "depth of `[`/`{` nesting in JSON and TOML",
    "MAX_SWEEP_JOBS": "jobs of a sweep, counted from the grid before any is built",
    "MAX_WORKERS": "`emt sweep --workers`",
}


def _shown(name: str, value: int) -> str:
    """A default as the table shows it: thousands separated, byte counts also in MiB."""
    if name.endswith("_BYTES") and value % 2**20 == 0:
        return f"{value:,} ({value // 2**20} MiB)"
    return f"{value:,}"


def limits_table() -> str:
    """The Markdown table of every limit: name, default, the variable that raises it, and what
    it bounds (the defaults, not the environment's overrides)."""
    rows = ["| limit | default | raise with | bounds |", "|---|---|---|---|"]
    rows += [f"| `{name}` | {_shown(name, value)} | `EMT_LIMIT_{name}` | {LIMIT_BOUNDS[name]} |"
             for name, value in LIMITS.items()]
    return "\n".join(rows) + "\n"

"""Fuzz: random checkpoint metadata through `emt train --resume RUN --steps 6` (exit 0 or 2,
never 3 or a traceback; one line and nothing written on 2; bounded time and memory)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_harness import check_contract
from hypothesis import event, given
from hypothesis import strategies as st

from emt.cli import main
from emt.numerics import rundir

pytestmark = pytest.mark.fuzz

FIELDS = ["step", "stage", "rng", "history", "advances", "wall_time_s", "extra"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 8),
                    st.sampled_from([10**30, -(10**400), 2**63]),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["step", "loss", "accuracy", "H", "to_H",
                                                       "bit_generator", "state", "int", "x"]),
                                      inner, max_size=4), max_leaves=12)
HISTORY_ENTRY = st.fixed_dictionaries({"step": st.integers(-1, 6), "loss": SCALARS,
                                       "accuracy": st.floats(-0.5, 1.5), "H": st.integers(-1, 12)})


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A finished 4-step run (N_h 8) whose checkpoint the examples rewrite."""
    run = tmp_path_factory.mktemp("pristine") / "run"
    assert main(["train", "--task", "repeat-copy-3", "--hidden", "8", "--steps", "4",
                 "--checkpoint-every", "2", "--quiet", "--out", str(run)]) == 0
    return run


@st.composite
def changes(draw) -> dict:
    """Fields to set (a value of any JSON shape, or a nearly valid history) or drop (None)."""
    out = {}
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        kind = draw(st.sampled_from(["json", "drop", "history"]))
        out[name] = (draw(JSON) if kind == "json" else None if kind == "drop"
                     else draw(st.lists(HISTORY_ENTRY, max_size=3)))
    return out


@given(changes())
def test_random_checkpoint_metadata(pristine, change) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = work / "run"
        shutil.copytree(pristine, run)
        with np.load(run / rundir.CHECKPOINT, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(str(arrays.pop("meta")))
        for name, value in change.items():
            if value is None:
                meta.pop(name, None)
            else:
                meta[name] = value
        np.savez(run / rundir.CHECKPOINT, meta=np.array(json.dumps(meta)), **arrays)
        code = check_contract(["train", "--resume", str(run), "--steps", "6", "--quiet"],
                              work, allowed=(0, 2))
        event(f"exit {code}")  # both outcomes occur (--hypothesis-show-statistics)

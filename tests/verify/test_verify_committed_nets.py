"""The committed quick-profile nets, verified by the current code (not read from their reports):
T1 holds both claims, T3 and T4 hold the effective claim and fail the linear one (their modes sit
above unit modulus), T2 seed 1 (accuracy 0.742, never learned) fails both; and a PyTorch-named
copy of a net is judged exactly like its run directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emt.verify.entry import verify_subject

RUNS = Path(__file__).resolve().parents[2] / "results" / "table1-quick" / "runs"
NETS = {  # run key -> (task, training seed)
    "b402cf16b451302c": ("T1", 1),
    "52e2cc53669b053c": ("T2", 1),
    "b1da9f5845c6badd": ("T3", 1),
    "5530261dc296d717": ("T4", 1),
}
EXPECTED = {"T1": (True, True), "T2": (False, False), "T3": (True, False), "T4": (True, False)}

pytestmark = pytest.mark.skipif(not RUNS.is_dir(), reason="no committed runs")


@pytest.mark.parametrize("key", NETS, ids=lambda k: f"{NETS[k][0]}-seed{NETS[k][1]}")
def test_committed_net_verdicts(key: str) -> None:
    task, _seed = NETS[key]
    report = verify_subject(RUNS / key / "run", horizon=200)
    verdicts = report.verdicts
    assert (verdicts["effective"].holds, verdicts["linear"].holds) == EXPECTED[task], \
        report.to_markdown()
    if task in ("T3", "T4"):
        # the linear claim fails on unit gain: matched modes above 1, mean tanh gain below 1
        assert "spectrum.modulus" in verdicts["linear"].failed
        assert report.descriptors["matched_modulus_min"] > 1.05
        assert report.descriptors["mean_gain"] < 0.95


def test_pytorch_names_are_judged_like_the_run_directory(tmp_path: Path) -> None:
    from emt.numerics.rundir import load_run

    run = RUNS / "b1da9f5845c6badd" / "run"
    w, task, _ = load_run(run)
    torch = tmp_path / "t3_state_dict.npz"
    np.savez(torch, weight_ih_l0=w.W_uh, weight_hh_l0=w.W_hh, **{"readout.weight": w.W_hy},
             activation=np.array(w.activation))
    a, b = verify_subject(run), verify_subject(torch, task)
    assert [c.value for c in a.checks] == [c.value for c in b.checks]
    assert {k: v.holds for k, v in a.verdicts.items()} == \
        {k: v.holds for k, v in b.verdicts.items()}
    assert a.descriptors == b.descriptors

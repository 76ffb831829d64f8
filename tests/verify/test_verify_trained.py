"""A real trained net: a small tanh repeat-copy RNN must pass with the default tolerances (and
fail against another task).  About a minute of training on 2 cores."""

from __future__ import annotations

from pathlib import Path

import pytest

from emt.cli import main
from emt.theory.registry import get, repeat_copy
from emt.verify.entry import assert_emt, verify_subject
from emt.verify.judge import verify_weights

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from emt.numerics.config import TrainConfig
    from emt.numerics.train import train

    out = tmp_path_factory.mktemp("trained") / "rc3"
    # 2000 fixed steps: the curriculum's stop rule fires before the net generalises to H = 200
    result = train(TrainConfig(task=get("repeat-copy-3"), hidden=32, steps=2000, seed=1),
                   out_dir=out, progress=False)
    assert result.metrics["test_accuracy"] > 0.99
    return out


def test_trained_repeat_copy_passes(run_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture) -> None:
    assert main(["verify", str(run_dir), "--format", "html", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "rc3.report.html").exists() and (tmp_path / "rc3.phi_hat.png").exists()
    capsys.readouterr()
    report = assert_emt(run_dir, "repeat-copy-3", claim="both")  # repeat copy: both claims
    assert report.check("spectrum.count").value == 0
    assert report.check("spectrum.phase").value < 0.05
    assert report.check("generalisation").value > 0.99
    assert report.metrics["spectrum"]["paper_metric"] is not None


def test_trained_net_fails_against_another_task(run_dir: Path) -> None:
    report = verify_subject(run_dir, repeat_copy(2, 3), claim="both")
    assert not report.verdicts["effective"].holds and not report.verdicts["linear"].holds
    failed = {c.name for c in report.failed}
    assert {"spectrum.count", "generalisation", "loaded_state"} <= failed
    with pytest.raises(AssertionError, match="FAIL"):
        assert_emt(run_dir, repeat_copy(2, 3))


def test_trained_net_with_noise_beyond_tolerance_fails(run_dir: Path) -> None:
    import numpy as np

    from emt.numerics.rundir import load_run
    from emt.numerics.weights import RNNWeights

    w, task, _ = load_run(run_dir)
    rng = np.random.default_rng(0)
    noisy = RNNWeights(w.W_uh, w.W_hh + 0.3 * rng.standard_normal(w.W_hh.shape) /
                       np.sqrt(w.n_hidden), w.W_hy, activation=w.activation)
    report = verify_weights(noisy, task)
    assert not report.verdicts["effective"].holds and not report.verdicts["linear"].holds

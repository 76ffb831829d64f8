"""Subjects in every accepted naming convention, `emt verify` exit codes and outputs, bad input
(exit 2, nothing written), and that verifying an .npz never imports TensorFlow."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emt.cli import main
from emt.numerics.model import init_weights
from emt.numerics.weights import RNNWeights
from emt.theory.circuit import Circuit, random_psi
from emt.theory.registry import get
from emt.verify.subject import load_npz_weights, load_subject

TASK = "repeat-copy-3"


@pytest.fixture(scope="module")
def circuit() -> RNNWeights:
    task = get(TASK)
    # Orthonormal Psi (condition number 1): the noise the tolerance test adds to W_hh then
    # reaches the recovered basis unamplified.
    c = Circuit(task, np.linalg.qr(random_psi(task, 12, 0))[0])
    return RNNWeights(c.w_uh, c.w_hh, c.w_hy, activation="linear")


def save(path: Path, **arrays: object) -> Path:
    np.savez(path, **arrays)
    return path


def test_keras_names_are_transposed_pytorch_names_are_not(tmp_path: Path) -> None:
    # hand-built 2x2 pin of the conventions (kernel = W_uh^T, recurrent_kernel = W_hh^T)
    W_uh = np.array([[1.0, 2.0], [3.0, 4.0]])
    W_hh = np.array([[0.0, 1.0], [0.5, 0.0]])
    W_hy = np.array([[5.0, 6.0], [7.0, 8.0]])
    tmp = tmp_path
    keras = save(tmp / "k.npz", kernel=W_uh.T, recurrent_kernel=W_hh.T, dense_kernel=W_hy.T,
                 bias=np.zeros(2), dense_bias=np.zeros(2))
    torch = save(tmp / "t.npz", weight_ih_l0=W_uh, weight_hh_l0=W_hh,
                 **{"readout.weight": W_hy, "bias_ih_l0": np.ones(2), "bias_hh_l0": np.ones(2)})
    wk, ck = load_npz_weights(keras)
    wt, ct = load_npz_weights(torch)
    assert (ck, ct) == ("keras", "pytorch")
    for w in (wk, wt):
        assert np.array_equal(w.W_uh, W_uh) and np.array_equal(w.W_hh, W_hh)
        assert np.array_equal(w.W_hy, W_hy)
    assert np.array_equal(wt.b_h, [2.0, 2.0]) and not wk.has_bias


def test_every_convention_verifies_the_same(tmp_path: Path, circuit: RNNWeights,
                                            capsys: pytest.CaptureFixture) -> None:
    w = circuit
    paths = [
        save(tmp_path / "ours.npz", W_uh=w.W_uh, W_hh=w.W_hh, W_hy=w.W_hy,
             activation=np.array("linear")),
        save(tmp_path / "torch.npz", weight_ih_l0=w.W_uh, weight_hh_l0=w.W_hh,
             activation=np.array("linear"), **{"readout.weight": w.W_hy}),
        save(tmp_path / "keras.npz", kernel=w.W_uh.T, recurrent_kernel=w.W_hh.T,
             dense_kernel=w.W_hy.T, activation=np.array("linear")),
    ]
    out = tmp_path / "out"
    code = main(["verify", *map(str, paths), "--task", TASK, "--format", "json",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().out
    docs = [json.loads((out / f"{p.stem}.report.json").read_text()) for p in paths]
    assert {d["schema"] for d in docs} == {"emt.report/3"}
    values = [[c["value"] for c in d["checks"]] for d in docs]
    assert values[0] == values[1] == values[2]
    # PyTorch and Keras names are judged exactly as our own: every claim, same verdicts
    assert [{c: v["holds"] for c, v in d["claims"].items()} for d in docs] == \
        [{"effective": True, "linear": True, "binding": True}] * 3
    assert docs[0]["descriptors"] == docs[1]["descriptors"] == docs[2]["descriptors"]
    assert {d["metadata"]["convention"] for d in docs} == {"ours", "pytorch", "keras"}
    assert (out / "ours.eigenvalues.png").stat().st_size > 1000
    m = docs[0]["metrics"]
    assert m["spectrum"]["count_mismatch"] == 0 and m["accuracy_h200"] == 1.0


def test_exit_one_on_failure_and_html_is_self_contained(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    p = tmp_path / "untrained.npz"
    init_weights(16, 3, seed=0).save_npz(p)
    assert main(["verify", str(p), "--task", TASK, "--format", "html", "--out",
                 str(tmp_path / "o")]) == 1
    page = (tmp_path / "o" / "untrained.report.html").read_text()
    assert "data:image/png;base64," in page and "FAIL" in page and "<script" not in page
    assert "spectrum.count" in capsys.readouterr().out
    # json to stdout, no NaN, skipped checks carry null values
    assert main(["verify", str(p), "--task", TASK, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert any(c["status"] == "skip" and c["value"] is None for c in doc["checks"])
    assert doc["metrics"]["spectrum"]["paper_metric"] is None  # counts differ: the paper's ---


def test_tolerance_override_changes_the_verdict(tmp_path: Path, circuit: RNNWeights,
                                                capsys: pytest.CaptureFixture) -> None:
    noisy = RNNWeights(circuit.W_uh, circuit.W_hh + 1e-3, circuit.W_hy, activation="linear")
    p = noisy.save_npz(tmp_path / "noisy.npz")
    assert main(["verify", str(p), "--task", TASK]) == 0
    assert main(["verify", str(p), "--task", TASK, "--claim", "linear",
                 "--tol", "spectrum.modulus=1e-9"]) == 1
    # the linear tolerance does not touch the effective claim, which decides by default
    assert main(["verify", str(p), "--task", TASK, "--tol", "spectrum.modulus=1e-9"]) == 0
    assert main(["verify", str(p), "--task", TASK, "--claim", "both",
                 "--tol", "spectrum.modulus=1e-9"]) == 1
    assert main(["verify", str(p), "--task", TASK, "--claim", "both",
                 "--tol", "effective.rank_gap=1e30"]) == 1
    capsys.readouterr()


def _bad_files(tmp: Path, w: RNNWeights) -> dict[str, tuple[list[str], str]]:
    nan = w.W_hh.copy()
    nan[0, 0] = np.nan
    good = w.save_npz(tmp / "good.npz")
    truncated = tmp / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    pickled = tmp / "pickled.npz"
    pickled.write_bytes(pickle.dumps({"W_uh": w.W_uh}))
    objects = tmp / "objects.npz"
    np.savez(objects, W_uh=np.array([w.W_uh, None], dtype=object), W_hh=w.W_hh, W_hy=w.W_hy)
    cases = {
        "nan": (save(tmp / "nan.npz", W_uh=w.W_uh, W_hh=nan, W_hy=w.W_hy), "NaN"),
        "shape": (save(tmp / "shape.npz", W_uh=w.W_uh[:-1], W_hh=w.W_hh, W_hy=w.W_hy), "W_uh"),
        "missing": (save(tmp / "missing.npz", W_uh=w.W_uh, W_hh=w.W_hh), "missing matrix W_hy"),
        "truncated": (truncated, "truncated"),
        "pickled": (pickled, "pickle"),
        "objects": (objects, "pickle"),
        "no names": (save(tmp / "none.npz", a=w.W_uh), "no weight matrices"),
    }
    out = {k: ([str(p), "--task", TASK], msg) for k, (p, msg) in cases.items()}
    out["unknown task"] = ([str(good), "--task", "no-such-task"], "unknown task")
    out["malformed tol"] = ([str(good), "--task", TASK, "--tol", "phi_hat"], "malformed --tol")
    out["unknown tol"] = ([str(good), "--task", TASK, "--tol", "nope=1"], "unknown tolerance")
    out["wrong d"] = ([str(good), "--task", "repeat-copy-4"], "d = 4")
    out["no task"] = ([str(good)], "no task")
    out["missing file"] = ([str(tmp / "absent.npz"), "--task", TASK], "no such file")
    return out


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, circuit: RNNWeights,
                                              capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for case, (argv, message) in _bad_files(src, circuit).items():
        out = tmp_path / "out"
        code = main(["verify", *argv, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2, case
        assert message.lower() in err.lower(), (case, err)
        assert not out.exists(), case
        # one bad subject among good ones still writes nothing
        code = main(["verify", str(src / "good.npz"), *argv, "--out", str(out)])
        capsys.readouterr()
        assert code == 2 and not out.exists(), case


def test_html_needs_out(tmp_path: Path, circuit: RNNWeights,
                        capsys: pytest.CaptureFixture) -> None:
    p = circuit.save_npz(tmp_path / "w.npz")
    assert main(["verify", str(p), "--task", TASK, "--format", "html"]) == 2
    assert "--out" in capsys.readouterr().err


def test_load_subject_checks_d_against_the_task(circuit: RNNWeights, tmp_path: Path) -> None:
    p = circuit.save_npz(tmp_path / "w.npz")
    assert load_subject(p, get(TASK)).weights.d_in == 3
    with pytest.raises(ValueError, match="d = 4"):
        load_subject(p, get("repeat-copy-4"))
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(ValueError, match="unknown subject type"):
        load_subject(tmp_path / "w.txt")


def test_verifying_an_npz_does_not_import_tensorflow(tmp_path: Path,
                                                     circuit: RNNWeights) -> None:
    p = circuit.save_npz(tmp_path / "w.npz")
    code = (
        "import sys\n"
        "from emt.cli import main\n"
        f"rc = main(['verify', {str(p)!r}, '--task', {TASK!r}, '--format', 'json', "
        f"'--out', {str(tmp_path / 'o')!r}])\n"
        "assert rc == 0, rc\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr + res.stdout


def test_list_tolerances_and_missing_subject(capsys: pytest.CaptureFixture) -> None:
    assert main(["verify", "--list-tolerances"]) == 0
    out = capsys.readouterr().out
    assert "spectrum.phase = 0.05" in out and "phi_hat" in out
    assert main(["verify", "--task", TASK]) == 2
    assert "SUBJECT" in capsys.readouterr().err


@pytest.mark.train
def test_demo_end_to_end_small(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`emt demo` wiring with a tiny budget: the constructed circuit passes, the barely
    trained net is reported failing (exit 1), and the report and figures are written."""
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--steps", "30", "--hidden", "16", "--quiet"])
    text = capsys.readouterr().out
    assert code == 1
    assert ("constructed circuit vs repeat-copy-4 (input grounding, N_h = 16, linear, claim "
            "effective): PASS") in text
    assert "Effective circuit: HOLDS" in text and "Linear circuit" in text
    assert "(lambda - 1)**4" in text
    for name in ("trained.report.html", "trained.report.json", "trained.eigenvalues.png",
                 "trained.phi_hat.png", "trained.trajectory.png", "constructed.report.md"):
        assert (out / name).stat().st_size > 0, name

"""LSTM, GRU and LRU subjects: every file format loads to the same weights (and the Keras cells
compute what our Dynamics compute), both claims run, a constructed LRU circuit passes, wrong-task,
unsolvable-task and untrained cells fail, and bad input is one line with exit status 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from emt.cli import main
from emt.numerics.cell_models import (
    CellWeights,
    cell_dynamics,
    cell_weights_from_params,
    init_cell_params,
)
from emt.numerics.dynamics import rollout_dynamics
from emt.theory.circuit import Circuit
from emt.theory.registry import get
from emt.verify.cell_subject import verify_cell
from emt.verify.subject import load_subject

H = 40  # a short horizon keeps these checks fast; the verdicts below do not depend on it


def lru_circuit(task_name: str) -> CellWeights:
    """The binding circuit (Psi = I) diagonalised: Phi = Z T Z^*, T diagonal for the normal
    (permutation) Phi of a signed-copy task; lam = diag T, B = Z^* W_uh, C = W_hy Z."""
    c = Circuit(get(task_name), np.eye(get(task_name).n_slots))
    T, Z = scipy.linalg.schur(c.w_hh.astype(complex), output="complex")
    assert np.allclose(T, np.diag(np.diag(T)), atol=1e-10)
    B, C = Z.conj().T @ c.w_uh, c.w_hy @ Z
    return CellWeights("lru", {"lam_re": np.diag(T).real, "lam_im": np.diag(T).imag,
                               "B_re": B.real, "B_im": B.imag, "C_re": C.real, "C_im": C.imag})


def effective_passed(report) -> bool:
    from emt.verify.effective import EFFECTIVE_CHECKS

    return all(report.check(n).passed for n in EFFECTIVE_CHECKS)


def test_constructed_lru_passes_and_fails_where_the_theory_says() -> None:
    lru = lru_circuit("repeat-copy-4")
    good = verify_cell(lru, get("repeat-copy-4"), horizon=H)
    assert good.passed, good.table()
    assert good.check("linear.lru_spectrum").value < 1e-8
    assert good.metrics["embedding_r2"] > 0.999
    wrong = verify_cell(lru, get("reverse-copy-4"), horizon=H)  # wrong task: fails
    assert not effective_passed(wrong) and not wrong.check("generalisation").passed
    assert wrong.check("linear.lru_spectrum").passed is False
    # staggered-4 is not linearly solvable: the theorem check fails, the spectrum is skipped
    unsolvable = verify_cell(lru, get("staggered-4"), horizon=H)
    assert unsolvable.check("linear.solvable").passed is False
    assert unsolvable.check("linear.lru_spectrum").passed is None
    assert not effective_passed(unsolvable)


def test_lru_mode_distance_weighs_each_modes_distance_by_its_state_power() -> None:
    lru = lru_circuit("repeat-copy-4")
    on = verify_cell(lru, get("repeat-copy-4"), horizon=H).metrics["descriptors"]
    assert on["lru_mode_distance"] < 1e-12  # every mode on its eigenvalue
    # every other mode moved 0.1 off its eigenvalue (a 4th root of unity; the next one is 1.4
    # away): the distance is 0.1 times the moved modes' share of the state power, here
    # simulated (random +-1 windows, power per mode over the 2 s fitted steps)
    arrays = dict(lru.arrays)
    lam = arrays["lam_re"] + 1j * arrays["lam_im"]
    moved_modes = np.arange(lam.size) % 2 == 0
    moved = lam * np.where(moved_modes, 0.9, 1.0)
    arrays["lam_re"], arrays["lam_im"] = moved.real, moved.imag
    report = verify_cell(CellWeights("lru", arrays), get("repeat-copy-4"), horizon=H)
    B = arrays["B_re"] + 1j * arrays["B_im"]
    rng = np.random.default_rng(0)
    h = np.zeros((20000, moved.size), complex)
    for u in rng.choice([-1.0, 1.0], size=(4, 20000, 4)):
        h = moved * h + u @ B.T
    power = sum(np.mean(np.abs(h * moved ** t) ** 2, axis=0) for t in range(1, 9))
    share = power[moved_modes].sum() / power.sum()
    assert 0.1 < share < 0.5  # |0.9 lambda| < 1: the moved modes hold less than half
    assert report.metrics["descriptors"]["lru_mode_distance"] == pytest.approx(0.1 * share,
                                                                              abs=0.001)
    assert not effective_passed(report)
    from emt.verify.lru_checks import lru_mode_descriptors

    silent = lru_mode_descriptors(lam, np.zeros_like(B), lam, 4)  # B = 0: the state is empty
    assert np.isnan(silent["lru_mode_distance"])


@pytest.mark.parametrize(("lam", "b_scale", "why"), [
    (0.5, 0.0, "Hankel rank below 16"),  # B = 0: no impulse response at all
    (1e30, 1.0, "overflows"),  # an exploding LRU
])
def test_an_lru_without_a_realisation_fails_the_spectrum_check_not_the_run(
        lam: float, b_scale: float, why: str) -> None:
    """A valid LRU whose impulse response has no order-n reduction is a model that fails
    (exit 1), not bad input (exit 2) and not a traceback."""
    rng = np.random.default_rng(0)
    arrays = {"lam_re": np.full(16, lam), "lam_im": np.zeros(16),
              "B_re": b_scale * rng.standard_normal((16, 4)), "B_im": np.zeros((16, 4)),
              "C_re": rng.standard_normal((4, 16)), "C_im": np.zeros((4, 16))}
    report = verify_cell(CellWeights("lru", arrays), get("repeat-copy-4"), horizon=H)
    check = report.check("linear.lru_spectrum")
    assert check.passed is False and why in check.detail
    assert not report.passed and report.exit_code == 1


@pytest.mark.parametrize("cell", ["lstm", "gru", "lru"])
def test_untrained_cells_fail_the_effective_claim(cell: str) -> None:
    w = cell_weights_from_params(cell, init_cell_params(cell, 32, 4, seed=3))
    report = verify_cell(w, get("repeat-copy-4"), horizon=H)
    assert not effective_passed(report), report.table()
    assert report.check("effective.embedding").value < 0.95
    assert not report.passed
    names = [c.name for c in report.checks]
    if cell == "lru":
        assert "linear.lru_spectrum" in names
    else:  # the linear claim on the derived linearisation
        assert "linear.spectrum.count" in names and "linear.markov" in names


def _keras_model(w: CellWeights, bias: bool = False, reset_after: bool = True):
    import keras

    n, d = w.n_hidden, w.d_in
    layer_cls = keras.layers.LSTM if w.cell == "lstm" else keras.layers.GRU
    kwargs = {} if w.cell == "lstm" else {"reset_after": reset_after}
    rec = layer_cls(n, use_bias=bias, return_sequences=True, **kwargs)
    model = keras.Sequential([keras.Input((None, d)), rec,
                              keras.layers.Dense(w.d_out, use_bias=False)])
    order = (0, 1, 2, 3) if w.cell == "lstm" else (1, 0, 2)  # Keras GRU gates z, r, h
    a = w.arrays

    def keras_blocks(M: np.ndarray) -> np.ndarray:
        return np.concatenate([M[k * n:(k + 1) * n] for k in order]).T

    weights = [keras_blocks(a["W_ih"]), keras_blocks(a["W_hh"])]
    if bias:
        shape = rec.get_weights()[2].shape
        weights.append(np.full(shape, 0.1))
    rec.set_weights(weights)
    model.layers[-1].set_weights([a["W_hy"].T])
    return model


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_keras_cells_compute_our_dynamics_and_load_back(cell: str, tmp_path: Path) -> None:
    w = cell_weights_from_params(cell, init_cell_params(cell, 6, 2, seed=5))
    model = _keras_model(w)
    u = np.random.default_rng(1).standard_normal((3, 7, 2)).astype(np.float32)
    y_keras = np.asarray(model(u))
    _, y_ours = rollout_dynamics(cell_dynamics(w), u)
    np.testing.assert_allclose(y_ours, y_keras, atol=1e-5)  # gate order and equations agree
    path = tmp_path / f"{cell}.keras"
    model.save(path)
    loaded = load_subject(path).weights
    assert isinstance(loaded, CellWeights) and loaded.cell == cell
    for k in w.arrays:
        np.testing.assert_allclose(loaded.arrays[k], w.arrays[k], atol=1e-7)


def test_keras_biases_are_reported_and_other_checks_still_run(tmp_path: Path) -> None:
    w = cell_weights_from_params("gru", init_cell_params("gru", 8, 4, seed=5))
    path = tmp_path / "gru_bias.keras"
    _keras_model(w, bias=True).save(path)
    subj = load_subject(path, get("repeat-copy-4"))
    assert subj.weights.has_bias
    report = verify_cell(subj.weights, subj.task, horizon=H)
    assert report.check("no_bias").passed is False
    assert report.check("effective.embedding").value is not None


def test_all_formats_give_the_same_verdicts(tmp_path: Path) -> None:
    task = get("repeat-copy-4")
    for cell in ("lstm", "gru"):
        w = cell_weights_from_params(cell, init_cell_params(cell, 16, 4, seed=2))
        a = w.arrays
        n = w.n_hidden
        ours = w.save_npz(tmp_path / f"{cell}-ours.npz")
        torch_names = tmp_path / f"{cell}-torch.npz"
        np.savez(torch_names, **{f"{cell}.weight_ih_l0": a["W_ih"],
                                 f"{cell}.weight_hh_l0": a["W_hh"], "readout.weight": a["W_hy"]})
        order = (0, 1, 2, 3) if cell == "lstm" else (1, 0, 2)
        keras_names = tmp_path / f"{cell}-keras.npz"
        np.savez(keras_names, **{
            "kernel": np.concatenate([a["W_ih"][k * n:(k + 1) * n] for k in order]).T,
            "recurrent_kernel": np.concatenate([a["W_hh"][k * n:(k + 1) * n] for k in order]).T,
            "dense_kernel": a["W_hy"].T})
        values = []
        for path in (ours, torch_names, keras_names):
            subj = load_subject(path, task)
            assert subj.weights.cell == cell
            report = verify_cell(subj.weights, task, horizon=H)
            values.append([(c.name, c.passed, c.value) for c in report.checks])
        assert values[0] == values[1] == values[2]


def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def test_bad_cell_input_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    n, d = 4, 2
    rng = np.random.default_rng(0)
    five = tmp_path / "five.npz"
    np.savez(five, weight_ih_l0=rng.standard_normal((5 * n, d)),
             weight_hh_l0=rng.standard_normal((5 * n, n)),
             **{"readout.weight": rng.standard_normal((d, n))})
    stacked = tmp_path / "stacked.npz"
    np.savez(stacked, weight_ih_l0=rng.standard_normal((4 * n, d)),
             weight_hh_l0=rng.standard_normal((4 * n, n)),
             weight_ih_l1=rng.standard_normal((4 * n, n)),
             weight_hh_l1=rng.standard_normal((4 * n, n)),
             **{"readout.weight": rng.standard_normal((d, n))})
    gru = tmp_path / "gru.npz"
    np.savez(gru, weight_ih_l0=rng.standard_normal((3 * n, d)),
             weight_hh_l0=rng.standard_normal((3 * n, n)),
             **{"readout.weight": rng.standard_normal((d, n))})
    wrong_d = tmp_path / "wrong_d.npz"
    np.savez(wrong_d, weight_ih_l0=rng.standard_normal((4 * n, 3)),
             weight_hh_l0=rng.standard_normal((4 * n, n)),
             **{"readout.weight": rng.standard_normal((d, n))})
    cases = [([str(five), "--cell", "lstm"], "4N x N rows"),
             ([str(five)], "unknown gate layout: weight_hh_l0 stacks 5 blocks"),
             ([str(stacked)], "stacked recurrent layers"),
             ([str(gru), "--cell", "lstm"], "--cell lstm needs"),
             ([str(wrong_d)], "task repeat-copy-2")]
    task_file = tmp_path / "rc2.toml"
    task_file.write_text('name = "repeat-copy-2"\ns = 2\nd = 2\nF = [[1, 0], [0, 1], [0, 0], '
                         '[0, 0]]\n')
    for args, message in cases:
        code, err = _run(["verify", *args, "--task-file", str(task_file), "--horizon", "10"],
                         capsys)
        assert code == 2, (args, err)
        assert message in err and len(err.strip().splitlines()) == 1, err
    w = cell_weights_from_params("gru", init_cell_params("gru", 4, 2, seed=1))
    path = tmp_path / "gru_before.keras"
    _keras_model(w, reset_after=False).save(path)
    code, err = _run(["verify", str(path), "--task-file", str(task_file)], capsys)
    assert code == 2 and "reset_after=False" in err and len(err.strip().splitlines()) == 1


def test_embedding_descriptors_separate_an_offset_from_a_linear_code() -> None:
    """States = a linear code of the window plus a constant offset: the offset share is what the
    offset contributes, the LSTM's halves get their own R^2 (no intercept and affine), and the
    affine reading of the circuit (`EffectiveAnalysis.affine`, tested on a shifted circuit in
    test_verify_effective) is passed on."""
    from types import SimpleNamespace

    from emt.verify.cell_subject import embedding_descriptors

    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((6, 3)), 3.0 * np.ones(6)
    z, zh = rng.choice([-1.0, 1.0], (200, 3)), rng.choice([-1.0, 1.0], (100, 3))
    analysis = SimpleNamespace(fit_data=(z, z @ A.T + b), heldout_data=(zh, zh @ A.T + b),
                               affine={"affine_step_error": 0.25})
    w = cell_weights_from_params("gru", init_cell_params("gru", 6, 3, seed=0))
    d = embedding_descriptors(analysis, w)
    assert d["affine_step_error"] == 0.25
    xh = zh @ A.T + b
    np.testing.assert_allclose(d["state_offset_share"], np.sum(xh.mean(0) ** 2)
                               / np.mean(np.sum(xh ** 2, axis=1)))
    assert d["state_offset_share"] > 0.5
    lstm = cell_weights_from_params("lstm", init_cell_params("lstm", 3, 3, seed=0))
    halves = embedding_descriptors(analysis, lstm)
    assert halves["embedding_r2_c_affine"] > 1 - 1e-12 and halves["embedding_r2_c"] < 0.5


def test_lru_spectrum_bound_is_capped_by_the_predicted_gap() -> None:
    """The LRU spectrum bound never exceeds half the gap between distinct predicted eigenvalues:
    for the 4th roots of unity (repeated) the gap is sqrt(2); for eigenvalues 0.04 apart the cap
    (0.02) is below the 0.05 default, so a mode matched to its neighbour cannot pass."""
    from emt.verify.lru_checks import distinct_gap

    roots = np.exp(2j * np.pi * np.arange(4) / 4)
    assert np.isclose(distinct_gap(np.repeat(roots, 4)), np.sqrt(2))
    close = np.array([1.0, np.exp(0.04j)])
    assert np.isclose(distinct_gap(close), abs(1 - np.exp(0.04j)))
    assert distinct_gap(close) / 2 < 0.05
    assert distinct_gap(np.array([1.0])) == float("inf")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_gated_cell_whose_linearisation_overflows_is_one_line(cell: str, tmp_path,
                                                                capsys) -> None:
    """Weights of 1e300: the linearised net's readout observations overflow, which the Elman
    path refuses as input it cannot judge (exit 2); one line on stderr, no warning."""
    w = cell_weights_from_params(cell, init_cell_params(cell, 8, 4, seed=0))
    path = tmp_path / f"{cell}.npz"
    CellWeights(cell, {k: v * 1e300 for k, v in w.arrays.items()}).save_npz(path)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["verify", str(path), "--task", "repeat-copy-4", "--claim", "both"]) == 2
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "overflow" in err, err


@pytest.mark.parametrize("scaled", [("B_re", "B_im"), ("B_re", "B_im", "C_re", "C_im")])
def test_an_lru_with_huge_weights_reports_nan_not_sentinels_or_warnings(scaled) -> None:
    """B ~ 1e300 puts the states near float64's range: the difference quotients of the
    Lyapunov estimate overflow.  No exponent is reported (the -700 floor of a vanishing
    stretch was reported as every exponent), and nothing warns (pytest turns warnings into
    errors)."""
    import json

    from emt.numerics.cell_models import cell_dynamics
    from emt.verify.dynamics_descriptors import lyapunov_exponents

    arrays = {k: v * 1e300 if k in scaled else v for k, v in
              lru_circuit("repeat-copy-4").arrays.items()}
    report = verify_cell(CellWeights("lru", arrays), get("repeat-copy-4"), horizon=H)
    descriptors = report.metrics["descriptors"]
    assert not any(k.startswith("lyapunov") for k in descriptors)
    assert all(v != -700.0 for v in descriptors.values())

    def no_constants(token):
        raise AssertionError(f"the report holds {token}")

    json.loads(report.to_json_text(), parse_constant=no_constants)
    model = cell_dynamics(CellWeights("lru", arrays))
    start = np.full((2, model.state_dim), 1e300)
    assert np.all(np.isnan(lyapunov_exponents(model, start, 3, np.random.default_rng(0))))


def test_lru_mode_radial_share_tells_a_leak_from_a_rotation() -> None:
    """Modes shrunk towards 0 at their predicted phase are all radial distance (a leak); modes
    turned by a small angle at their modulus are almost all angular (a rotation)."""
    from emt.verify.lru_checks import lru_mode_descriptors

    lam = np.exp(2j * np.pi * np.arange(4) / 4)  # repeat-copy-4's fourth roots of unity
    B = np.ones((4, 4), complex)
    leak = lru_mode_descriptors(0.95 * lam, B, lam, 4)
    turn = lru_mode_descriptors(lam * np.exp(0.05j), B, lam, 4)
    assert leak["lru_mode_radial_share"] == pytest.approx(1.0)
    assert turn["lru_mode_radial_share"] < 0.01
    assert leak["lru_mode_distance"] == pytest.approx(0.05)

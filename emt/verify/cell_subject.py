"""LSTM, GRU and LRU subjects: loading them and judging both claims of the theory on them.

Accepted files (all read without unpickling):

* our ``.npz`` (`numerics.cell_models.CellWeights.save_npz`: a ``cell`` entry plus named arrays) and
  run directories of ``emt train --cell lstm|gru|lru``;
* a PyTorch ``state_dict`` of ``nn.LSTM`` / ``nn.GRU`` saved as ``.npz`` (``weight_ih_l0``,
  ``weight_hh_l0``, optional ``bias_ih_l0``, ``bias_hh_l0``, readout ``readout.weight`` /
  ``readout.bias``; one attribute prefix such as ``lstm.`` is removed).  PyTorch's gate order
  (i, f, g, o / r, z, n) is ours, so nothing is permuted (checked against torch's own forward
  pass by ``tests/test_torch_cells.py``).  The cell is recognised from the shape
  of ``weight_hh_l0``: ``4N x N`` is an LSTM, ``3N x N`` a GRU (``N x N`` is the Elman RNN of
  `verify.subject`), or named with ``cell=``;
* Keras names in an ``.npz`` (``kernel``, ``recurrent_kernel``, ``bias``, ``dense_kernel``,
  ``dense_bias``; transposed) and ``.keras`` files holding one ``LSTM`` or ``GRU`` layer and a
  ``Dense`` readout (safe mode).  Keras orders the LSTM gates i, f, c, o (the same as PyTorch)
  and the GRU gates z, r, h: they are permuted to r, z, n.  A Keras GRU must use
  ``reset_after=True`` (Keras 3's default, PyTorch's equations); its bias ``(2, 3N)`` holds the
  input and recurrent biases.

Verdicts (`verify_cell`): ``no_bias``; the effective claim (`verify.effective`, on the full state
``(h, c)`` for the LSTM); ``generalisation`` (the cell's own sign accuracy at H); the linear
claim: for the gated cells every check of `verify.judge.verify_weights` on the linear Elman triple
that is equivalent to the cell's linearisation at the zero state (`theory.cell_linearisation`),
named
``linear.*``; for the LRU ``linear.solvable`` (the theorem: an LTI system cannot solve a task
that `is_linearly_solvable` rejects) and ``linear.lru_spectrum`` (Ho-Kalman reduction of the
trained LRU against the task's minimal realisation), both in `verify.lru_checks`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emt.numerics.cell_models import GATES, CellWeights, cell_dynamics
from emt.theory.taskspec import TaskSpec
from emt.verify.subject import strip_module_prefix

__all__ = ["cell_of_arrays", "load_cell_npz", "load_keras_cell", "verify_cell",
           "embedding_descriptors"]

_KERAS_GRU_ORDER = (1, 0, 2)  # Keras z, r, h -> ours r, z, n: take Keras block 1, 0, 2


def _gated_cell(path: Path, W_hh: np.ndarray, n: int, cell: str | None) -> str:
    """The cell from ``W_hh``'s row count (``4N`` lstm, ``3N`` gru) or check ``cell``."""
    rows = W_hh.shape[0]
    by_shape = {4 * n: "lstm", 3 * n: "gru"}.get(rows)
    if cell is not None and cell != by_shape:
        raise ValueError(f"{path}: --cell {cell} needs a recurrent matrix of "
                         f"{len(GATES[cell])}N x N rows; got {W_hh.shape} (N = {n})")
    if by_shape is None:
        raise ValueError(f"{path}: unknown gate layout: the recurrent matrix is {W_hh.shape}, "
                         f"not 4N x N (lstm) or 3N x N (gru) for N = {n}")
    return by_shape


def cell_of_arrays(arrays: Mapping[str, np.ndarray]) -> str | None:
    """``"lstm"``/``"gru"`` when the arrays hold a gated cell by shape, ``"lru"`` for ours with
    ``cell = lru``, else ``None`` (an Elman RNN or something else: `verify.subject` decides).

    A recurrent matrix stacked from a number of ``N x N`` gate blocks that no cell here has
    (``2N x N``, ``5N x N``, ...) is a ``ValueError`` ("unknown gate layout"), not an Elman
    matrix that happens not to be square."""
    if "cell" in arrays:
        return str(arrays["cell"])
    for name, transpose in (("weight_hh_l0", False), ("recurrent_kernel", True)):
        keys = [k for k in arrays if k == name or k.endswith("." + name)]
        if len(keys) == 1:
            W = np.asarray(arrays[keys[0]])
            if W.ndim == 2:
                rows, n = (W.shape[1], W.shape[0]) if transpose else W.shape
                if rows == 4 * n and n > 0:
                    return "lstm"
                if rows == 3 * n and n > 0:
                    return "gru"
                if n > 0 and rows > n and rows % n == 0:
                    raise ValueError(f"unknown gate layout: {keys[0]} stacks {rows // n} "
                                     f"blocks of {n} x {n} ({rows} x {n}); known: 4 (lstm, "
                                     "gates i, f, g, o), 3 (gru, gates r, z, n), 1 (rnn)")
    return None


def load_cell_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray],
                  cell: str | None = None) -> tuple[CellWeights, str]:
    """``(weights, convention)`` from the arrays of a cell ``.npz`` (module docstring)."""
    path = Path(path)
    if "cell" in arrays:
        stored = str(arrays["cell"])
        if cell is not None and cell != stored:
            raise ValueError(f"{path}: holds a {stored} cell, not --cell {cell}")
        rest = {k: v for k, v in arrays.items() if k != "cell"}
        try:
            return CellWeights(stored, rest, provenance={"file": str(path)}), "ours"
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    arrays = strip_module_prefix(path, dict(arrays))
    for name, arr in arrays.items():
        if not np.issubdtype(np.asarray(arr).dtype, np.number):
            raise ValueError(f"{path}: {name} must be a numeric array; got dtype {arr.dtype}")
    if "weight_hh_l0" in arrays:
        convention = "pytorch"
        need = ("weight_ih_l0", "weight_hh_l0", "readout.weight")
        missing = [m for m in need if m not in arrays]
        if missing:
            raise ValueError(f"{path}: missing {', '.join(missing)} (PyTorch names)")
        W_ih, W_hh, W_hy = (np.asarray(arrays[m]) for m in need)
        biases = {"b_ih": arrays.get("bias_ih_l0"), "b_hh": arrays.get("bias_hh_l0"),
                  "b_y": arrays.get("readout.bias")}
    elif "recurrent_kernel" in arrays:
        convention = "keras"
        need = ("kernel", "recurrent_kernel", "dense_kernel")
        missing = [m for m in need if m not in arrays]
        if missing:
            raise ValueError(f"{path}: missing {', '.join(missing)} (Keras names)")
        W_ih, W_hh, W_hy = (np.asarray(arrays[m]).T for m in need)
        bias = arrays.get("bias")
        b_ih = b_hh = None
        if bias is not None:
            bias = np.asarray(bias)
            if bias.ndim == 2 and bias.shape[0] == 2:  # GRU reset_after: [input; recurrent]
                b_ih, b_hh = bias[0], bias[1]
            else:
                b_ih = bias
        biases = {"b_ih": b_ih, "b_hh": b_hh, "b_y": arrays.get("dense_bias")}
    else:
        raise ValueError(f"{path}: no recurrent matrix (weight_hh_l0 or recurrent_kernel)")
    if W_hh.ndim != 2 or W_ih.ndim != 2 or W_hy.ndim != 2:
        raise ValueError(f"{path}: weight matrices must be 2-D; got {W_ih.shape}, {W_hh.shape}, "
                         f"{W_hy.shape}")
    n = W_hh.shape[1]
    found = _gated_cell(path, W_hh, n, cell)
    mats = {"W_ih": W_ih, "W_hh": W_hh, "W_hy": W_hy}
    mats.update({k: v for k, v in biases.items() if v is not None})
    if convention == "keras" and found == "gru":
        mats = _permute_keras_gru(path, mats, n)
    try:
        return CellWeights(found, mats, provenance={"file": str(path),
                                                    "convention": convention}), convention
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _permute_keras_gru(path: Path, mats: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    out = dict(mats)
    for key in ("W_ih", "W_hh", "b_ih", "b_hh"):
        if key in mats:
            arr = np.asarray(mats[key])
            if arr.shape[0] != 3 * n:
                raise ValueError(f"{path}: GRU {key} has {arr.shape[0]} gate rows; expected "
                                 f"3N = {3 * n}")
            out[key] = np.concatenate([arr[k * n:(k + 1) * n] for k in _KERAS_GRU_ORDER])
    return out


def load_keras_cell(path: str | os.PathLike, cell: str | None = None) -> CellWeights:
    """One ``LSTM``/``GRU`` layer + ``Dense`` from a ``.keras`` file, loaded in safe mode."""
    import keras

    path = Path(path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad archive
        raise ValueError(f"{path}: not a loadable .keras file in safe mode "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None
    layers = [la for la in model.layers if la.__class__.__name__ not in ("InputLayer",)]
    rec = [la for la in layers if la.__class__.__name__ in ("LSTM", "GRU", "SimpleRNN", "RNN")]
    dense = [la for la in layers if la.__class__.__name__ == "Dense"]
    if len(rec) != 1 or len(dense) != 1 or len(layers) != 2:
        raise ValueError(f"{path}: expected one LSTM or GRU layer and one Dense readout; got "
                         f"{', '.join(la.__class__.__name__ for la in layers)}")
    layer = rec[0]
    kind = {"LSTM": "lstm", "GRU": "gru"}.get(layer.__class__.__name__)
    if kind is None:
        raise ValueError(f"{path}: {layer.__class__.__name__} is not a gated cell")
    cfg = layer.get_config()
    if cfg.get("activation", "tanh") != "tanh" or cfg.get("recurrent_activation",
                                                           "sigmoid") != "sigmoid":
        raise ValueError(f"{path}: {kind} with activation {cfg.get('activation')!r} / "
                         f"recurrent_activation {cfg.get('recurrent_activation')!r}; only "
                         "tanh / sigmoid (the PyTorch cell) is supported")
    if kind == "gru" and not cfg.get("reset_after", True):
        raise ValueError(f"{path}: GRU with reset_after=False applies the reset gate before "
                         "W_hn (different equations); only reset_after=True is supported")
    ws = [np.asarray(w) for w in layer.get_weights()]
    arrays = {"kernel": ws[0], "recurrent_kernel": ws[1]}
    if len(ws) > 2:
        arrays["bias"] = ws[2]
    dw = [np.asarray(w) for w in dense[0].get_weights()]
    arrays["dense_kernel"] = dw[0]
    if len(dw) > 1:
        arrays["dense_bias"] = dw[1]
    weights, _ = load_cell_npz(path, arrays, cell or kind)
    return weights


# -- verdicts ------------------------------------------------------------------------------------

def _no_bias(weights: CellWeights, subject: str, tol: float) -> Any:
    from emt.verify.checks import CheckResult

    present = [b for b in ("b_ih", "b_hh", "b_y") if b in weights.arrays]
    size = max((float(np.max(np.abs(weights.arrays[b]))) for b in present), default=0.0)
    detail = ("no biases" if not present else
              f"biases {', '.join(present)} present, max |b| = {size:.3g}; the other checks "
              "still run, but the zero state is then not a fixed point")
    return CheckResult("no_bias", subject, size, tol, "<=", size <= tol, detail)


def _generalisation(model: Any, task: TaskSpec, seed: int, horizon: int, subject: str,
                    tol: float) -> Any:
    from emt.numerics.data import make_batch
    from emt.numerics.dynamics import rollout_dynamics
    from emt.verify.checks import BATCH, N_BATCHES, CheckResult, decided_sign_accuracy

    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    accs = []
    for _ in range(N_BATCHES):
        batch = make_batch(task, BATCH, horizon, rng)
        with np.errstate(over="ignore", invalid="ignore"):
            y = rollout_dynamics(model, batch.inputs, keep=(0, 0))[1][:, task.s:]
        accs.append(decided_sign_accuracy(np.nan_to_num(y, nan=0.0), batch.targets))
    acc = float(np.mean(accs))
    return CheckResult("generalisation", subject, acc, tol, ">=", acc >= tol,
                       f"{N_BATCHES} x {BATCH} sequences, H = {horizon}, driven from the zero "
                       "state through the cell")


def _r2(z: np.ndarray, x: np.ndarray, zh: np.ndarray, xh: np.ndarray, affine: bool) -> float:
    """Held-out R^2 of ``x ~ A z`` (``+ b`` when ``affine``), fitted on ``(z, x)``."""
    if affine:
        z, zh = np.c_[z, np.ones(len(z))], np.c_[zh, np.ones(len(zh))]
    from emt.verify.embedding import held_out_r2

    A = np.linalg.lstsq(z, x, rcond=None)[0]
    return held_out_r2(xh - zh @ A, xh)


def embedding_descriptors(analysis: Any, weights: CellWeights) -> dict[str, float]:
    """What explains the embedding's R^2 (descriptors; they never gate a verdict), on the effective
    checks' own fit and held-out states:

    * ``state_offset_share``: ``|mean x|^2 / mean |x|^2``, the share of the states' second moment
      that does not depend on the window.  The circuit maps the zero window to the zero state;
      a gated cell can carry an even function of the +-1 inputs, whose window-constant part
      shows here (its varying part, e.g. ``w_i w_j``, is what ``effective.even`` judges);
    * the circuit read as an affine image ``x = A z + b`` (the window stored linearly around a
      shifted operating point; `verify.effective.EffectiveAnalysis.affine`):
      ``embedding_r2_affine``, ``affine_step_error``, ``affine_loaded_accuracy``,
      ``affine_tracking_error``;
    * for the LSTM, ``embedding_r2_h``/``_c`` and their ``_affine`` forms on each half of the state.
    """
    z, x = analysis.fit_data
    zh, xh = analysis.heldout_data
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(xh))):
        return {}
    out = {"state_offset_share": float(np.sum(xh.mean(axis=0) ** 2)
                                       / max(float(np.mean(np.sum(xh ** 2, axis=1))), 1e-300)),
           **analysis.affine}
    if weights.cell == "lstm":
        n = weights.n_hidden
        for part, cols in (("h", slice(0, n)), ("c", slice(n, 2 * n))):
            out[f"embedding_r2_{part}"] = _r2(z, x[:, cols], zh, xh[:, cols], False)
            out[f"embedding_r2_{part}_affine"] = _r2(z, x[:, cols], zh, xh[:, cols], True)
    return out


def verify_cell(weights: CellWeights, task: TaskSpec, *, claim: str = "effective",
                ground: str = "output",
                tolerances: Mapping[str, float] | None = None, seed: int = 0,
                horizon: int = 200, subject: str = "weights", subject_sha256: str | None = None,
                convention: str | None = None) -> Any:
    """Both claims on an LSTM, GRU or LRU (module docstring); returns a `verify.report.Report`
    whose ``metrics`` hold the effective descriptors, the embedding R^2 and the accuracy."""
    import datetime as _dt

    from emt.theory.cell_linearisation import linearised_triple
    from emt.verify.claims import judge_all, selected_holds
    from emt.verify.effective import effective_analysis
    from emt.verify.judge import verify_weights, versions
    from emt.verify.report import Report
    from emt.verify.tolerances import resolve

    if not isinstance(weights, CellWeights):
        raise ValueError(f"weights must be CellWeights; got {type(weights).__name__}")
    if weights.d_in != task.d or weights.d_out != task.d:
        raise ValueError(f"{subject}: weights have d_in = {weights.d_in}, d_out = "
                         f"{weights.d_out} but task {task.label} has d = {task.d}")
    tols = resolve(tolerances)
    model = cell_dynamics(weights)
    checks = [_no_bias(weights, subject, tols["no_bias"]),
              _generalisation(model, task, seed, horizon, subject, tols["generalisation"])]
    analysis = effective_analysis(model, task, tols, seed, horizon=horizon, subject=subject)
    checks += analysis.checks
    descriptors = dict(analysis.descriptors)
    descriptors.update(embedding_descriptors(analysis, weights))
    linear_metrics: dict[str, Any] = {}
    if weights.cell == "lru":
        from emt.verify.lru_checks import lru_linear_checks

        lru_checks, extra = lru_linear_checks(weights, task, tols, subject)
        checks += lru_checks
        descriptors.update(extra)
    else:
        from emt.numerics.weights import RNNWeights

        triple = RNNWeights(*linearised_triple(weights.cell, weights.arrays),
                            activation="linear")
        lin = verify_weights(triple, task, claim="linear", ground=ground,
                             tolerances=tolerances, seed=seed,
                             horizon=horizon, subject=f"{subject} (linearised)")
        # the linear claim's checks of the linearised net (its own effective checks would
        # judge the linearisation, not this cell)
        checks += [_renamed(c) for c in lin.checks
                   if c.name != "no_bias" and not c.name.startswith("effective.")]
        linear_metrics = {"spectrum": lin.metrics["spectrum"],
                          "accuracy_h200": lin.metrics["accuracy_h200"]}
    embedding = next(c for c in checks if c.name == "effective.embedding")
    notes = affine_note(descriptors)
    verdicts = judge_all(checks, notes)  # the same two claims as an Elman report
    # (Report.to_json adds each claim's verdict as effective_holds / linear_holds)
    metrics = {"accuracy_h200": checks[1].value, "embedding_r2": embedding.value,
               "descriptors": descriptors, "linear": linear_metrics,
               "effective_coordinates": analysis.coordinates,
               "passed": selected_holds(verdicts, claim)}
    metadata = {"subject": subject, "subject_sha256": subject_sha256, "convention": convention,
                "task": task.to_json(), "task_label": task.label, "grounding": ground,
                "seed": seed, "horizon": horizon, "n_hidden": weights.n_hidden,
                "activation": weights.cell, "cell": weights.cell, "tolerances": tols,
                "versions": versions(),
                "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    return Report(checks, metadata, metrics, claim=claim, notes=notes)


def affine_note(descriptors: Mapping[str, float]) -> dict[str, str]:
    """The effective verdict's clause on the affine reading of the circuit (it explains, never
    decides), when the descriptors have it."""
    if "affine_step_error" not in descriptors:
        return {}
    return {"effective": (
        f"read as an affine image x = A z + b, which the claim does not allow: held-out R^2 "
        f"{descriptors['embedding_r2_affine']:.3f}, step error "
        f"{descriptors['affine_step_error']:.3g}, loaded-state accuracy "
        f"{descriptors['affine_loaded_accuracy']:.3f}")}


def _renamed(check: Any) -> Any:
    from dataclasses import replace

    return replace(check, name=f"linear.{check.name}")

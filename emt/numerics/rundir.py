"""The run directory: ``model.json``, ``checkpoint.npz`` and, once finished, ``weights.npz``.

    RUN_DIR/model.json      task (with F), hyper-parameters, seed, library versions, status
                            ("running" | "interrupted" | "finished"), history, final metrics
    RUN_DIR/checkpoint.npz  weights + Adam state + step + curriculum stage + data RNG state
                            (arrays plus one JSON string ``meta``; no pickles)
    RUN_DIR/weights.npz     `RNNWeights.save_npz`, written only when the run has finished

Every file is written atomically (temporary file + rename), so a killed run never leaves a
half-written file, and a run that has not finished never looks finished: ``weights.npz`` exists
only after ``status`` is about to become ``"finished"``, and readers check ``status``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from emt.core.atomic import atomic_write_bytes
from emt.core.safe_io import parse_json, read_text, standard_json
from emt.numerics.cell_models import CellWeights
from emt.numerics.checkpoint_meta import read_checkpoint_meta
from emt.numerics.npz_read import read_npz
from emt.numerics.run_record import RUN_FORMAT, RUN_STATUSES, read_run_record
from emt.numerics.weights import RNNWeights
from emt.theory.taskspec import TaskSpec

__all__ = ["RUN_FORMAT", "MODEL_JSON", "CHECKPOINT", "WEIGHTS",
           "read_model_json", "write_model_json", "save_checkpoint", "load_checkpoint",
           "is_run_dir", "load_run"]

MODEL_JSON, CHECKPOINT, WEIGHTS = "model.json", "checkpoint.npz", "weights.npz"
STATUSES = RUN_STATUSES


def is_run_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / MODEL_JSON).is_file()


def read_model_json(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The parsed ``model.json`` of a run directory; ValueError if it is not one of ours."""
    path = Path(run_dir) / MODEL_JSON
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run directory")
    if not path.is_file():
        raise ValueError(f"{run_dir}: not a run directory (no {MODEL_JSON})")
    meta = parse_json(read_text(path, "run description"), str(path))
    if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
        raise ValueError(f"{path}: not an emt run description (format != {RUN_FORMAT!r})")
    read_run_record(meta, str(path))  # every field by name (numerics.run_record)
    return meta


def write_model_json(run_dir: str | os.PathLike, meta: dict[str, Any]) -> Path:
    if meta.get("status") not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}; got {meta.get('status')!r}")
    # standard JSON: a diverged or overflowing metric is written as null, never NaN/Infinity
    text = standard_json({"format": RUN_FORMAT, **meta}, indent=1, sort_keys=False)
    return atomic_write_bytes(Path(run_dir) / MODEL_JSON, (text + "\n").encode())


def _jsonable_rng_state(state: Any) -> Any:
    """numpy bit-generator states hold 128-bit integers: store every int as a string."""
    if isinstance(state, dict):
        return {k: _jsonable_rng_state(v) for k, v in state.items()}
    if isinstance(state, bool):
        return state
    if isinstance(state, int | np.integer):
        return {"int": str(int(state))}
    return state


def _rng_state_from_json(state: Any) -> Any:
    if isinstance(state, dict):
        if set(state) == {"int"}:
            return int(state["int"])
        return {k: _rng_state_from_json(v) for k, v in state.items()}
    return state


def save_checkpoint(run_dir: str | os.PathLike, arrays: dict[str, np.ndarray], step: int,
                    stage: int, rng: np.random.Generator, history: list[dict],
                    extra: dict[str, Any] | None = None) -> Path:
    """Write ``checkpoint.npz`` atomically: ``arrays`` (the `RawRNN` state) plus a JSON ``meta``
    with the step, curriculum stage, the data generator's exact state and the history."""
    meta = {"step": int(step), "stage": int(stage),
            "rng": _jsonable_rng_state(rng.bit_generator.state), "history": history,
            **(extra or {})}
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(standard_json(meta)), **arrays)  # type: ignore[arg-type]
    return atomic_write_bytes(Path(run_dir) / CHECKPOINT, buf.getvalue())


def load_checkpoint(run_dir: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any],
                                                         np.random.Generator]:
    """``(arrays, meta, rng)`` from ``checkpoint.npz``; ValueError naming a corrupt file and,
    for its metadata, the field of the wrong type or range (`numerics.checkpoint_meta`)."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise ValueError(f"{run_dir}: no checkpoint to resume from ({CHECKPOINT} missing)")
    try:
        arrays = read_npz(path, "checkpoint")  # limits checked before decompressing
        meta = json.loads(str(arrays.pop("meta")))
    except Exception as exc:  # zip, npz and JSON errors all mean "corrupt"
        raise ValueError(f"{path}: corrupt checkpoint ({type(exc).__name__}: "
                         f"{str(exc)[:200]})") from None
    try:
        read_checkpoint_meta(meta, "meta")  # every field's type and range, by name
    except ValueError as exc:
        raise ValueError(f"{path}: corrupt checkpoint ({str(exc)[:300]})") from None
    try:
        state = _rng_state_from_json(meta["rng"])
        bitgen = np.random.PCG64()
        bitgen.state = state
        rng = np.random.Generator(bitgen)
    except Exception as exc:  # numpy's state errors: the generator's state is corrupt
        raise ValueError(f"{path}: corrupt checkpoint (field 'rng': {type(exc).__name__}: "
                         f"{str(exc)[:200]})") from None
    return arrays, meta, rng


def save_final_weights(run_dir: str | os.PathLike, weights: RNNWeights) -> Path:
    return weights.save_npz(Path(run_dir) / WEIGHTS)


def load_run(run_dir: str | os.PathLike) -> tuple[RNNWeights, TaskSpec, dict[str, Any]]:
    """``(weights, task, meta)`` of a finished run; ValueError if it has not finished."""
    meta = read_model_json(run_dir)
    if meta["status"] != "finished":
        raise ValueError(f"{run_dir}: the run has not finished (status {meta['status']!r}); "
                         "resume it with `emt train --resume`")
    task = TaskSpec.from_json(meta["task"])
    cell = meta["config"].get("cell", "rnn")
    if cell != "rnn":  # an LSTM, GRU or LRU run (numerics.cell_models)
        cw = CellWeights.load_npz(Path(run_dir) / WEIGHTS)
        if cw.cell != cell or (cw.d_in, cw.d_out) != (task.d, task.d):
            raise ValueError(f"{run_dir}: weights.npz holds a {cw.cell} with d_in={cw.d_in}, "
                             f"d_out={cw.d_out}; model.json says {cell}, d = {task.d}")
        return CellWeights(cw.cell, cw.arrays, provenance={  # type: ignore[return-value]
            "source": "emt train", "run_dir": str(run_dir), "task": task.label,
            "seed": meta.get("seed")}), task, meta
    weights = RNNWeights.load_npz(Path(run_dir) / WEIGHTS)
    weights = RNNWeights(weights.W_uh, weights.W_hh, weights.W_hy, weights.activation,
                         weights.b_h, weights.b_y,
                         provenance={"source": "emt train", "run_dir": str(run_dir),
                                     "task": task.label, "seed": meta.get("seed")})
    if (weights.d_in, weights.d_out) != (task.d, task.d):
        raise ValueError(f"{run_dir}: weights have d_in={weights.d_in}, d_out={weights.d_out} "
                         f"but the task has d = {task.d}")
    return weights, task, meta

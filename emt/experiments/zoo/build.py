"""Build the constructed zoo: ``python -m emt.experiments.zoo.build --out DIR [--only ID]``.

Writes ``DIR/nets/<id>.npz`` (our names ``W_uh, W_hh, W_hy``, column-vector convention,
compressed) for every `members.recipes()` entry, measures each net's task accuracy with the
zoo's own rollout, labels it (`members.kind_of`) and merges the entries, plus the wrong-task
members, into ``DIR/manifest.json``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

from emt.core.atomic import atomic_write_bytes
from emt.experiments.zoo import manifest
from emt.experiments.zoo.members import CONSTRUCTED, WRONG_TASK, build_weights, kind_of
from emt.experiments.zoo.taskdata import get_task, state_linear_r2, task_accuracy

__all__ = ["main", "npz_bytes", "constructed_entries", "NETS"]

NETS = "nets"
COMMAND = "python -m emt.experiments.zoo.build --out {out} --only {id}"


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub: **kwds bool
    return buf.getvalue()


def _entry(rid: str, task: str, accuracy: float, out: str) -> dict:
    r = CONSTRUCTED[rid]
    wrong = task != r.task
    return {"id": rid if not wrong else f"wrong-task-{rid}-on-{task}",
            "file": f"{NETS}/{rid}.npz", "task": task, "built_for": r.task,
            "kind": kind_of(r.family, "construct", accuracy, wrong),
            "family": "wrong-task" if wrong else r.family, "trainer": "construct",
            "recipe": r.to_json(), "seed": r.seed, "n_hidden": None,
            "accuracy": round(accuracy, 6), "command": COMMAND.format(out=out, id=rid)}


def constructed_entries(out: Path, only: str | None = None,
                        log=sys.stderr) -> list[dict]:
    """Build (and write) the constructed nets; their manifest entries."""
    ids = [only] if only else list(CONSTRUCTED)
    entries = []
    for rid in ids:
        if rid not in CONSTRUCTED:
            raise ValueError(f"unknown constructed net {rid!r}")
        arrays = build_weights(CONSTRUCTED[rid])
        atomic_write_bytes(out / NETS / f"{rid}.npz", npz_bytes(arrays))
        for task in [CONSTRUCTED[rid].task] + [t for n, t in WRONG_TASK if n == rid]:
            acc = task_accuracy(arrays, get_task(task), manifest.ACCURACY_SEED)
            e = _entry(rid, task, acc, str(out))
            e["n_hidden"] = int(arrays["W_hh"].shape[0])
            e["state_linear_r2"] = round(state_linear_r2(arrays, get_task(task),
                                                         manifest.ACCURACY_SEED), 6)
            entries.append(e)
            print(f"{e['id']}: {e['kind']} (accuracy {acc:.4f})", file=log)
    return entries

ONLY_HELP = "build one net (its id) and leave the manifest alone"


def main(argv: list[str] | None = None) -> int:
    parser = manifest.generator_parser("emt.experiments.zoo.build", __doc__ or "", ONLY_HELP)
    args = parser.parse_args(argv)
    try:
        entries = constructed_entries(args.out, args.only)
        if not args.only:
            manifest.merge(args.out, "construct", entries)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

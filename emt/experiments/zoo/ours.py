"""Import nets from the project's own trainer (``emt train``) into the zoo:
``python -m emt.experiments.zoo.ours --out DIR RUN_DIR...``.

Copies each finished run's ``model.json`` and ``weights.npz`` (our names) into
``DIR/runs/<run name>/`` (a run directory the verifier reads, task included), measures its
accuracy with the zoo's own rollout and labels it like any trained net (`members.kind_of`).
The manifest's ``command`` is the ``emt train`` command line that re-trains it (from the run's
recorded configuration).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from emt.core.atomic import atomic_write_bytes
from emt.experiments.zoo import manifest
from emt.experiments.zoo.members import kind_of
from emt.experiments.zoo.taskdata import get_task, state_linear_r2, task_accuracy

__all__ = ["main", "train_command", "import_run", "RUNS"]

RUNS = "runs"
DEFAULTS = {"l2": 0.0, "threshold": 0.96}


def train_command(config: dict, task: str) -> str:
    """The ``emt train`` command line of a recorded configuration."""
    parts = ["emt train", f"--task {task}", f"--hidden {config['hidden']}",
             f"--seed {config['seed']}", f"--steps {config['steps']}"]
    parts += [f"--{k} {config[k]:g}" for k in DEFAULTS if config.get(k, DEFAULTS[k]) != DEFAULTS[k]]
    if config.get("stop_when_learned"):
        parts.append("--stop-when-learned")
    return " ".join(parts)


def _recipe_name(config: dict) -> str:
    if config.get("l2"):
        return "l2"
    return "stop" if config.get("stop_when_learned") else "fixed"


def import_run(run: Path, out: Path) -> dict:
    """Copy one finished run into ``out/runs`` and return its manifest entry."""
    meta = json.loads((run / "model.json").read_text(encoding="utf-8"))
    if meta.get("status") != "finished" or meta.get("cell") != "rnn":
        raise ValueError(f"{run}: not a finished Elman run")
    raw = (run / "weights.npz").read_bytes()
    target = out / RUNS / run.name
    atomic_write_bytes(target / "model.json", (run / "model.json").read_bytes())
    atomic_write_bytes(target / "weights.npz", raw)
    with np.load(target / "weights.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in ("W_uh", "W_hh", "W_hy")}
    config, task = meta["config"], meta["task"]["name"]
    acc = task_accuracy(arrays, get_task(task), manifest.ACCURACY_SEED)
    recipe = _recipe_name(config)
    return {"id": run.name, "file": f"{RUNS}/{run.name}", "task": task, "built_for": task,
            "kind": kind_of(recipe, "emt-train", acc, False), "family": f"emt-train-{recipe}",
            "trainer": "emt-train",
            "recipe": {k: config[k] for k in ("hidden", "l2", "threshold", "steps", "lr",
                                              "stop_when_learned") if k in config}
            | {"steps_done": meta.get("steps_done"),
               "trainer_test_accuracy": meta.get("metrics", {}).get("test_accuracy")},
            "seed": int(config["seed"]), "n_hidden": int(config["hidden"]),
            "accuracy": round(acc, 6),
            "state_linear_r2": round(state_linear_r2(arrays, get_task(task),
                                                     manifest.ACCURACY_SEED), 6),
            "command": train_command(config, task) + f" --out {run.name}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emt.experiments.zoo.ours",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="zoo directory")
    ap.add_argument("runs", nargs="+", type=Path, help="finished emt train run directories")
    args = ap.parse_args(argv)
    try:
        entries = [import_run(r, args.out) for r in args.runs]
    except (ValueError, OSError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for e in entries:
        print(f"{e['id']}: {e['kind']} (accuracy {e['accuracy']:.4f})", file=sys.stderr)
    manifest.merge(args.out, "emt-train", entries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

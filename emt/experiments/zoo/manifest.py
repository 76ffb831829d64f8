"""The zoo's manifest (``manifest.json`` beside the nets): one entry per member, schema
``emt.zoo/1``::

    {"schema": "emt.zoo/1", "solves_accuracy": 0.95, "accuracy_seed": 12345,
     "members": [{"id", "file" (relative to the zoo directory), "task" (judged against),
                  "built_for", "kind" ("positive" | "null"), "family", "trainer"
                  ("construct" | "torch" | "emt-train"), "recipe" {...}, "seed", "n_hidden",
                  "accuracy" (own rollout, H = 200), "state_linear_r2" (how linear the
                  code is, `taskdata.state_linear_r2`), "command"}, ...]}

Each generator rewrites only its own trainer's entries (`merge`), so the constructed nets, the
PyTorch nets and the trainer's nets can be (re)built independently.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emt.core.atomic import atomic_write_bytes
from emt.experiments.zoo.taskdata import SOLVES_ACCURACY

__all__ = ["SCHEMA", "ACCURACY_SEED", "MANIFEST", "read", "merge", "generator_parser"]

SCHEMA = "emt.zoo/1"
ACCURACY_SEED = 12345  # the zoo's own accuracy batches (the verifier's default seed is 0)
MANIFEST = "manifest.json"


def read(zoo: Path) -> dict:
    """The manifest of ``zoo`` (an empty one when there is none yet); ValueError if it is not
    an ``emt.zoo/1`` manifest."""
    path = Path(zoo) / MANIFEST
    if not path.exists():
        return {"schema": SCHEMA, "solves_accuracy": SOLVES_ACCURACY,
                "accuracy_seed": ACCURACY_SEED, "members": []}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not an {SCHEMA} manifest")
    return data


def merge(zoo: Path, trainer: str, entries: list[dict]) -> Path:
    """Replace ``trainer``'s entries in ``zoo``'s manifest by ``entries`` (others kept)."""
    data = read(zoo)
    kept = [m for m in data["members"] if m.get("trainer") != trainer]
    data["members"] = kept + entries
    text = json.dumps(data, indent=1, sort_keys=False) + "\n"
    return atomic_write_bytes(Path(zoo) / MANIFEST, text.encode("utf-8"))


def generator_parser(prog: str, doc: str, only_help: str) -> argparse.ArgumentParser:
    """The command line every zoo generator shares: ``--out DIR [--only ID]``."""
    ap = argparse.ArgumentParser(prog=f"python -m {prog}", description=doc.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path, help="zoo directory")
    ap.add_argument("--only", help=only_help)
    return ap

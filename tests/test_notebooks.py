"""Every notebook under ``docs/`` runs from top to bottom (nbclient + ipykernel, in the ``dev``
extra; skipped with a reason where they are absent).  A notebook's own ``assert``s are its
checks: ``docs/verify_a_torch_rnn.ipynb`` asserts that a committed trained net passes, that torch
and Keras read it to the same check values, and that a 300-step net fails."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTEBOOKS = sorted(DOCS.glob("*.ipynb"))
CELL_TIMEOUT_S = 120  # per cell; the whole notebook takes ~30 s on 2 shared cores


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat", reason="nbformat (with nbclient) not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient not installed (dev extra)")
    pytest.importorskip("ipykernel", reason="ipykernel not installed (dev extra)")
    nb = nbformat.read(path, as_version=4)
    env_root = str(DOCS.parent)
    # the kernel imports emt from this checkout, as the test process does
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (env_root, os.environ.get("PYTHONPATH", "")) if p))
    start = time.monotonic()
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(DOCS)}})
    client.execute()
    elapsed = time.monotonic() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    print(f"{path.name}: {elapsed:.1f} s")

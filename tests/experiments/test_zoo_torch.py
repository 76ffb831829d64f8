"""The zoo's PyTorch-trained nets (emt/experiments/zoo/torch_train.py) and the nets imported
from ``emt train`` (ours.py): their manifest entries agree with the committed files and with
the recipes, and their labels with the zoo's own accuracy.  The consistency checks need no
torch; re-training one recipe (byte for byte the committed arrays) is skipped without it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from emt.experiments.zoo.members import kind_of
from emt.experiments.zoo.ours import train_command
from emt.experiments.zoo.taskdata import get_task, task_accuracy
from emt.experiments.zoo.torch_train import TORCH_NETS, as_ours, train

ZOO = Path(__file__).resolve().parents[2] / "results" / "zoo"
NAMES = ("rnn.weight_ih_l0", "rnn.weight_hh_l0", "readout.weight")


def _members(trainer: str) -> list[dict]:
    data = json.loads((ZOO / "manifest.json").read_text(encoding="utf-8"))
    return [m for m in data["members"] if m["trainer"] == trainer]


def _arrays(m: dict) -> dict[str, np.ndarray]:
    with np.load(ZOO / m["file"], allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_torch_entries_match_their_recipes_and_files():
    members = _members("torch")
    assert {m["id"] for m in members} == set(TORCH_NETS)
    for m in members:
        recipe = TORCH_NETS[m["id"]]
        assert {k: m["recipe"][k] for k in asdict(recipe)} == asdict(recipe)
        arrays = _arrays(m)
        assert sorted(arrays) == sorted(NAMES)
        n, d = recipe.n_hidden, get_task(recipe.task).d
        assert [arrays[k].shape for k in NAMES] == [(n, d), (n, n), (d, n)]
        acc = task_accuracy(as_ours(arrays), get_task(m["task"]), 12345)
        assert acc == pytest.approx(m["accuracy"], abs=1e-6)
        assert m["kind"] == kind_of(m["family"], "torch", acc, False)


def test_emt_train_entries_match_their_runs():
    for m in _members("emt-train"):
        meta = json.loads((ZOO / m["file"] / "model.json").read_text(encoding="utf-8"))
        assert meta["task"]["name"] == m["task"] and meta["config"]["seed"] == m["seed"]
        assert m["command"].startswith(train_command(meta["config"], m["task"]))
        with np.load(ZOO / m["file"] / "weights.npz", allow_pickle=False) as z:
            acc = task_accuracy({k: z[k] for k in ("W_uh", "W_hh", "W_hy")},
                                get_task(m["task"]), 12345)
        assert acc == pytest.approx(m["accuracy"], abs=1e-6)
        assert m["kind"] == kind_of(m["family"], "emt-train", acc, False)


@pytest.mark.train
def test_a_torch_recipe_retrains_to_the_committed_arrays():
    pytest.importorskip("torch")
    m = next(m for m in _members("torch") if m["id"] == "torch-stop-rc3-h32-s5")
    arrays, facts = train(TORCH_NETS[m["id"]])
    assert facts["steps"] == m["recipe"]["steps"]
    committed = _arrays(m)
    for k in NAMES:
        np.testing.assert_allclose(arrays[k], committed[k], rtol=0, atol=1e-6)

"""PyTorch-trained zoo nets (an optional extra: torch is not a project dependency).

``python -m emt.experiments.zoo.torch_train --out DIR [--only ID]`` trains every `TORCH_NETS`
recipe: a bias-free tanh ``nn.RNN`` (attribute ``rnn``) with a bias-free ``nn.Linear`` readout
(attribute ``readout``), mean squared error on the output phase, on sequences the zoo generates
itself (`taskdata.sequences`: ``s`` steps of ``+-1`` inputs, then zeros; targets continue the
window by Phi), at a fixed training horizon `TRAIN_HORIZON`.  Recipes:

* ``stop``: Adam (lr 1e-3), batch 64, stop at the first check (every `CHECK_EVERY` steps) whose
  fresh batch has sign accuracy 1.0 -- the usual "it has learned" rule;
* ``fixed``: the same for a fixed number of steps; ``l2``: with coupled weight decay;
  ``lr``: another learning rate; ``orth``: ``W_hh`` initialised orthogonal instead of
  PyTorch's ``U(-1/sqrt(N_h), 1/sqrt(N_h))``.

Each net is saved as ``DIR/nets/<id>.npz`` under its ``state_dict`` names (``rnn.weight_ih_l0``,
``rnn.weight_hh_l0``, ``readout.weight``, float32) and labelled by its own accuracy at H = 200
(`members.kind_of`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from emt.core.atomic import atomic_write_bytes
from emt.experiments.zoo import manifest
from emt.experiments.zoo.build import NETS, npz_bytes
from emt.experiments.zoo.members import kind_of
from emt.experiments.zoo.taskdata import get_task, sequences, state_linear_r2, task_accuracy

__all__ = ["TorchRecipe", "TORCH_NETS", "train", "main", "TRAIN_HORIZON", "CHECK_EVERY"]

TRAIN_HORIZON = 40  # output-phase steps per training sequence (10 s for s = 4)
CHECK_EVERY = 50  # steps between the stop rule's accuracy checks
BATCH = 64
COMMAND = "python -m emt.experiments.zoo.torch_train --out {out} --only {id}"


@dataclass(frozen=True)
class TorchRecipe:
    id: str
    task: str
    n_hidden: int
    seed: int
    rule: str  # "stop" or "fixed"
    max_steps: int
    lr: float = 1e-3
    weight_decay: float = 0.0
    init: str = "default"  # or "orth"


def _r(fam: str, task: str, tag: str, n: int, seed: int, rule: str, steps: int,
       **kw) -> TorchRecipe:
    return TorchRecipe(f"torch-{fam}-{tag}-h{n}-s{seed}", task, n, seed, rule, steps, **kw)


TORCH_NETS = {r.id: r for r in (
    _r("stop", "repeat-copy-4", "rc4", 64, 1, "stop", 4000),
    _r("stop", "repeat-copy-4", "rc4", 128, 2, "stop", 4000),
    _r("stop", "reverse-copy-4", "rv4", 64, 3, "stop", 4000),
    _r("stop", "staggered-4", "st4", 128, 4, "stop", 4000),
    _r("stop", "repeat-copy-3", "rc3", 32, 5, "stop", 4000),
    _r("fixed", "repeat-copy-4", "rc4", 64, 6, "fixed", 2500),
    _r("fixed", "staggered-4", "st4", 64, 7, "fixed", 2500),
    _r("l2", "repeat-copy-4", "rc4", 64, 8, "fixed", 2500, weight_decay=1e-4),
    _r("l2", "reverse-copy-4", "rv4", 128, 9, "fixed", 2500, weight_decay=1e-3),
    _r("lr3e-3", "repeat-copy-4", "rc4", 256, 10, "stop", 3000, lr=3e-3),
    _r("orth", "staggered-4", "st4", 128, 11, "stop", 4000, init="orth"),
    _r("lr3e-4", "repeat-copy-3", "rc3", 256, 12, "fixed", 2000, lr=3e-4),
    _r("stop", "reverse-copy-4", "rv4", 32, 13, "stop", 4000),
    _r("stop", "staggered-4", "st4", 64, 14, "stop", 4000),
    _r("stop", "repeat-copy-3", "rc3", 64, 15, "stop", 4000),
    _r("stop", "repeat-copy-4", "rc4", 32, 16, "stop", 4000),
    _r("stop", "reverse-copy-4", "rv4", 256, 17, "stop", 3000),
    _r("stop", "staggered-4", "st4", 256, 18, "stop", 3000),
    _r("stop", "repeat-copy-4", "rc4", 96, 19, "stop", 4000),
    _r("stop", "reverse-copy-4", "rv4", 96, 20, "stop", 4000),
    _r("stop", "staggered-4", "st4", 96, 21, "stop", 4000),
    _r("stop", "repeat-copy-3", "rc3", 48, 22, "stop", 4000),
    _r("fixed", "reverse-copy-4", "rv4", 64, 23, "fixed", 2500),
    _r("fixed", "repeat-copy-3", "rc3", 32, 24, "fixed", 2500),
    _r("l2", "staggered-4", "st4", 64, 25, "fixed", 2500, weight_decay=1e-4),
    _r("orth", "repeat-copy-4", "rc4", 64, 26, "stop", 4000, init="orth"),
)}


def train(recipe: TorchRecipe, log=sys.stderr) -> tuple[dict[str, np.ndarray], dict]:
    """Train one recipe; returns its ``state_dict`` arrays (float32) and training facts."""
    import torch  # deferred: torch is an optional extra

    torch.manual_seed(recipe.seed)
    torch.set_num_threads(1)
    task = get_task(recipe.task)
    s, d = task.s, task.d

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = torch.nn.RNN(d, recipe.n_hidden, bias=False, nonlinearity="tanh",
                                    batch_first=True)
            self.readout = torch.nn.Linear(recipe.n_hidden, d, bias=False)

        def forward(self, u):
            return self.readout(self.rnn(u)[0])

    net = Net()
    if recipe.init == "orth":
        torch.nn.init.orthogonal_(net.rnn.weight_hh_l0)  # type: ignore[arg-type]
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    rng = np.random.default_rng(recipe.seed)
    steps, acc, t0 = 0, 0.0, time.time()
    while steps < recipe.max_steps:
        u, x = (torch.tensor(a, dtype=torch.float32)
                for a in sequences(task, BATCH, TRAIN_HORIZON, rng))
        loss = torch.mean((net(u)[:, s:] - x) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        if steps % CHECK_EVERY == 0:
            u, x = (torch.tensor(a, dtype=torch.float32)
                    for a in sequences(task, BATCH, TRAIN_HORIZON, rng))
            with torch.no_grad():
                acc = float(((net(u)[:, s:] >= 0) == (x >= 0)).float().mean())
            if recipe.rule == "stop" and acc == 1.0:
                break
    arrays = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    facts = {"steps": steps, "train_accuracy": acc, "seconds": round(time.time() - t0, 1),
             "torch": torch.__version__, "train_horizon": TRAIN_HORIZON}
    print(f"{recipe.id}: {steps} steps, train accuracy {acc:.4f}, {facts['seconds']} s",
          file=log)
    return arrays, facts


def as_ours(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The state_dict's matrices in our names (PyTorch stores ``x W^T``: no transpose)."""
    return {"W_uh": arrays["rnn.weight_ih_l0"].astype(np.float64),
            "W_hh": arrays["rnn.weight_hh_l0"].astype(np.float64),
            "W_hy": arrays["readout.weight"].astype(np.float64)}


def entry(recipe: TorchRecipe, arrays: dict[str, np.ndarray], facts: dict, out: str) -> dict:
    """The manifest entry of a trained recipe (label from the zoo's own accuracy)."""
    acc = task_accuracy(as_ours(arrays), get_task(recipe.task), manifest.ACCURACY_SEED)
    family = recipe.id.split("-")[1]
    return {"id": recipe.id, "file": f"{NETS}/{recipe.id}.npz", "task": recipe.task,
            "built_for": recipe.task, "kind": kind_of(family, "torch", acc, False),
            "family": f"torch-{family}", "trainer": "torch",
            "recipe": {**asdict(recipe), **facts}, "seed": recipe.seed,
            "n_hidden": recipe.n_hidden, "accuracy": round(acc, 6),
            "state_linear_r2": round(state_linear_r2(as_ours(arrays), get_task(recipe.task),
                                                     manifest.ACCURACY_SEED), 6),
            "command": COMMAND.format(out=out, id=recipe.id)}

ONLY_HELP = "train one recipe (its id); the manifest entry is merged"


def main(argv: list[str] | None = None) -> int:
    parser = manifest.generator_parser("emt.experiments.zoo.torch_train", __doc__ or "", ONLY_HELP)
    args = parser.parse_args(argv)
    if args.only and args.only not in TORCH_NETS:
        print(f"error: unknown torch recipe {args.only!r}", file=sys.stderr)
        return 2
    entries = []
    for rid in [args.only] if args.only else list(TORCH_NETS):
        arrays, facts = train(TORCH_NETS[rid])
        atomic_write_bytes(args.out / NETS / f"{rid}.npz", npz_bytes(arrays))
        entries.append(entry(TORCH_NETS[rid], arrays, facts, str(args.out)))
        print(f"  {rid}: {entries[-1]['kind']} (accuracy {entries[-1]['accuracy']:.4f})",
              file=sys.stderr)
    if args.only:
        old = [m for m in manifest.read(args.out)["members"]
               if m["trainer"] == "torch" and m["id"] != args.only]
        entries = old + entries
    manifest.merge(args.out, "torch", entries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

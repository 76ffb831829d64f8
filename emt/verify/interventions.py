"""The binding claim's causal checks: interchange interventions and ablation on the live slots.

The effective claim is geometric: the states are ``x ~ A z`` with ``z = Q^T Pi_Phi w`` the live
coordinates of the window (`verify.embedding`).  The binding claim is causal: the directions that
the fit assigns to a variable *are* that variable for the network's own dynamics.

**Slot-aligned live coordinates** (`SlotFrame`).  ``L`` is a set of ``r`` live slots (indices of
the window, ``r = rank Pi_Phi``) whose values ``y = (Pi_Phi w)_L`` determine ``Pi_Phi w``:
``Pi_Phi w = V y`` with ``V = Q Q_L^-1`` (``Q_L``: the rows ``L`` of ``Q``) and ``y = Q_L z``.
``L`` is the set of slots whose row of ``Pi_Phi`` is the unit row (``(Pi_Phi w)_l = w_l``: the
slots on the cycles of a signed-copy task; every registered task has exactly ``r`` of them), or,
for a task without ``r`` such slots, the rows of ``Q`` picked by a pivoted QR factorisation.  In
these coordinates the embedding is ``x ~ B y`` with ``B = A Q_L^-1`` (columns indexed by live
slots) and the least-squares read-out of a state is ``y_hat = B^+ x = Q_L A^+ x``.  A variable
``k`` (the ``d`` entries of the ``k``-th oldest step of the window, block ``k``) owns the live
slots ``G_k = L n block(k)``; a variable with no live slot is never read and is skipped.

**Interchange** (`interchange_and_ablation`).  For pairs of independent windows ``(w, w')`` the
net is driven through the input phase to ``t0 = s - 1 + max(nu, 1)``, the first step the fit
covers (``nu``: nilpotent index of Phi).  For each variable ``k`` the state's component in
``k``'s subspace is replaced by the one from the run of ``w'`` at the same step:

* ``oblique`` (default, consistent with the fit): ``x_e = x + B_Gk (y_hat'_Gk - y_hat_Gk)``,
  the component being ``B_Gk y_hat_Gk`` with ``y_hat`` the least-squares read-out of the state;
* ``orthogonal``: ``x_e = x + U_k U_k^T (x' - x)``, ``U_k`` an orthonormal basis of the columns
  ``B_Gk`` (mixes in other variables wherever the columns are not orthogonal).

The net then runs ``s`` steps with zero input (every live slot is read within ``s`` steps: a
value that no output of the next ``s`` steps reads has left the window, so it lies in
``ker Phi^n``) and its outputs are scored against the task's continuation of the edited window
``V y_e`` (``y_e``: ``y`` with ``G_k`` taken from ``y'``) at the entries where the edit flips the
target's sign (``>= 0`` read as ``+``): there the unedited run scores about 0 and a run that
ignores the edit scores 0, a random one 0.5.  The interchange-intervention accuracy (IIA) is
the decided sign accuracy (`verify.checks.decided_sign_accuracy`) over those entries, per
variable and pooled over all (the check's value).

**Ablation**.  The whole live component is projected out, ``x_a = x - A A^+ x`` (oblique and
orthogonal coincide for the whole image), the net runs the same ``s`` steps and its outputs are
scored against the original continuation.  An output is *decided* when it is an answer by the
readout check's rule: past ``readout.margin`` of its target at the net's own positive gain per
output dimension ``c_j`` (fitted on the unedited runs, `verify.scoring.readout_margin`), i.e.
``|y_j| > margin c_j |x_j|``.  A residual far below the net's answers (the cubic remainder of a
near-linear tanh circuit, about 1 % of its outputs) is no answer, whatever its sign.  The
accuracy over the ``n`` decided outputs must be at chance:
``|acc - 1/2| <= z sqrt(1/4 / n_eff)``, the binomial spread of chance accuracy times
``z = binding.ablation`` (`verify.tolerances`).  Under the null (outputs independent of the
window) each output is right with probability 1/2 independently of the others exactly when the
targets it is scored on are independent fair signs; the ``s d`` targets of one window are linear
in its ``r`` live values through the map ``K`` (``s d x r``), so they hold only ``rank K``
independent signs (64 of 64 for T1, 36 of 64 for T2..T4) and the decided outputs count
``n_eff = n rank K / (s d)``.  No decided output (the exact circuit, whose state is all live
component) is chance by definition.

One batched rollout serves every edited, unedited and ablated state: ``(V + 2) P`` states for
``s`` steps (``V <= s`` variables, ``P`` pairs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.linalg

from emt.numerics.data import continue_sequence
from emt.numerics.dynamics import Dynamics, rollout_dynamics
from emt.theory.effective import live_coordinates
from emt.theory.taskspec import TaskSpec
from emt.verify.checks import CheckResult, finite
from emt.verify.scoring import ZERO_BAND, decided_sign_accuracy, readout_margin

__all__ = ["SlotFrame", "slot_frame", "Interventions", "interchange_and_ablation",
           "binding_checks", "BINDING_CHECKS", "PROJECTIONS"]

BINDING_CHECKS = ("binding.interchange", "binding.ablation")
PROJECTIONS = ("oblique", "orthogonal")
UNIT_ROW = 1e-9  # a row of Pi_Phi within this of a unit row is one (its entries are rationals)


@dataclass(frozen=True, eq=False)
class SlotFrame:
    """Slot-aligned live coordinates (module docstring).  ``live``: the ``r`` live slots ``L``
    (ascending); ``variable``: the block (``k``, 0 = oldest step) of each; ``to_window``: ``V``
    (``n x r``, ``Pi_Phi w = V y``); ``from_z``: ``Q_L`` (``r x r``, ``y = Q_L z``); ``rule``:
    how ``L`` was chosen (``"unit rows"`` or ``"pivoted"``)."""

    task: TaskSpec
    live: np.ndarray
    variable: np.ndarray
    to_window: np.ndarray
    from_z: np.ndarray
    rule: str

    def variables(self) -> list[int]:
        """The blocks that own at least one live slot, ascending."""
        return sorted({int(k) for k in self.variable})

    def positions(self, k: int) -> np.ndarray:
        """Indices into ``live`` of variable ``k``'s live slots ``G_k``."""
        return np.flatnonzero(self.variable == k)

    def values(self, windows: np.ndarray) -> np.ndarray:
        """``y = (Pi_Phi w)_L`` for windows ``w`` on the last axis (``... x n -> ... x r``)."""
        return (windows @ live_coordinates(self.task).coords.T) @ self.from_z.T


@lru_cache(maxsize=64)
def slot_frame(task: TaskSpec) -> SlotFrame:
    """The `SlotFrame` of ``task`` (cached)."""
    live = live_coordinates(task)
    P, Q, n, r = live.projector, live.basis, task.n_slots, live.rank
    unit = [i for i in range(n) if np.max(np.abs(P[i] - np.eye(n)[i])) <= UNIT_ROW]
    if len(unit) == r:
        rows, rule = np.array(unit), "unit rows"
    else:  # the r rows of Q that span its row space best
        rows, rule = np.sort(scipy.linalg.qr(Q.T, pivoting=True)[2][:r]), "pivoted"
    Q_L = Q[rows]
    return SlotFrame(task, rows, rows // task.d, Q @ np.linalg.inv(Q_L), Q_L, rule)


@dataclass(frozen=True)
class Interventions:
    """What `interchange_and_ablation` measured.  ``iia``: pooled interchange accuracy;
    ``per_variable``: ``{k: IIA of variable k}``; ``flipped``: scored entries (pooled);
    ``unedited``: the unedited runs' accuracy against the *original* target on the same entries
    (how well the net does its task there); ``ablated_accuracy``: accuracy over the ``decided``
    ablated outputs (``0.5`` when none); ``ablated_outputs``: all scored ablated outputs;
    ``finite``: whether every rollout stayed finite."""

    iia: float
    per_variable: dict[int, float]
    flipped: int
    unedited: float
    ablated_accuracy: float
    decided: int
    independent: float
    ablated_outputs: int
    pairs: int
    steps: int
    t0: int
    projection: str
    finite: bool


def _edited_states(frame: SlotFrame, B: np.ndarray, B_pinv: np.ndarray, x: np.ndarray,
                   x2: np.ndarray, projection: str) -> list[np.ndarray]:
    """The interchanged states, one ``P x D`` array per variable of ``frame``."""
    out = []
    y_hat, y_hat2 = x @ B_pinv.T, x2 @ B_pinv.T
    for k in frame.variables():
        G = frame.positions(k)
        if projection == "oblique":
            out.append(x + (y_hat2[:, G] - y_hat[:, G]) @ B[:, G].T)
        else:
            U = np.linalg.qr(B[:, G])[0]
            out.append(x + ((x2 - x) @ U) @ U.T)
    return out


def interchange_and_ablation(model: Dynamics, task: TaskSpec, A: np.ndarray, A_pinv: np.ndarray,
                             x: np.ndarray, x2: np.ndarray, w: np.ndarray, w2: np.ndarray,
                             t0: int, projection: str = "oblique",
                             margin: float = 0.5) -> Interventions:
    """Interchange each variable of the states ``x`` (``P x D``, the runs of windows ``w(t0)``,
    ``P x n``) with the runs ``x2`` of ``w2``, ablate the live image of ``x``, run ``s`` steps
    and score (module docstring).  ``A``/``A_pinv``: the fitted embedding and its decoder;
    ``margin``: the readout margin that makes an ablated output an answer."""
    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}; got "
                         f"{projection!r}")
    frame = slot_frame(task)
    s, d = task.s, task.d
    P = len(x)
    with np.errstate(all="ignore"):  # an overflowing model is judged, not warned about
        B, B_pinv = A @ np.linalg.inv(frame.from_z), frame.from_z @ A_pinv
        edited = _edited_states(frame, B, B_pinv, x, x2, projection)
        ablated = x - (x @ A_pinv.T) @ A.T
        start = np.concatenate([*edited, x, ablated])
        ok = bool(np.all(np.isfinite(start)))
        y = rollout_dynamics(model, np.zeros((len(start), s, d)),
                             state_init=np.nan_to_num(start), keep=(0, 0))[1]
    ok = ok and bool(np.all(np.isfinite(y)))
    y = y if ok else np.zeros_like(y)  # a run that overflowed is scored as silent (and fails)
    y_true, y_true2 = frame.values(w), frame.values(w2)
    target = continue_sequence(task, (y_true @ frame.to_window.T).reshape(P, s, d), s)
    sign = target >= 0
    per_variable: dict[int, float] = {}
    pooled_y, pooled_t, base_y, base_t = [], [], [], []
    for i, k in enumerate(frame.variables()):
        ye = y_true.copy()
        G = frame.positions(k)
        ye[:, G] = y_true2[:, G]
        t_e = continue_sequence(task, (ye @ frame.to_window.T).reshape(P, s, d), s)
        flip = (t_e >= 0) != sign
        if not np.any(flip):
            continue
        out = y[i * P:(i + 1) * P][flip]
        per_variable[k] = decided_sign_accuracy(out, t_e[flip])
        pooled_y.append(out)
        pooled_t.append(t_e[flip])
        base_y.append(y[-2 * P:-P][flip])
        base_t.append(target[flip])
    flipped = int(sum(len(v) for v in pooled_t))
    iia = decided_sign_accuracy(np.concatenate(pooled_y), np.concatenate(pooled_t)) \
        if flipped else 0.0
    unedited = decided_sign_accuracy(np.concatenate(base_y), np.concatenate(base_t)) \
        if flipped else 0.0
    abl = y[-P:]
    gain, _ = readout_margin(y[-2 * P:-P], target, margin)  # the net's own scale per output
    answer = margin * np.where(gain > 0, gain, np.inf) * np.abs(target)
    decided = (np.abs(abl) > np.maximum(answer, ZERO_BAND * np.maximum(1.0, np.abs(target)))) \
        & (target != 0)
    n_dec = int(decided.sum())
    acc = float(np.mean((abl[decided] >= 0) == sign[decided])) if n_dec else 0.5
    return Interventions(iia, per_variable, flipped, unedited, acc, n_dec,
                         n_dec * independent_targets(task) / (s * d), int(target.size), P, s,
                         t0, projection, ok)


@lru_cache(maxsize=64)
def independent_targets(task: TaskSpec) -> int:
    """``rank K``: how many independent values the first ``s`` output steps' ``s d`` targets
    hold, ``K`` the linear map from the live values ``y`` to them (module docstring)."""
    frame = slot_frame(task)
    s, d = task.s, task.d
    r = len(frame.live)
    K = continue_sequence(task, frame.to_window.T.reshape(r, s, d), s).reshape(r, s * d)
    return int(np.linalg.matrix_rank(K))


def binding_checks(iv: Interventions, tol: Mapping[str, float], subject: str,
                   coordinates: str = "h") -> list[CheckResult]:
    """``binding.interchange`` (pooled IIA ``>= binding.interchange``) and ``binding.ablation``
    (``|acc - 1/2| <= binding.ablation * sqrt(1/4 / n_decided)``) from `Interventions`;
    ``coordinates`` names the state the edits were made in ("h" or "a")."""
    where = "h" if coordinates == "h" else "the pre-activation a"
    how = (f"{iv.projection} projection on the fitted embedding's live-slot columns in {where}, "
           f"{iv.pairs} window pairs, intervened at t0 = {iv.t0}, {iv.steps} steps scored")
    bar = float(tol["binding.interchange"])
    per = "; ".join(f"x({k}) {v:.3f}" for k, v in iv.per_variable.items())
    metrics: dict[str, float] = {f"iia_variable_{k}": v for k, v in iv.per_variable.items()}
    metrics.update(flipped_entries=iv.flipped, unedited_accuracy=iv.unedited,
                   oblique=float(iv.projection == "oblique"))
    if not iv.finite:
        detail = "the model's states overflowed or became NaN in the intervened runs; " + how
    elif not iv.flipped:
        detail = "no edit flipped a target sign (no variable is read): nothing to score; " + how
    else:
        detail = (f"IIA {iv.iia:.4f} (>= {bar:g}) over {iv.flipped} target entries whose sign "
                  f"the edit flips (per variable, block k = 0 oldest: {per}); the unedited runs "
                  f"score {iv.unedited:.3f} on them against the original target; {how}")
    passed = iv.finite and iv.flipped > 0 and iv.iia >= bar
    interchange = CheckResult("binding.interchange", subject, finite(iv.iia), bar, ">=",
                              bool(passed), detail, {k: finite(v) for k, v in metrics.items()})
    z = float(tol["binding.ablation"])
    spread = float(np.sqrt(0.25 / iv.independent)) if iv.decided else 0.0
    gap = abs(iv.ablated_accuracy - 0.5)
    detail = (f"live image A A^+ x projected out at t0 = {iv.t0}: sign accuracy "
              f"{iv.ablated_accuracy:.4f} over {iv.decided} of {iv.ablated_outputs} outputs "
              f"decided (|y| past readout.margin of the target at the net's own gain), "
              f"{iv.steps} steps; |acc - 0.5| = {gap:.4f} "
              f"against the chance bar {z:g} x sqrt(0.25 / {iv.independent:.0f}) = "
              f"{z * spread:.4f} (binomial spread of chance accuracy over the decided outputs' "
              f"independent targets, z = binding.ablation)")
    if not iv.decided:
        detail += "; no decided output: the ablated state carries nothing to the readout"
    ablation = CheckResult("binding.ablation", subject, finite(gap), z * spread, "<=",
                           bool(iv.finite and gap <= z * spread), detail,
                           {"accuracy": iv.ablated_accuracy, "decided": iv.decided,
                            "independent": iv.independent, "outputs": iv.ablated_outputs,
                            "z": z})
    return [interchange, ablation]

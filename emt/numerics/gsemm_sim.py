"""Numerical confirmation of the GSEMM -> RNN reduction (docs/science.md): integrate the continuous
GSEMM and watch it approach the reduction's discrete map as ``T_h, T_d -> 0`` with ``T_f = 1``.

The system (tanh features ``sigma_f = tanh``, linear memory ``sigma_h = id``, couplings
``a_s = a_c = 1`` unless given):

    T_f dV_f/dt = sqrt(a_s) Xi V_h - V_f
    T_h dV_h/dt = sqrt(a_s) Xi^T tanh(V_f) + a_c Phi^T Xi^T V_d - V_h
    T_d dV_d/dt = tanh(V_f) - V_d

What it approaches, precisely.  As ``T_h, T_d -> 0`` the fast variables are slaved (Tikhonov):
``V_d = tanh(V_f)``, ``V_h = (I + Phi^T) Xi^T tanh(V_f)``, leaving the *flow*

    (slaved flow)   T_f dV_f/dt = W tanh(V_f) - V_f,        W = Xi (I + Phi^T) Xi^T.

The reduction's map ``V_f(t+1) = W tanh(V_f(t))`` is the forward-Euler step of size ``T_f = 1``
of this flow, not its time-1 map; the two differ by an O(1) discretisation gap that no choice
of ``T_h, T_d`` removes (reported as ``euler_gap``).  So we compare each integration with the
object it converges to:

1. ``flow_error``: the full continuous system (all three equations, stiff solver) sampled at
   integer times vs the slaved flow sampled at the same times.  This isolates the two limits
   ``T_h -> 0`` and ``T_d -> 0``; the error is O(T_h + T_d).
2. ``map_error``: the reduction's own setting, "V_f discretised with step T_f = 1" while the
   memory and delay neurons run in continuous time.  Over each unit interval ``[k, k+1]`` the
   feature velocity is held at its value at ``k`` (forward Euler: ``V_f`` moves on the straight
   line from ``V_f(k)`` to ``Xi V_h(k)``), and ``V_h``, ``V_d`` are integrated continuously
   (stiff solver) driven by ``tanh(V_f(s))`` on that line.  Sampled at integer times this is
   compared with iterating the map ``V_f(t+1) = W tanh(V_f(t))`` from the same ``V_f(0)``; the
   map is exact in the limit and the error is O(T_h + T_d).

Both start on the slow manifold (``V_d(0) = tanh(V_f(0))``, ``V_h(0) = (I+Phi^T) Xi^T
tanh(V_f(0))``), so no initial layer hides the rate.  Errors are max-norm over the sampled
steps ``t = 1..steps``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

from emt.theory.reduction import discrete_map_numeric

__all__ = ["GsemmNetwork", "random_network", "simulate_full", "simulate_slaved",
           "simulate_euler_features", "iterate_map", "convergence_table", "SOLVER_RTOL",
           "SOLVER_ATOL"]

# Integration tolerances: well below the smallest error the table resolves (~1e-5 at
# T_h = T_d = 1e-5), so solver error does not masquerade as model error.
SOLVER_RTOL = 1e-10
SOLVER_ATOL = 1e-12


@dataclass(frozen=True)
class GsemmNetwork:
    """Synapses of a GSEMM: memories ``xi`` (N_f x N_h) and transitions ``phi`` (N_h x N_h)."""

    xi: np.ndarray
    phi: np.ndarray
    a_s: float = 1.0
    a_c: float = 1.0

    def __post_init__(self) -> None:
        xi = np.asarray(self.xi, dtype=np.float64)
        phi = np.asarray(self.phi, dtype=np.float64)
        if xi.ndim != 2 or phi.shape != (xi.shape[1], xi.shape[1]):
            raise ValueError(f"xi must be N_f x N_h and phi N_h x N_h; got {xi.shape}, "
                             f"{phi.shape}")
        if not (np.all(np.isfinite(xi)) and np.all(np.isfinite(phi))):
            raise ValueError("xi and phi must be finite")
        if not (self.a_s > 0 and self.a_c > 0):
            raise ValueError(f"couplings must be positive; got a_s={self.a_s}, a_c={self.a_c}")
        object.__setattr__(self, "xi", xi)
        object.__setattr__(self, "phi", phi)

    @property
    def n_f(self) -> int:
        return int(self.xi.shape[0])

    @property
    def n_h(self) -> int:
        return int(self.xi.shape[1])

    def slaved_memory(self, v_f: np.ndarray) -> np.ndarray:
        """``V_h = sqrt(a_s) Xi^T tanh(V_f) + a_c Phi^T Xi^T tanh(V_f)`` (T_h, T_d -> 0)."""
        s = np.tanh(v_f)
        return np.sqrt(self.a_s) * self.xi.T @ s + self.a_c * self.phi.T @ self.xi.T @ s

    def discrete_map(self, v_f: np.ndarray) -> np.ndarray:
        """The reduction's map ``Xi (I + Phi^T) Xi^T tanh(V_f)`` (needs ``a_s = a_c = 1``)."""
        if self.a_s != 1.0 or self.a_c != 1.0:
            raise ValueError("the reduction's map assumes a_s = a_c = 1")
        return discrete_map_numeric(self.xi, self.phi, v_f)


def random_network(n_f: int = 6, n_h: int = 3, seed: int = 0, gain: float = 1.0) -> GsemmNetwork:
    """Memories: ``gain`` times orthonormal columns (QR of a Gaussian), so tanh works in its
    nonlinear range; transitions: the cyclic permutation mu -> mu + 1 (a sequence of memories)
    plus a small Gaussian perturbation, all from ``seed``."""
    if n_h > n_f or n_h < 1:
        raise ValueError(f"need 1 <= n_h <= n_f; got n_f={n_f}, n_h={n_h}")
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n_f, n_h)))
    phi = np.roll(np.eye(n_h), 1, axis=0) + 0.1 * rng.standard_normal((n_h, n_h))
    return GsemmNetwork(gain * q, phi)


def _split(net: GsemmNetwork, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return y[: net.n_f], y[net.n_f : net.n_f + net.n_h], y[net.n_f + net.n_h :]


def _initial_state(net: GsemmNetwork, v_f0: np.ndarray) -> np.ndarray:
    return np.concatenate([v_f0, net.slaved_memory(v_f0), np.tanh(v_f0)])


def simulate_full(net: GsemmNetwork, v_f0: np.ndarray, t_h: float, t_d: float, steps: int,
                  t_f: float = 1.0) -> np.ndarray:
    """The full GSEMM (stiff Radau solver), ``V_f`` at ``t = 0..steps``: shape
    ``(steps + 1, N_f)``."""
    a, c, xi, phi = np.sqrt(net.a_s), net.a_c, net.xi, net.phi
    n_f, n_h = net.n_f, net.n_h
    coupling = c * phi.T @ xi.T

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        v_f, v_h, v_d = _split(net, y)
        s = np.tanh(v_f)
        return np.concatenate([(a * xi @ v_h - v_f) / t_f,
                               (a * xi.T @ s + coupling @ v_d - v_h) / t_h,
                               (s - v_d) / t_d])

    def jac(_t: float, y: np.ndarray) -> np.ndarray:
        ds = 1.0 - np.tanh(y[:n_f]) ** 2
        j = np.zeros((len(y), len(y)))
        j[:n_f, :n_f] = -np.eye(n_f) / t_f
        j[:n_f, n_f : n_f + n_h] = a * xi / t_f
        j[n_f : n_f + n_h, :n_f] = a * xi.T * ds / t_h
        j[n_f : n_f + n_h, n_f : n_f + n_h] = -np.eye(n_h) / t_h
        j[n_f : n_f + n_h, n_f + n_h :] = coupling / t_h
        j[n_f + n_h :, :n_f] = np.diag(ds) / t_d
        j[n_f + n_h :, n_f + n_h :] = -np.eye(n_f) / t_d
        return j

    sol = solve_ivp(rhs, (0.0, float(steps)), _initial_state(net, v_f0), method="Radau",
                    t_eval=np.arange(steps + 1.0), rtol=SOLVER_RTOL, atol=SOLVER_ATOL, jac=jac)
    if not sol.success:
        raise RuntimeError(f"GSEMM integration failed: {sol.message}")
    return sol.y[:n_f].T


def simulate_slaved(net: GsemmNetwork, v_f0: np.ndarray, steps: int,
                    t_f: float = 1.0) -> np.ndarray:
    """The slaved flow ``T_f dV_f/dt = sqrt(a_s) Xi V_h(V_f) - V_f`` at ``t = 0..steps``."""
    a = np.sqrt(net.a_s)

    def rhs(_t: float, v_f: np.ndarray) -> np.ndarray:
        return (a * net.xi @ net.slaved_memory(v_f) - v_f) / t_f

    sol = solve_ivp(rhs, (0.0, float(steps)), np.asarray(v_f0, float), method="DOP853",
                    t_eval=np.arange(steps + 1.0), rtol=SOLVER_RTOL, atol=SOLVER_ATOL)
    if not sol.success:
        raise RuntimeError(f"slaved-flow integration failed: {sol.message}")
    return sol.y.T


def simulate_euler_features(net: GsemmNetwork, v_f0: np.ndarray, t_h: float, t_d: float,
                            steps: int) -> np.ndarray:
    """``V_f`` advanced by forward-Euler steps of size ``T_f = 1`` (velocity held over each unit
    interval), ``V_h`` and ``V_d`` integrated continuously (Radau) in between; ``V_f`` at
    ``t = 0..steps`` (module docstring, item 2)."""
    a, xi, n_f, n_h = np.sqrt(net.a_s), net.xi, net.n_f, net.n_h
    coupling = net.a_c * net.phi.T @ xi.T
    jac = np.zeros((n_h + n_f, n_h + n_f))
    jac[:n_h, :n_h] = -np.eye(n_h) / t_h
    jac[:n_h, n_h:] = coupling / t_h
    jac[n_h:, n_h:] = -np.eye(n_f) / t_d
    state = _initial_state(net, np.asarray(v_f0, float))
    v_f, fast = state[:n_f], state[n_f:]
    out = [v_f]
    for _ in range(steps):
        velocity = a * xi @ fast[:n_h] - v_f  # T_f = 1

        def rhs(s: float, y: np.ndarray, v0: np.ndarray = v_f, vel: np.ndarray = velocity
                ) -> np.ndarray:
            sig = np.tanh(v0 + s * vel)
            return np.concatenate([(a * xi.T @ sig + coupling @ y[n_h:] - y[:n_h]) / t_h,
                                   (sig - y[n_h:]) / t_d])

        sol = solve_ivp(rhs, (0.0, 1.0), fast, method="Radau", rtol=SOLVER_RTOL,
                        atol=SOLVER_ATOL, jac=lambda _s, _y: jac)
        if not sol.success:
            raise RuntimeError(f"GSEMM integration failed: {sol.message}")
        v_f, fast = v_f + velocity, sol.y[:, -1]
        out.append(v_f)
    return np.array(out)


def iterate_map(net: GsemmNetwork, v_f0: np.ndarray, steps: int) -> np.ndarray:
    """``V_f(t+1) = Xi (I + Phi^T) Xi^T tanh(V_f(t))`` at ``t = 0..steps``."""
    out = [np.asarray(v_f0, float)]
    for _ in range(steps):
        out.append(net.discrete_map(out[-1]))
    return np.array(out)


def convergence_table(t_h_values: Iterable[float], t_d_values: Iterable[float],
                      steps: int = 8, seed: int = 0, n_f: int = 6, n_h: int = 3,
                      pairs: str = "grid") -> pd.DataFrame:
    """Errors against ``(T_h, T_d)`` for a random network (``random_network(n_f, n_h, seed)``)
    and a random ``V_f(0)`` from the same seed.

    ``pairs="grid"`` uses every combination, ``"zip"`` pairs the lists elementwise.  Columns:
    ``T_h, T_d, flow_error`` (full system vs slaved flow), ``map_error`` (Euler features with
    continuous V_h, V_d vs the reduction's map) and ``euler_gap`` (slaved flow vs the map: the
    discretisation gap that does not depend on ``T_h, T_d``).
    """
    t_hs, t_ds = list(t_h_values), list(t_d_values)
    if pairs == "grid":
        combos = [(th, td) for th in t_hs for td in t_ds]
    elif pairs == "zip":
        combos = list(zip(t_hs, t_ds, strict=True))
    else:
        raise ValueError(f"pairs must be 'grid' or 'zip'; got {pairs!r}")
    if any(not (th > 0 and td > 0) for th, td in combos):
        raise ValueError("T_h and T_d must be positive")
    net = random_network(n_f, n_h, seed)
    v_f0 = np.random.default_rng(seed + 1).standard_normal(n_f)
    slaved = simulate_slaved(net, v_f0, steps)
    mapped = iterate_map(net, v_f0, steps)
    gap = float(np.max(np.abs(slaved[1:] - mapped[1:])))
    rows = []
    for th, td in combos:
        full = simulate_full(net, v_f0, th, td, steps)
        euler = simulate_euler_features(net, v_f0, th, td, steps)
        rows.append({"T_h": th, "T_d": td,
                     "flow_error": float(np.max(np.abs(full[1:] - slaved[1:]))),
                     "map_error": float(np.max(np.abs(euler[1:] - mapped[1:]))),
                     "euler_gap": gap})
    return pd.DataFrame(rows)

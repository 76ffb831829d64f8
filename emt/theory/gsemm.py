"""GSEMM, the General Sequential Episodic Memory Model (docs/science.md), and its energy.

State: feature neurons ``V_f`` (N_f), memory neurons ``V_h`` (N_h), delay signal ``V_d`` (N_f);
synapses ``Xi`` (N_f x N_h) and ``Phi`` (N_h x N_h); ``sigma_f = grad L_f``,
``sigma_h = grad L_h`` with convex Lagrangians (Hessians ``H_f``, ``H_h`` positive semidefinite):

    T_f dV_f/dt = sqrt(a_s) Xi sigma_h(V_h) - V_f
    T_h dV_h/dt = sqrt(a_s) Xi^T sigma_f(V_f) + a_c Phi^T Xi^T V_d - V_h
    T_d dV_d/dt = sigma_f(V_f) - V_d

    E = [V_f^T sigma_f - L_f] + [V_h^T sigma_h - L_h]
        - sqrt(a_s) sigma_f^T Xi sigma_h - a_c V_d^T Xi Phi sigma_h

Then ``dE/dV_f = -T_f H_f dV_f/dt`` and ``dE/dV_h = -T_h H_h dV_h/dt``, so with ``V_d`` held
fixed ``dE/dt = -T_f V_f'^T H_f V_f' - T_h V_h'^T H_h V_h' <= 0``.  With ``V_d`` moving there is
the extra term ``(dE/dV_d)^T V_d' = -a_c (Xi Phi sigma_h)^T V_d'`` of either sign: E is *not* a
Lyapunov function of the full system, which is what lets the state leave one memory for the next.

`GsemmSystem` builds all of this for explicit sizes with generic symbolic entries; the
`derivation` function turns it into checked steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from emt.theory.derivation import Derivation, Step

__all__ = ["GsemmSystem", "gsemm_system", "derivation", "lagrangian_general", "lagrangian_tanh",
           "lagrangian_linear"]


def _vec(prefix: str, n: int) -> sp.Matrix:
    return sp.Matrix([sp.Symbol(f"{prefix}_{i + 1}", real=True) for i in range(n)])


def _mat(prefix: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{prefix}_{i + 1}{j + 1}", real=True))


def lagrangian_general(name: str, v: sp.Matrix) -> sp.Expr:
    """A generic Lagrangian ``L(v_1, ..., v_n)`` (an undefined sympy function)."""
    return sp.Function(name)(*v)


def lagrangian_tanh(v: sp.Matrix) -> sp.Expr:
    """``L_f = sum_i log cosh v_i``, so ``sigma_f = tanh`` and ``H_f = diag(1 - tanh^2)``."""
    return sum((sp.log(sp.cosh(x)) for x in v), sp.Integer(0))


def lagrangian_linear(v: sp.Matrix) -> sp.Expr:
    """``L_h = V_h^T V_h / 2``, so ``sigma_h`` is the identity and ``H_h = I``."""
    return (v.T * v)[0, 0] / 2


def _grad(expr: sp.Expr, v: sp.Matrix) -> sp.Matrix:
    return sp.Matrix([sp.diff(expr, x) for x in v])


@dataclass(frozen=True)
class GsemmSystem:
    """The GSEMM equations and energy for explicit sizes (all fields sympy objects)."""

    v_f: sp.Matrix
    v_h: sp.Matrix
    v_d: sp.Matrix
    xi: sp.Matrix
    phi: sp.Matrix
    l_f: sp.Expr
    l_h: sp.Expr
    sigma_f: sp.Matrix
    sigma_h: sp.Matrix
    hess_f: sp.Matrix
    hess_h: sp.Matrix
    t_f: sp.Symbol
    t_h: sp.Symbol
    t_d: sp.Symbol
    a_s: sp.Symbol
    a_c: sp.Symbol
    dv_f: sp.Matrix  # dV_f/dt
    dv_h: sp.Matrix
    dv_d: sp.Matrix
    energy: sp.Expr

    def grad_energy(self, which: str) -> sp.Matrix:
        """``dE/dV_which`` for ``which`` in ``f``, ``h``, ``d``."""
        v = {"f": self.v_f, "h": self.v_h, "d": self.v_d}[which]
        return _grad(self.energy, v)

    def energy_rate(self, delay_moving: bool) -> sp.Expr:
        """``dE/dt`` along the flow (chain rule), with or without the ``V_d`` term."""
        rate = (self.grad_energy("f").T * self.dv_f + self.grad_energy("h").T * self.dv_h)[0, 0]
        if delay_moving:
            rate += (self.grad_energy("d").T * self.dv_d)[0, 0]
        return rate


def gsemm_system(n_f: int = 3, n_h: int = 2, lagrangians: str = "general") -> GsemmSystem:
    """Build `GsemmSystem` with symbolic ``V_f, V_h, V_d, Xi, Phi`` and positive ``T``'s and
    couplings.  ``lagrangians``: ``"general"`` (undefined ``L_f``, ``L_h``) or ``"concrete"``
    (tanh features, linear memory)."""
    v_f, v_h, v_d = _vec("v_f", n_f), _vec("v_h", n_h), _vec("v_d", n_f)
    xi, phi = _mat("xi", n_f, n_h), _mat("phi", n_h, n_h)
    t_f, t_h, t_d, a_s, a_c = sp.symbols("T_f T_h T_d a_s a_c", positive=True)
    if lagrangians == "general":
        l_f, l_h = lagrangian_general("L_f", v_f), lagrangian_general("L_h", v_h)
    elif lagrangians == "concrete":
        l_f, l_h = lagrangian_tanh(v_f), lagrangian_linear(v_h)
    else:
        raise ValueError(f"lagrangians must be 'general' or 'concrete'; got {lagrangians!r}")
    sigma_f, sigma_h = _grad(l_f, v_f), _grad(l_h, v_h)
    hess_f, hess_h = sp.hessian(l_f, list(v_f)), sp.hessian(l_h, list(v_h))
    dv_f = (sp.sqrt(a_s) * xi * sigma_h - v_f) / t_f
    dv_h = (sp.sqrt(a_s) * xi.T * sigma_f + a_c * phi.T * xi.T * v_d - v_h) / t_h
    dv_d = (sigma_f - v_d) / t_d
    energy = (
        (v_f.T * sigma_f)[0, 0] - l_f + (v_h.T * sigma_h)[0, 0] - l_h
        - sp.sqrt(a_s) * (sigma_f.T * xi * sigma_h)[0, 0]
        - a_c * (v_d.T * xi * phi * sigma_h)[0, 0]
    )
    return GsemmSystem(v_f, v_h, v_d, xi, phi, l_f, l_h, sigma_f, sigma_h, hess_f, hess_h,
                       t_f, t_h, t_d, a_s, a_c, dv_f, dv_h, dv_d, energy)


def _steps_for(system: GsemmSystem, label: str, assumptions: tuple[str, ...]) -> list[Any]:
    g = system
    return [
        Step(
            f"feature gradient ({label})",
            g.grad_energy("f"),
            -g.t_f * g.hess_f * g.dv_f,
            assumptions,
            "The gradient of E in the feature neurons is the feature velocity weighted by "
            "the Hessian of L_f.",
            r"\frac{\partial E}{\partial V_f} = -T_f\, H_f\, \frac{dV_f}{dt}",
        ),
        Step(
            f"memory gradient ({label})",
            g.grad_energy("h"),
            -g.t_h * g.hess_h * g.dv_h,
            assumptions,
            "Likewise for the memory neurons (H_h is symmetric).",
            r"\frac{\partial E}{\partial V_h} = -T_h\, H_h\, \frac{dV_h}{dt}",
        ),
        Step(
            f"energy decreases with the delay held fixed ({label})",
            g.energy_rate(delay_moving=False),
            (-g.t_f * g.dv_f.T * g.hess_f * g.dv_f - g.t_h * g.dv_h.T * g.hess_h * g.dv_h)[0, 0],
            assumptions + ("V_d held fixed",),
            "By the chain rule; both quadratic forms are >= 0 because convex Lagrangians have "
            "positive semidefinite Hessians, so dE/dt <= 0.",
            r"\frac{dE}{dt}\Big|_{V_d\ \mathrm{fixed}} = -T_f\, \dot V_f^\top H_f \dot V_f"
            r" - T_h\, \dot V_h^\top H_h \dot V_h \le 0",
        ),
    ]


def derivation(n_f: int = 3, n_h: int = 2) -> Any:
    """The GSEMM energy derivation as a checked `theory.derivation.Derivation`."""
    general = gsemm_system(n_f, n_h, "general")
    concrete = gsemm_system(n_f, n_h, "concrete")
    convex = ("L_f, L_h convex", f"N_f = {n_f}, N_h = {n_h}, generic symbolic entries")
    steps = _steps_for(general, "general Lagrangians", convex)
    steps.append(
        Step(
            "tanh features",
            concrete.sigma_f.row_join(concrete.hess_f),
            sp.Matrix([sp.tanh(v) for v in concrete.v_f]).row_join(
                sp.diag(*[1 - sp.tanh(v) ** 2 for v in concrete.v_f])
            ),
            ("L_f = sum log cosh V_f",),
            "The feature Lagrangian gives sigma_f = tanh and a diagonal Hessian with entries "
            "in (0, 1]: convex. The linear memory Lagrangian gives sigma_h = identity, H_h = I.",
            r"L_f = \sum_i \log\cosh V_{f,i} \;\Rightarrow\; \sigma_f = \tanh,\quad"
            r" H_f = \mathrm{diag}\left(1 - \tanh^2 V_f\right)",
        )
    )
    steps += _steps_for(
        concrete, "tanh features, linear memory",
        ("L_f = sum log cosh V_f", "L_h = V_h^T V_h / 2", f"N_f = {n_f}, N_h = {n_h}"),
    )
    g = concrete
    # With V_d moving: at V_d = sigma_f + Xi Phi sigma_h the delay term is a_c |Xi Phi V_h|^2/T_d.
    drift = g.xi * g.phi * g.sigma_h
    at = dict(zip(g.v_d, g.sigma_f + drift, strict=True))
    moving = g.energy_rate(delay_moving=True).subs(at)
    fixed = g.energy_rate(delay_moving=False).subs(at)
    steps.append(
        Step(
            "the delay term can raise the energy",
            moving,
            fixed + g.a_c * (drift.T * drift)[0, 0] / g.t_d,
            ("V_d moving", "V_d = sigma_f(V_f) + Xi Phi sigma_h(V_h) (one admissible state)"),
            "With V_d moving, dE/dt gains (dE/dV_d)^T dV_d/dt = -a_c (Xi Phi sigma_h)^T "
            "(sigma_f - V_d)/T_d. At the state shown it equals a_c |Xi Phi sigma_h|^2 / T_d, "
            "positive and unbounded as T_d shrinks, so it outweighs the two non-positive "
            "terms: E is not a Lyapunov function of the full system.",
            r"\frac{dE}{dt} = \frac{dE}{dt}\Big|_{V_d\ \mathrm{fixed}}"
            r" + \frac{a_c}{T_d}\,\lVert \Xi \Phi \sigma_h(V_h) \rVert^2",
        )
    )
    intro = (
        "The General Sequential Episodic Memory Model (GSEMM) and its energy, checked "
        f"symbolically for N_f = {n_f} feature and N_h = {n_h} memory neurons with generic "
        "symbolic synapses, first for general convex Lagrangians and then for the choices "
        "used in the reduction (tanh features, linear memory neurons).\n\n"
        "$$\n"
        r"T_f \dot V_f = \sqrt{a_s}\, \Xi\, \sigma_h(V_h) - V_f,\quad "
        r"T_h \dot V_h = \sqrt{a_s}\, \Xi^\top \sigma_f(V_f) + a_c \Phi^\top \Xi^\top V_d - V_h,"
        r"\quad T_d \dot V_d = \sigma_f(V_f) - V_d" "\n$$\n\n"
        "$$\n"
        r"E = \left[V_f^\top \sigma_f - L_f\right] + \left[V_h^\top \sigma_h - L_h\right]"
        r" - \sqrt{a_s}\, \sigma_f^\top \Xi\, \sigma_h - a_c\, V_d^\top \Xi \Phi\, \sigma_h"
        "\n$$\n\n"
        r"with $\sigma_f = \nabla L_f$, $\sigma_h = \nabla L_h$ and Hessians $H_f$, $H_h$."
    )
    outro = (
        "**Conclusion.** While the delay signal V_d is held fixed, E never increases: the fast "
        "dynamics settle into a memory. With V_d moving, E is not a Lyapunov function (last "
        "step): the slowly moving delay tilts the energy surface, and the state walks from "
        "memory xi_mu to memory xi_Phi(mu). That is what makes the memories sequential."
    )
    return Derivation("GSEMM: equations and energy", tuple(steps), intro=intro, outro=outro)

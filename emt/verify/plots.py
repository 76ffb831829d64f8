"""Report figures (matplotlib, Agg backend), returned as PNG bytes.

* eigenvalues of W_hh and of Phi in the complex plane, unit circle drawn, beside their moduli
  in decreasing order (where W_hh's memory modes sit against the unit gain, and its gap);
* Phi_hat as a heatmap with grid lines between slots' blocks (the paper's Figure 4);
* the hidden state in the privileged basis, ``Psi* h(t)``, over time (the paper's Figure 3);
* the same in the effective circuit's fitted basis, beside the true live slots ``Pi_Phi w(t)``.
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["eigenvalue_figure", "phi_hat_figure", "trajectory_figure",
           "effective_trajectory_figure"]


def _pyplot():
    # matplotlib costs ~0.5 s to import: only a report that draws figures pays for it
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def eigenvalue_figure(theory: np.ndarray, trained: np.ndarray, threshold: float,
                      title: str = "", n_modes: int | None = None) -> bytes:
    """Left: trained (dots) and theory (open circles) eigenvalues, unit and threshold circles.
    Right: the moduli in decreasing order, the first ``n_modes`` (Phi's nonzero count) of
    W_hh marked, so a mode at |lambda| 1.2 and the gap after the last mode are visible."""
    plt = _pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4.6))
    angle = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(angle), np.sin(angle), color="0.6", lw=1, label="unit circle")
    ax.plot(threshold * np.cos(angle), threshold * np.sin(angle), color="0.8", lw=1, ls="--",
            label=f"|lambda| = {threshold:g}")
    ax.scatter(trained.real, trained.imag, s=12, color="tab:blue", label="W_hh (trained)")
    ax.scatter(theory.real, theory.imag, s=60, facecolors="none", edgecolors="tab:red",
               label="Phi (theory)")
    ax.set_aspect("equal")
    ax.set_xlabel("Re lambda")
    ax.set_ylabel("Im lambda")
    ax.set_title(title or "eigenvalues")
    ax.legend(loc="upper right", fontsize=7)
    mod_w = np.sort(np.abs(trained))[::-1]
    mod_t = np.sort(np.abs(theory))[::-1]
    k = len(mod_t) if n_modes is None else int(n_modes)
    idx = np.arange(1, mod_w.size + 1)
    bx.plot(idx, mod_w, ".", color="tab:blue", ms=4, label="|lambda| of W_hh")
    bx.plot(idx[:k], mod_w[:k], "o", mfc="none", color="tab:blue", ms=6,
            label=f"its {k} memory modes")
    bx.plot(np.arange(1, k + 1), mod_t[:k], "_", color="tab:red", ms=10, mew=2,
            label="|lambda| of Phi (nonzero)")
    bx.axhline(1.0, color="0.6", lw=1)
    bx.axvline(k + 0.5, color="0.8", lw=1, ls="--")
    bx.set_xlim(0, min(mod_w.size, 2 * k + 10) + 1)
    bx.set_xlabel("index (decreasing modulus)")
    bx.set_ylabel("|lambda|")
    bx.set_title("moduli")
    bx.legend(loc="upper right", fontsize=7)
    return _png(fig)


def phi_hat_figure(phi_hat: np.ndarray, block_starts: list[int], title: str = "") -> bytes:
    """Heatmap of Phi_hat (diverging colours, symmetric range) with block grid lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    vmax = float(np.max(np.abs(phi_hat))) or 1.0
    im = ax.imshow(phi_hat, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
    for b in block_starts:
        ax.axhline(b - 0.5, color="k", lw=0.6)
        ax.axvline(b - 0.5, color="k", lw=0.6)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title or "Phi_hat = Psi* W_hh Psi")
    ax.set_xlabel("slot (oldest block first)")
    ax.set_ylabel("slot")
    return _png(fig)


def trajectory_figure(coords: np.ndarray, s: int, block_starts: list[int],
                      title: str = "") -> bytes:
    """``coords[t, j] = (Psi* h(t))_j`` for one sequence: slots down, time across; the input
    phase ends at the dashed line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    vmax = float(np.max(np.abs(coords))) or 1.0
    im = ax.imshow(coords.T, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto",
                   interpolation="nearest")
    ax.axvline(s - 0.5, color="k", lw=1, ls="--")
    for b in block_starts:
        ax.axhline(b - 0.5, color="k", lw=0.4)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_xlabel("time step t")
    ax.set_ylabel("slot of Psi* h(t)")
    ax.set_title(title or "hidden state in the privileged basis")
    return _png(fig)


def effective_trajectory_figure(decoded: np.ndarray, truth: np.ndarray, times: np.ndarray,
                                s: int, d: int, title: str = "") -> bytes:
    """The paper's Figure 3 in the effective circuit's fitted basis: ``decoded[t, j]`` (the
    state read in the fitted slot basis) beside ``truth[t, j]`` (the live slots
    ``Pi_Phi w(t)``), slots down, time across; block lines every ``d`` slots.  A circuit shows
    the same picture twice, each slot's value moving one block per step."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    vmax = float(max(np.max(np.abs(decoded)), np.max(np.abs(truth)))) or 1.0
    extent = (float(times[0]) - 0.5, float(times[-1]) + 0.5, decoded.shape[1] - 0.5, -0.5)
    for ax, data, name in ((axes[0], decoded, "state in the fitted basis"),
                           (axes[1], truth, "live slots Pi_Phi w(t)")):
        im = ax.imshow(data.T, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto",
                       interpolation="nearest", extent=extent)
        for b in range(d, s * d, d):
            ax.axhline(b - 0.5, color="k", lw=0.4)
        ax.set_xlabel("time step t")
        ax.set_title(name)
    axes[0].set_ylabel("slot (oldest block first)")
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.suptitle(title or "effective circuit: hidden state in the fitted slot basis")
    return _png(fig)

"""Report figures (matplotlib, Agg backend), returned as PNG bytes.

* eigenvalues of W_hh and of Phi in the complex plane, unit circle drawn (the spectrum figure);
* Phi_hat as a heatmap with grid lines between slots' blocks (the paper's Figure 4);
* the hidden state in the privileged basis, ``Psi* h(t)``, over time (the paper's Figure 3).
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["eigenvalue_figure", "phi_hat_figure", "trajectory_figure"]


def _pyplot():
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
                      title: str = "") -> bytes:
    """Trained (dots) and theory (open circles) eigenvalues, unit and threshold circles."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
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

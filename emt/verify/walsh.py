"""The Walsh spectrum of a model's state as a function of its +-1 input window (a descriptor).

A state ``f(u)`` (``u`` in ``{-1, +1}^n``, the ``n = s d`` input entries; ``f`` vector valued)
has the Walsh (Fourier) expansion ``f = sum_S f_S chi_S``, ``chi_S(u) = prod_{i in S} u_i``.
Its weight at degree ``k`` is ``W_k = sum_{|S| = k} |f_S|^2`` and ``sum_k W_k = E|f|^2``.  The
circuit's state is linear in the window, so all of its weight is at degree 1; a bias-free Elman
net is odd (no even degree), a gated cell can carry a constant and even terms.

**Estimator** (unbiased up to the least-squares fits' O(1/N) terms; it needs no regression on
the ``C(n, k)`` monomials, 41,664 of degree 3 for ``n = 64``).  The windows come in antithetic
pairs ``u, -u`` (``N`` distinct ``u``), so the even part ``f_e(u) = (f(u) + f(-u)) / 2`` (degrees
0, 2, ...) and the odd part ``f_o = (f(u) - f(-u)) / 2`` (degrees 1, 3, ...) are known exactly
at every ``u`` and ``E|f|^2 = E|f_e|^2 + E|f_o|^2`` over the sample.  The ``N`` windows are split
into two halves ``a``, ``b``:

* degrees 0 and 1: least-squares fits ``f_e ~ c`` and ``f_o ~ B u`` on each half; ``W_0 =
  <c_a, c_b>`` and ``W_1 = <B_a, B_b>`` (independent halves: the noise of one fit is
  uncorrelated with the other, so the products are unbiased; the noise scales with the
  residual, so a linear state gives ``W_1`` exactly);
* degrees 2 and 3: for independent uniform ``u, v``, ``E[<g(u), g(v)> K_k(u . v)] = W_k(g)``,
  ``K_k(m) = sum_{|S| = k} chi_S(u) chi_S(v)`` the elementary symmetric polynomial of the signs
  ``u_i v_i``, a function of ``m = u . v`` alone (Newton's identities with ``(u_i v_i)^2 = 1``):
  ``K_2 = (m^2 - n) / 2``, ``K_3 = (m^3 - 3 n m + 2 m) / 6``.  ``g`` is the residual of ``f_e``
  (degree 2) or ``f_o`` (degree 3) after the other half's degree-0/1 fit (``W_k(g) = W_k(f)`` for
  ``k >= 2``, and the U-statistic's noise, about ``sqrt(C(n, k)) E|g|^2 / N``, scales with the
  small residual, not with the state); the mean over the ordered pairs ``i != j`` of one half,
  the halves swapped and averaged (``se_k``: half their difference, a rough standard error).

Reported as fractions of the second moment ``E|f|^2``: ``degree_0 .. degree_3``, ``rest``
(degrees above 3 and the estimates' noise), ``even`` (``E|f_e|^2``, exactly 0 for an odd map such
as a bias-free Elman net).
"""

from __future__ import annotations

import numpy as np

__all__ = ["walsh_spectrum", "krawtchouk"]


def krawtchouk(k: int, m: np.ndarray, n: int) -> np.ndarray:
    """``K_k(m)``: the sum over ``|S| = k`` of ``chi_S(u) chi_S(v)`` at ``m = u . v`` (k <= 3)."""
    m = np.asarray(m, dtype=np.float64)
    return {0: np.ones_like(m), 1: m, 2: (m**2 - n) / 2,
            3: (m**3 - 3 * n * m + 2 * m) / 6}[k]


def _pair_mean(G: np.ndarray, K: np.ndarray) -> float:
    """Mean of ``G_ij K_ij`` over ``i != j``."""
    N = len(G)
    return float((np.sum(G * K) - np.sum(np.diag(G) * np.diag(K))) / (N * (N - 1)))


def _fit(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(design, y, rcond=None)[0]


def walsh_spectrum(u: np.ndarray, x: np.ndarray, x_neg: np.ndarray) -> dict[str, float]:
    """Fractions of ``E|x|^2`` at Walsh degree 0..3 of the states ``x`` (``N x D``) of the
    independent uniform +-1 windows ``u`` (``N x n``) and ``x_neg`` of ``-u`` (module
    docstring); empty when the states are not finite or vanish, or ``N < 8``."""
    u = np.asarray(u, dtype=np.float64)
    N, n = u.shape
    if N < 8 or not (np.all(np.isfinite(x)) and np.all(np.isfinite(x_neg))):
        return {}
    with np.errstate(all="ignore"):
        even, odd = (x + x_neg) / 2, (x - x_neg) / 2
        second = float(np.mean(np.sum(even**2, axis=1)) + np.mean(np.sum(odd**2, axis=1)))
        if not (np.isfinite(second) and second > 0):
            return {}
        halves = (np.arange(0, N, 2), np.arange(1, N, 2))
        ones = np.ones((N, 1))
        fits = [(_fit(ones[h], even[h]), _fit(u[h], odd[h])) for h in halves]
        out = {"degree_0": float(np.sum(fits[0][0] * fits[1][0])) / second,
               "degree_1": float(np.sum(fits[0][1] * fits[1][1])) / second}
        high = np.zeros((2, 2))
        for h, est in enumerate(halves):
            c, B = fits[1 - h]  # the other half's fit
            mm = u[est] @ u[est].T
            for i, (k, g) in enumerate(((2, even[est] - c), (3, odd[est] - u[est] @ B))):
                high[h, i] = _pair_mean(g @ g.T, krawtchouk(k, mm, n)) / second
    for i, k in enumerate((2, 3)):
        out[f"degree_{k}"] = float(np.mean(high[:, i]))
        out[f"se_{k}"] = float(abs(high[0, i] - high[1, i]) / 2)
    out["rest"] = 1.0 - sum(out[f"degree_{k}"] for k in range(4))
    out["even"] = float(np.mean(np.sum(even**2, axis=1))) / second
    out["windows"] = float(2 * N)
    return {k: float(v) for k, v in out.items()}

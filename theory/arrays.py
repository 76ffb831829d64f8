"""Validation of numeric inputs shared by every layer (the circuit's Psi, a network's weights)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["real_matrix"]


def real_matrix(name: str, value: Any) -> np.ndarray:
    """``value`` as a finite real 2-D float64 array, or ``ValueError`` naming ``name`` and what is
    wrong (not numeric, complex, not 2-D, NaN or infinite entries)."""
    arr = np.asarray(value)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be a numeric matrix; got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real; got complex dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D; got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite entries")
    return arr

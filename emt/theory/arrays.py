"""Validation of numeric inputs shared by every layer (the circuit's Psi, a network's weights)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["real_matrix", "REAL_KINDS"]

# Real numbers only: integers and floats.  timedelta64 is a numpy "number" (a subclass of
# signed integer) but not a weight; booleans and complex numbers are not weights either.
REAL_KINDS = "iuf"


def real_matrix(name: str, value: Any) -> np.ndarray:
    """``value`` as a finite real 2-D float64 array, or ``ValueError`` naming ``name`` and what is
    wrong (not real numbers, not 2-D, empty, NaN or infinite entries)."""
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real; got complex dtype {arr.dtype}")
    if arr.dtype.kind not in REAL_KINDS:
        raise ValueError(f"{name} must be a real numeric matrix; got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D; got shape {arr.shape}")
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty (shape {arr.shape}); a network needs N_h >= 1 and "
                         "d >= 1")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite entries")
    return arr

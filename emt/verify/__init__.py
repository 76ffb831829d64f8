"""Verification layer: privileged basis, spectral comparison, checks, reports and the `emt` CLI.

`verify_model` (`emt.verify.in_memory`) is the one convenience name: it judges a model held in
memory (torch, Keras, a mapping of arrays) as ``emt verify`` judges the same weights in a file.
TensorFlow is imported only inside the functions that read a Keras model; torch only when a
torch object is passed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emt.verify.in_memory import verify_model

__all__ = ["verify_model"]


def __getattr__(name: str) -> Any:
    """``emt.verify.verify_model``, imported on first use (PEP 562)."""
    if name == "verify_model":
        # deferred: it pulls in scipy.optimize (~0.6 s), which importing any verify module
        # (the CLI's --help, `emt.verify.tolerances`) should not pay
        from emt.verify.in_memory import verify_model

        return verify_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

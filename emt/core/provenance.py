"""The version stamp written into every record (run, report, sweep record): which libraries, at
which versions, produced a number."""

from __future__ import annotations

import importlib
import platform
import sys
from importlib import metadata

__all__ = ["package_version", "versions", "ALWAYS", "IF_IMPORTED"]

ALWAYS = ("numpy", "scipy", "sympy")  # every layer imports them
# Recorded only when the process has imported them: importing TensorFlow just to stamp a
# report would cost seconds, and a library that was not loaded did not produce the number.
IF_IMPORTED = ("tensorflow", "keras", "pandas", "dask", "distributed", "torch")


def package_version() -> str:
    """The installed version of this suite (``emt-suite``), or ``0+unknown`` in a source tree
    that is not installed."""
    try:
        return metadata.version("emt-suite")
    except metadata.PackageNotFoundError:  # pragma: no cover - an uninstalled source tree
        return "0+unknown"


def versions() -> dict[str, str]:
    """``{"emt": ..., "python": ..., library: version}`` for `ALWAYS` and for whichever of
    `IF_IMPORTED` this process has loaded."""
    out = {"emt": package_version(), "python": platform.python_version()}
    for name in ALWAYS:
        out[name] = str(getattr(importlib.import_module(name), "__version__", "unknown"))
    for name in IF_IMPORTED:
        module = sys.modules.get(name)
        if module is not None:
            out[name] = str(getattr(module, "__version__", "unknown"))
    return out

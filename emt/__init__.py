"""emt: a verification suite for the Episodic Memory Theory of recurrent neural networks.

The installed namespace holds four layers, each importing only the ones before it:
``emt.theory`` (sympy) <- ``emt.numerics`` (numpy, TensorFlow) <- ``emt.verify`` (checks and
reports) <- ``emt.experiments`` (sweeps and reproduction). ``emt`` itself holds the command line
(``emt.cli``, one module per verb group in ``emt.commands``) and ``__version__``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# In a source checkout the layers are sibling folders of this one (theory/, numerics/, ...),
# which an installed package maps under emt/. When Python finds this folder first (a command run
# from the repository root puts it on sys.path), the installed mapping is bypassed; adding the
# repository root to this package's search path makes ``emt.theory`` etc. resolve the same way.
_HERE = Path(__file__).resolve().parent
if not (_HERE / "theory").is_dir() and (_HERE.parent / "theory" / "__init__.py").is_file():
    __path__.append(str(_HERE.parent))  # noqa: F821 - __path__ is set for every package

try:
    __version__ = version("emt-suite")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0+unknown"

"""emt: a verification suite for the Episodic Memory Theory of recurrent neural networks.

The installed namespace holds four layers, each importing only the ones before it:
``emt.theory`` (sympy) <- ``emt.numerics`` (numpy, TensorFlow) <- ``emt.verify`` (checks and
reports) <- ``emt.experiments`` (sweeps and reproduction). ``emt`` itself holds the command line
(``emt.cli``, one module per verb group in ``emt.commands``) and ``__version__``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("emt-suite")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0+unknown"

"""emt: a verification suite for the Episodic Memory Theory of recurrent neural networks.

The package holds five layers, each importing only the ones before it: ``emt.core`` (the
standard-library base: limits, safe reading, atomic writing, records, provenance, progress,
threads) <- ``emt.theory`` (sympy) <- ``emt.numerics`` (numpy, TensorFlow) <- ``emt.verify``
(checks and reports) <- ``emt.experiments`` (sweeps and reproduction). ``emt`` itself holds the
command line
(``emt.cli``, one module per verb group in ``emt.commands``) and ``__version__``.
"""

from __future__ import annotations

from emt.core.provenance import package_version

__version__ = package_version()

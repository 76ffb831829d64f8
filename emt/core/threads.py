"""How many threads TensorFlow and BLAS may use in this process: one helper for training, sweep
workers and benchmarks.

The networks here are small (64 x 128 matmuls per step), so extra threads mostly add
synchronisation: on the shared 2-core machines one TensorFlow thread ran the training step
1.3-1.5x faster than the default pools (31-34 vs 24-25 steps/s under load), and with one worker
process per core more threads per process only oversubscribe the machine.
"""

from __future__ import annotations

import os
import sys

__all__ = ["THREAD_VARIABLES", "thread_env", "limit_threads"]

# Read by OpenMP, OpenBLAS, MKL and TensorFlow when they start.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def thread_env(threads: int = 1) -> dict[str, str]:
    """The environment for a process (e.g. a Dask worker) whose libraries should start with
    ``threads`` threads each; TensorFlow's C++ log is quietened too."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer; got {threads!r}")
    return {**{key: str(threads) for key in THREAD_VARIABLES}, "TF_CPP_MIN_LOG_LEVEL": "2"}


def limit_threads(threads: int) -> bool:
    """Limit this process to ``threads`` threads (``0``: leave every library's default).

    Sets the variables of `thread_env` (they take effect for libraries not yet started) and,
    when TensorFlow is already imported, its runtime setters, which work only before
    TensorFlow runs its first op.  Returns whether TensorFlow's pools are now set to
    ``threads``: False for ``0``, or when TensorFlow had already started its pools.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be a non-negative integer; got {threads!r}")
    if threads == 0:
        return False
    for key, value in thread_env(threads).items():
        if key in THREAD_VARIABLES:
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return True  # TensorFlow reads TF_NUM_*_THREADS when it starts
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already initialised in this process: keep its pools
        return False
    return True

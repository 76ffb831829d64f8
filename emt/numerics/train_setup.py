"""What a training process sets up around its loop, shared by single and group training:
Ctrl-C as a flag the loop reads between steps, TensorFlow's threads from the environment, and
TensorFlow's seeds and op determinism."""

from __future__ import annotations

import signal
import threading
from typing import Any

from emt.core.limits import env_int
from emt.core.threads import limit_threads
from emt.numerics.tf_quiet import load_tensorflow

__all__ = ["StopFlag", "threads_from_env", "setup_tf"]


class StopFlag:
    """Ctrl-C sets a flag; the loop stops between steps, so the saved state is consistent."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: Any = None

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum: int, frame: Any) -> None:
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def threads_from_env() -> int:
    """``EMT_TF_THREADS`` (default 1; 0 = TensorFlow's own default)."""
    return env_int("EMT_TF_THREADS", 1, minimum=0)


def setup_tf(seed: int, deterministic: bool, threads: int) -> Any:
    """Limit TensorFlow to ``threads``, seed Keras/TF globally with ``seed`` and, with
    ``deterministic``, make its ops deterministic; returns the ``tensorflow`` module."""
    load_tensorflow()  # first import of TensorFlow: without its start-up lines
    # TensorFlow takes seconds to import: only a process that trains pays for it.
    import keras
    import tensorflow as tf

    limit_threads(threads)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return tf

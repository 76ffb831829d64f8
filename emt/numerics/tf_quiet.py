"""Importing TensorFlow and Keras without their start-up lines on stderr.

On import TensorFlow's C++ runtime writes 2-5 lines to file descriptor 2 (``WARNING: All log
messages before absl::InitializeLog() is called are written to STDERR``, ``oneDNN custom
operations are on ...``, ``This TensorFlow binary is optimized to use available CPU
instructions ...`` on CPUs with AVX-512), twice when two of its libraries each carry absl.  They
come before absl's logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` (even 3) does not stop
them (TensorFlow 2.21 here), and they would be the only foreign lines of an `emt` command.

`load_tensorflow` is the one place that imports TensorFlow first: every function that needs
TensorFlow or Keras calls it before its own ``import``.  It sets ``TF_CPP_MIN_LOG_LEVEL=2``
unless the user set it (for the runtime's later messages), imports TensorFlow and Keras with
descriptor 2 sent to a temporary file, and writes back to stderr every captured line that is
not one of those start-up messages (an error during the import is still shown).
``TF_ENABLE_ONEDNN_OPTS`` is left alone: turning oneDNN off would silence its line but change
the arithmetic of every run (the numbers in docs/ were measured with it on).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import tempfile

__all__ = ["load_tensorflow", "is_startup_noise"]

# The start-up lines: absl's pre-initialisation notice, INFO/WARNING lines in absl's format
# ("I0000 00:00:1796546660.150317   12266 port.cc:153] ..."), and the continuation line of
# cpu_feature_guard's notice.  Error lines (E...) are not noise and are shown.
_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} \d+:\d+:\d+\.\d+\s+\d+ [\w.]+:\d+\] .*"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\.")


def is_startup_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's start-up log lines (see the module docstring)."""
    return _NOISE.fullmatch(line.rstrip("\r\n")) is not None


def load_tensorflow() -> None:
    """Import ``tensorflow`` and ``keras`` once per process, without their start-up lines."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_filtered():
        importlib.import_module("tensorflow")
        importlib.import_module("keras")


@contextlib.contextmanager
def _stderr_filtered():
    """Send file descriptor 2 to a temporary file; afterwards write its lines that are not
    start-up noise to stderr."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 to protect
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if not is_startup_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)

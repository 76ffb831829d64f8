"""The contract every fuzz test checks, and a runner for the CLI in this process.

`check_contract` runs ``emt ARGV`` in ``workdir`` (in-process: no interpreter start-up per
example) and asserts the exit-status contract: the code is one of ``allowed`` (a subset of
{0, 1, 2}; 3 would be a bug); on 2, exactly one line on stderr and the directory tree under
``workdir`` unchanged (nothing written); and bounded resources: at most ``TIME_BOUND_S``
seconds and at most ``RSS_BOUND_MB`` of growth of the process's peak memory.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import signal
import time
from pathlib import Path

from emt.cli import main

# Every hostile example is refused from its header, size or text in well under a second; a
# valid small one (a task with s*d <= 100, a net with N_h <= 12) takes about a second on the
# shared cores.  20 s leaves room for a loaded machine and still catches a hang.
TIME_BOUND_S = 20.0
# The process's peak RSS may grow this much in one example: the inputs are kilobytes, and
# an unchecked claim (a 298 GiB header, a zip bomb, N_h = 10^12) would exceed it by far.
RSS_BOUND_MB = 300


def tree(root: Path) -> set[tuple[str, int, int]]:
    """Every path under ``root`` with its size and modification time."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            st = path.lstat()
            out.add((str(path.relative_to(root)), st.st_size, st.st_mtime_ns))
    return out


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so the CLI's handlers cannot turn it into an
    exit status."""


def _alarm(signum, frame):
    raise Hang(f"still running after {TIME_BOUND_S} s")


def run_cli(argv: list[str], workdir: Path) -> tuple[int, str, str]:
    """``emt ARGV`` in ``workdir``; a run past ``TIME_BOUND_S`` is interrupted (a blocking
    open of a FIFO included) and fails the example."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_BOUND_S)
    try:
        with contextlib.chdir(workdir), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: --help 0, syntax error 2
                code = exc.code if isinstance(exc.code, int) else 2
    except Hang as exc:
        raise AssertionError(f"{argv}: {exc}") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def check_contract(argv: list[str], workdir: Path, allowed=(0, 1, 2)) -> int:
    before = tree(workdir)
    rss0, t0 = _peak_rss_mb(), time.monotonic()
    code, _out, err = run_cli(argv, workdir)
    elapsed, grown = time.monotonic() - t0, _peak_rss_mb() - rss0
    assert code in allowed, f"exit {code} for {argv}:\n{err}"
    assert elapsed < TIME_BOUND_S, f"{elapsed:.1f} s for {argv}"
    assert grown < RSS_BOUND_MB, f"peak memory grew {grown:.0f} MB for {argv}"
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1, f"{len(lines)} stderr lines for {argv}:\n{err}"
        assert tree(workdir) == before, f"exit 2 but something was written for {argv}"
    return code

"""The `emt` command line: one dispatcher, subcommands registered by each package.

Each subcommand module exposes ``register(subparsers)`` which adds its parser and sets
``func(args) -> int`` as the parser default.  Subcommands stay thin wrappers over library
functions.

One exit-status contract for every verb (a CI script can tell a crash from a failed claim):

    0  success (for `emt verify`: every check holds)
    1  the claim fails or is inconclusive (`emt verify`: a deciding number's bootstrap interval
       straddles its bar): a verification check, a derivation that drifted (`derive --check`), a
       sweep or reproduction whose runs or findings do not hold; never anything else
    2  bad input or an environment problem: a malformed or missing file, a value above a
       limit (`emt.core.limits`), an unwritable output, a locked run directory, a missing or
       unresponsive scheduler, memory exhausted, a full disk.  One line on stderr; nothing
       is written (each command validates before writing, and a late failure removes the
       directories the command created: `emt.core.outputs`, docs/reliability.md)
    3  an internal error (a bug): a one-line summary on stderr; the traceback only with
       ``--debug`` (accepted anywhere on the command line)
  130  interrupted (Ctrl-C)

Command-line syntax errors are one line and exit status 2 as well.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from emt.core.outputs import created_top, discard
from emt.numerics.runlock import held_by_another

# Order is the order in `emt --help`.
_COMMAND_MODULES = (
    "emt.commands.theory",  # emt tasks, emt derive
    "emt.commands.train",  # emt train
    "emt.commands.verify",  # emt verify, emt demo
    "emt.commands.experiments",  # emt sweep, emt reproduce
)

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEBUG_FLAG = "--debug"


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints the usage block and then the message; we print one line (the usage
    stays one ``--help`` away).  Subparsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="emt",
        description="Episodic Memory Theory verification suite: derive the binding circuit, "
        "train RNNs, and check trained weights against the theory. Exit status: 0 success, "
        "1 a claim fails, 2 bad input or environment (one line, nothing written), 3 internal "
        "error (--debug shows the traceback).",
    )
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help="show the traceback of an internal error (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 2000 else text[:2000] + " ..."


def _environment_message(exc: OSError) -> str:
    """An OSError as one line: the operation's file and the system's reason."""
    parts = [exc.strerror or type(exc).__name__]
    if exc.filename is not None:
        parts.insert(0, str(exc.filename))
    if exc.filename2 is not None:
        parts.insert(1, str(exc.filename2))
    return ": ".join(parts) if exc.strerror else _one_line(exc)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    argv = [a for a in argv if a != DEBUG_FLAG]
    parser = build_parser()
    args = parser.parse_args(argv)  # SystemExit: 0 for --help, 2 for a syntax error
    verb = args.command + (f" {args.what}" if getattr(args, "what", None) else "")
    # Directories this command will create (the topmost missing one of each output path), to
    # be removed again if it fails late: a failed command leaves nothing behind.
    created = [created_top(p) for p in _output_paths(args)]
    code, raised = _dispatch(args, verb, debug)
    # An exception other than Ctrl-C discards them; an interrupted run keeps its checkpoint for
    # --resume, and a command that returns 2 itself (a group with one diverged member) keeps
    # the members that finished.
    if raised and code != EXIT_INTERRUPTED:
        for top in created:
            discard(top, keep=held_by_another)
    return code


def _output_paths(args: argparse.Namespace) -> list[str]:
    """The output paths of a command: its ``outputs(args)`` default if its parser sets one,
    else its ``--out``."""
    outputs = getattr(args, "outputs", None)
    if outputs is not None:
        return list(outputs(args))
    out = getattr(args, "out", None)
    return [str(out)] if isinstance(out, str | os.PathLike) else []


def _dispatch(args: argparse.Namespace, verb: str, debug: bool) -> tuple[int, bool]:
    """``args.func(args)``'s exit status, and whether it raised: every exception becomes its
    exit status and one line on stderr."""
    try:
        return int(args.func(args)), False
    except (KeyboardInterrupt, Exception) as exc:  # noqa: BLE001 - each gets its status below
        return _exit_status(exc, verb, debug), True


def _exit_status(exc: BaseException, verb: str, debug: bool) -> int:
    """Report ``exc`` in one line on stderr and return its exit status."""
    if isinstance(exc, KeyboardInterrupt):
        print(f"emt {verb}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(exc, ValueError):  # our validation: the message names the input and problem
        print(f"emt {verb}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, OSError):  # missing, unreadable or unwritable files, a full disk, ...
        print(f"emt {verb}: error: {_environment_message(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, FloatingPointError):  # training diverged: the configuration won't train
        print(f"emt {verb}: error: {_one_line(exc)} (try a smaller learning rate or horizon)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, MemoryError | RecursionError):
        print(f"emt {verb}: error: out of resources ({type(exc).__name__}); the input is too "
              "large for this machine", file=sys.stderr)
        return EXIT_BAD_INPUT
    # anything else is our bug: its own exit status
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    print(f"emt {verb}: internal error: {type(exc).__name__}: {_one_line(exc)} (a bug; "
          f"rerun with {DEBUG_FLAG} for the traceback)", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

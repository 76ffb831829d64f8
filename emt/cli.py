"""The `emt` command line: one dispatcher, subcommands registered by each package.

Each subcommand module exposes ``register(subparsers)`` which adds its parser and sets
``func(args) -> int`` as the parser default.  Subcommands stay thin wrappers over library
functions.  Bad input (``ValueError``, unreadable files) is reported as one line on stderr with
exit status 2; nothing is written in that case (each command validates before writing).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Order is the order in `emt --help`.
_COMMAND_MODULES = (
    "emt.commands.theory",  # emt tasks, emt derive
    "emt.commands.train",  # emt train
    "emt.commands.verify",  # emt verify, emt demo
    "emt.commands.experiments",  # emt sweep, emt reproduce
)

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emt",
        description="Episodic Memory Theory verification suite: derive the binding circuit, "
        "train RNNs, and check trained weights against the theory.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"emt {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"emt {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

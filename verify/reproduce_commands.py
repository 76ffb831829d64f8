"""Subcommands of this package for the `emt` CLI (see verify/cli.py)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands (filled in by the issue that owns them)."""

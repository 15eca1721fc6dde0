"""The `pyode` command. Each sub-command lives in its own module with a `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

from pyode.config_files import ConfigError
from pyode.data.errors import DataError
from pyode.solver.errors import ODESolverError
from pyode.train.errors import TrainingDivergedError

# module name = sub-command; each module defines register(subparsers) and sets `func` on its parser.
SUBCOMMANDS = ("data", "train", "experiment", "plot")


class CLIError(Exception):
    """An error the user can fix; printed as one line without a traceback."""


# Exception types that mean bad input rather than a bug: one line on stderr, exit status 2.
USER_ERRORS = (CLIError, FileNotFoundError, DataError, ConfigError, ODESolverError,
               TrainingDivergedError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyode", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"pyode.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except USER_ERRORS as exc:
        message = "; ".join(str(exc).splitlines())  # always one line
        print(f"pyode {args.command}: error: {message}", file=sys.stderr)
        return 2
    return int(result or 0)

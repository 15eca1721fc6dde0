"""The `pyode` command. Each sub-command lives in its own module with a `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

# module name -> sub-command; each module defines register(subparsers) and sets `func` on its parser.
SUBCOMMANDS = ("data", "train", "experiment", "plot")


class CLIError(Exception):
    """An error the user can fix; printed as one line without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pyode", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"pyode.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"pyode.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean bad input rather than a bug."""
    errors: list[type[BaseException]] = [CLIError, FileNotFoundError]
    for path, name in (
        ("pyode.data.errors", "DataError"),
        ("pyode.train.config", "ConfigError"),
        ("pyode.solver.errors", "ODESolverError"),
    ):
        try:
            errors.append(getattr(importlib.import_module(path), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except _user_errors() as exc:
        print(f"pyode {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)

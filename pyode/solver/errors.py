"""Typed solver errors: numerical faults are ODESolverError, bad arguments are ValueError."""

from __future__ import annotations


class ODESolverError(RuntimeError):
    """The integration could not be completed (step underflow, non-finite values, too many steps)."""

"""Typed solver errors: numerical faults are ODESolverError, bad arguments are ValueError."""

from __future__ import annotations


class ODESolverError(RuntimeError):
    """Integration failed: step size underflow, non-finite values or too many steps."""

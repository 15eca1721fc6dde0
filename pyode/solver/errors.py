"""Typed solver errors: numerical faults are ODESolverError, bad arguments are ValueError."""

from __future__ import annotations


class ODESolverError(RuntimeError):
    """Integration failed: step size underflow, non-finite values or too many steps."""


class StepFailure(Exception):
    """A trial step could not be computed (an implicit method's Newton iterations did not
    converge): the adaptive loop rejects it and tries a smaller one; the message says why."""

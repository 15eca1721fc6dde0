"""Typed solver errors: numerical faults are ODESolverError, bad arguments are ValueError."""

from __future__ import annotations

from typing import Any

# The numerical failures a solve can end in (SolverStats.status, ODESolverError.reason).
FAILURE_REASONS = ("max_num_steps", "step_underflow", "non_finite")


class ODESolverError(RuntimeError):
    """Integration failed: step size underflow, non-finite values or too many steps.

    `reason` is one of FAILURE_REASONS (None for failures outside a solve's steps, such as an
    event search that finds nothing or scipy giving up); `t` is the time the solution reached
    (the end of the last accepted step; for a fixed grid, its last finite output, or the grid
    point where max_num_steps runs out: a grid that is too long fails before its first step)
    and `dt` the step being tried there (None where no step was tried).
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        t: float | None = None,
        dt: float | None = None,
    ) -> None:
        if reason is not None and reason not in FAILURE_REASONS:
            raise ValueError(f"reason must be one of {', '.join(FAILURE_REASONS)}, got {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.t = t
        self.dt = dt

    def __reduce__(self) -> tuple[Any, ...]:
        # The keyword attributes survive pickling (multiprocessing, workflow workers).
        return (_rebuild, (str(self), self.reason, self.t, self.dt))


def _rebuild(message: str, reason: str | None, t: float | None, dt: float | None
             ) -> ODESolverError:  # fmt: skip
    return ODESolverError(message, reason=reason, t=t, dt=dt)


class StepFailure(Exception):
    """A trial step could not be computed (an implicit method's Newton iterations did not
    converge): the adaptive loop rejects it and tries a smaller one; the message says why."""

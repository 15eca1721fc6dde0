"""Adaptive embedded Runge-Kutta integration with dense output at given times.

`adaptive_steps` yields accepted steps; `integrate_adaptive` turns them into outputs at the
requested times, and the event search (events.py) into a root of the event function.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from pyode.solver.controller import MAX_NUM_STEPS, AdaptiveController, AdaptiveOptions, StepCarry
from pyode.solver.errors import ODESolverError, StepFailure
from pyode.solver.host_sync import to_float
from pyode.solver.interpolation import interpolate
from pyode.solver.partial import failed
from pyode.solver.rk_step import Func
from pyode.solver.stats import StepCounter
from pyode.solver.tableaus import ButcherTableau

# MAX_NUM_STEPS, AdaptiveOptions and StepCarry are re-exported for the integrators' callers.
__all__ = ["MAX_NUM_STEPS", "AdaptiveOptions", "Step", "StepCarry", "adaptive_steps",
           "integrate_adaptive"]  # fmt: skip


@dataclass(frozen=True)
class Step:
    """One accepted step from (t, y) to (t_new, y_new) with its stages, for dense output."""

    t: float
    y: Tensor
    t_new: float
    y_new: Tensor
    dt: float
    ks: list[Tensor]
    f_new: Tensor

    def at(self, tableau: ButcherTableau, tau: float) -> Tensor:
        if tau == self.t_new:
            return self.y_new
        return interpolate(tableau, (tau - self.t) / self.dt, self.dt, self.y, self.y_new,
                           self.ks, self.f_new)  # fmt: skip


def _beside(t: float, direction: float, dtype: torch.dtype) -> float:
    """The neighbour of t in the state's dtype (func sees t in that dtype) towards `direction`.

    Computed on the CPU, so it costs no device synchronisation.
    """
    x = torch.tensor(t, dtype=dtype)
    return float(torch.nextafter(x, torch.tensor(direction * math.inf, dtype=dtype)).item())


def adaptive_steps(
    func: Func,
    y0: Tensor,
    f0: Tensor,
    t0: float,
    t_end: float,
    control: AdaptiveController,
    counter: StepCounter,
    *,
    carry: StepCarry | None = None,
    direction: float | None = None,
) -> Iterator[Step]:
    """Yield accepted steps from t0 towards t_end (math.inf or -math.inf: until the caller stops).

    The step that reaches t_end ends exactly there. One host synchronisation per tried step (the
    error ratio the controller needs), plus two for the automatic first step.
    """
    if direction is None:
        direction = 1.0 if t_end > t0 else -1.0
    span = abs(t_end - t0)
    # Steps end when they no longer move the clock (as in torchdiffeq), not at the state's
    # precision: a step across a jump of f may need to be far finer than that.
    eps = control.time_eps
    h = control.first_step(func, t0, y0, f0, direction, carry)
    stops = control.stops(t0, t_end, direction)
    stop_index = 0

    t, y, f = t0, y0, f0
    n_tried = 0
    while True:
        if n_tried >= control.max_num_steps:
            raise ODESolverError(
                f"max_num_steps={control.max_num_steps} exceeded: reached t={t:.6g} "
                f"of [{t0:.6g}, {t_end:.6g}] (last dt={direction * h:.3g})"
                + ("" if control.implicit else "; a stiff problem? try method='kvaerno5'"),
                reason="max_num_steps", t=t, dt=direction * h,
            )  # fmt: skip
        n_tried += 1
        stop, jump = stops[stop_index]
        remaining = abs(stop - t)
        lands = h >= remaining
        h_try = remaining if lands else h
        t_new = stop if lands else t + direction * h_try
        dt = direction * h_try
        if control.rounds_time and not lands:
            t_new = control.clock(t_new)
            dt = t_new - t
        counter.before(t, y, dt)
        # A step ending on a jump sees f's value from before it, the next step f's from after.
        t_stage_end = _beside(t_new, -direction, y0.dtype) if lands and jump else t_new
        failure, reason = "non-finite state or derivative encountered", "non_finite"
        try:
            y_new, f_new, err, ks = control.stepper(func, t, y, dt, f, t_stage_end)
            with torch.no_grad():
                ratio = to_float(control.error_ratio(err, y, y_new))
        except StepFailure as exc:  # an implicit method's Newton iterations: a rejected step
            ratio, failure, reason = math.inf, str(exc), "step_underflow"

        finite = math.isfinite(ratio)
        accepted = finite and (ratio <= 1.0 or h_try <= control.min_step)
        if accepted:
            counter.accepted(t, y, dt)
        else:
            counter.rejected(t, y, dt)
        if not finite and h_try <= control.min_step:
            raise ODESolverError(
                f"{failure} after t={t:.6g} "
                f"at the smallest step dt={dt:.3g} (min_step={control.min_step:g})",
                reason=reason, t=t, dt=dt,
            )  # fmt: skip
        h_next = control.next_step(h_try, ratio, accepted)
        if accepted and lands:
            h_next = max(h_next, h)  # a step shortened to land on a stop says little about h
        h = control.clamp(h_next)
        if carry is not None:
            carry.h = h
        if accepted:
            if f_new is None:
                f_new = func(t_stage_end, y_new)
            yield Step(t, y, t_new, y_new, dt, ks, f_new)
            if lands and jump:
                f_new = func(_beside(t_new, direction, y0.dtype), y_new)
            t, y, f = t_new, y_new, f_new
            if lands:
                stop_index += 1
                if stop_index == len(stops):
                    return
        if h < 4 * eps * max(abs(t), span if math.isfinite(span) else 0.0):
            if not finite:
                raise ODESolverError(
                    f"{failure} after t={t:.6g} "
                    f"(step size shrank to dt={direction * h:.3g})",
                    reason=reason, t=t, dt=direction * h,
                )  # fmt: skip
            raise ODESolverError(
                f"step size underflow at t={t:.6g}: dt={direction * h:.3g} "
                f"(min_step={control.min_step:g}, error ratio {ratio:.3g})",
                reason="step_underflow", t=t, dt=direction * h,
            )  # fmt: skip


def integrate_adaptive(
    func: Func,
    y0: Tensor,
    f0: Tensor,
    times: Sequence[float],
    control: AdaptiveController,
    counter: StepCounter,
    *,
    carry: StepCarry | None = None,
    on_failure: str = "raise",
    record: list[Step] | None = None,
) -> list[Tensor]:
    """Return the states at `times` (monotone, either direction; times[0] gives y0).

    Intermediate outputs come from the dense output of the step that contains them. A failure
    is raised, or with on_failure="return" the outputs reached are returned, NaN after them.
    `record` receives every accepted step (for an adjoint that reads the forward's dense output).
    """
    outputs = [y0]
    nxt = 1
    direction = 1.0 if times[-1] > times[0] else -1.0
    steps = adaptive_steps(func, y0, f0, times[0], times[-1], control, counter, carry=carry)
    try:
        for step in steps:
            if record is not None:  # the cubic Hermite needs no stage but the first
                record.append(step if control.tableau.c_mid else replace(step, ks=step.ks[:1]))
            while nxt < len(times) and direction * (times[nxt] - step.t_new) <= 0:
                outputs.append(step.at(control.tableau, times[nxt]))
                nxt += 1
    except ODESolverError as error:
        stats = None if counter.backward else counter.stats
        return failed(error, outputs, len(times), on_failure, stats)
    return outputs

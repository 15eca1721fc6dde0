"""Events on a fixed grid (torchdiffeq's rule): step by `step_size` until the event function
changes sign, then bisect the step's interpolant (`interp`: linear or cubic Hermite)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from pyode.solver.errors import ODESolverError
from pyode.solver.fixed_grid import cubic_hermite
from pyode.solver.rk_step import Func

BISECTIONS = 64  # halvings of one step: far below float64 resolution of any step


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def find_event_on_grid(
    func: Func,
    event: Callable[[float, Tensor], float],
    y0: Tensor,
    t0: float,
    direction: float,
    config: Any,
) -> float:
    """The first time after t0 (in `direction`) where event(t, y(t)) changes sign.

    `config` is a fixed-grid SolverConfig with the option step_size; steps are counted against
    its max_num_steps. Returns the first bisection point past the event, as the adaptive search.
    """
    options = config.fixed
    if options.step_size is None:
        raise ValueError(f"odeint_event with the fixed-grid method {config.method!r} needs the "
                         "option 'step_size' (the grid it searches)")  # fmt: skip
    h = direction * options.step_size
    stepper = config.stepper(func, y0.dtype)
    g0 = _sign(event(t0, y0))
    if g0 == 0:
        return t0
    t, y = t0, y0
    for k in range(1, options.max_num_steps + 1):
        t1 = t0 + k * h  # from t0 each time: no drift from summing steps
        y1, f_start = stepper(t, y, t1 - t, t1, None)
        if _sign(event(t1, y1)) != g0:
            f1 = func(t1, y1) if options.interp == "cubic" else None
            return _bisect(event, g0, t, y, t1, y1, f_start, f1)
        t, y = t1, y1
    raise ODESolverError(
        f"no event within max_num_steps={options.max_num_steps} steps of the fixed grid: "
        f"reached t={t:.6g} (dt={h:.3g}); raise 'max_num_steps' or check event_fn",
        reason="max_num_steps", t=t, dt=h,
    )  # fmt: skip


def _bisect(
    event: Callable[[float, Tensor], float], g0: int, t: float, y: Tensor, t1: float,
    y1: Tensor, f0: Tensor, f1: Tensor | None,
) -> float:  # fmt: skip
    """Bisect the step (t, y) -> (t1, y1) on its interpolant (cubic when f1 is given)."""
    lo, hi = t, t1
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        w = (mid - t) / (t1 - t)
        y_mid = torch.lerp(y, y1, w) if f1 is None else cubic_hermite(y, y1, f0, f1, w, t1 - t)
        if _sign(event(mid, y_mid)) == g0:
            lo = mid
        else:
            hi = mid
    return hi

"""odeint_event: integrate until event_fn(t, y) changes sign; the event time is differentiable.

The root is located without a graph (sign change over an accepted step, then bisection on the
step's dense output). Gradients come from re-solving to the found time with odeint and the
implicit function theorem: g(t*, y(t*)) = 0 gives
dt*/dtheta = -(dg/dy . dy/dtheta + dg/dtheta) / (dg/dt + dg/dy . f(t*, y(t*))).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from pyode.solver import defaults
from pyode.solver.adaptive import adaptive_steps
from pyode.solver.dynamics import CountedDynamics
from pyode.solver.errors import ODESolverError
from pyode.solver.fixed_grid import on_uniform_grid
from pyode.solver.grid_events import find_event_on_grid
from pyode.solver.host_sync import to_float
from pyode.solver.partial import check_on_failure
from pyode.solver.solve import FlatProblem, adjoint_setup, odeint
from pyode.solver.stats import SolverStats, StepCounter

EventFn = Callable[[Tensor, Any], Tensor]
BISECTIONS = 60  # halves a step to float64 resolution


def odeint_event(
    func: Callable[[Tensor, Any], Any],
    y0: Any,
    t0: Tensor | float,
    *,
    event_fn: EventFn,
    reverse_time: bool = False,
    **odeint_kwargs: Any,
) -> tuple[Tensor, Any]:
    """Solve from t0 until event_fn(t, y) (a scalar tensor) crosses zero.

    Returns (event_t, solution) with solution = y at [t0, event_t] (shape (2, *y0.shape), or a
    tuple for tuple states). Integrates towards decreasing t when `reverse_time`. Both outputs
    are differentiable with respect to y0, t0 and the parameters of func and event_fn (those of
    a plain-callable func via `adjoint_params`). Fixed-grid methods need the option `step_size`.
    `on_failure` may only be "raise": a search that fails has no event time to return.
    """
    if odeint_kwargs.get("on_failure", "raise") != "raise":
        check_on_failure(odeint_kwargs["on_failure"])
        raise ValueError("odeint_event takes on_failure='raise' only: a search that fails "
                         "finds no event, so there is no partial result to return")  # fmt: skip
    method = odeint_kwargs.get("method", defaults.METHOD)
    forward, _, _ = adjoint_setup(
        method,
        odeint_kwargs.get("rtol", defaults.RTOL),
        odeint_kwargs.get("atol", defaults.ATOL),
        odeint_kwargs.get("options"),
        {k: v for k, v in odeint_kwargs.items()
         if k not in ("method", "rtol", "atol", "options", "adjoint", "on_failure")},
    )  # fmt: skip
    if forward.scipy is not None:
        raise NotImplementedError(
            "odeint_event with 'scipy_solver': events need one of pyode's own methods"
        )
    flat = FlatProblem(func, y0)
    forward = flat.fit(forward)
    t0_tensor = torch.as_tensor(t0, dtype=torch.float64 if not isinstance(t0, Tensor) else None)
    t0_tensor = t0_tensor.reshape(())
    start = to_float(t0_tensor.detach().to(torch.float64))

    def flat_event(t: Tensor, y: Tensor) -> Tensor:
        g = event_fn(t, flat.unflatten(y))
        if not isinstance(g, Tensor) or g.numel() != 1:
            raise ValueError("event_fn(t, y) must return a tensor with a single value")
        return g.reshape(())

    t_star = _find_event(flat, flat_event, start, -1.0 if reverse_time else 1.0, forward)
    t_span = torch.stack([t0_tensor, torch.tensor(t_star, dtype=t0_tensor.dtype)])
    solution = odeint(func, y0, t_span, **_on_search_grid(odeint_kwargs, forward))
    y_star = _flat_last(flat, solution)
    event_t, y_event = _reroute(flat, flat_event, t_star, y_star, t0_tensor.dtype)
    first = _flat_first(flat, solution)
    return event_t, flat.unflatten(torch.stack([first, y_event]))


def _on_search_grid(odeint_kwargs: dict[str, Any], config: Any) -> dict[str, Any]:
    """A fixed-grid method re-solves to the event on the grid its search walked, t0 + k *
    step_size (ending at the event), not on an even division of [t0, event_t]."""
    if config.fixed is None or config.fixed.step_size is None:
        return odeint_kwargs
    return {**odeint_kwargs, "options": on_uniform_grid(odeint_kwargs["options"])}


def _flat_last(flat: FlatProblem, solution: Any) -> Tensor:
    if flat.tuple_state is None:
        return solution[-1]
    return torch.cat([s[-1].reshape(-1) for s in solution])


def _flat_first(flat: FlatProblem, solution: Any) -> Tensor:
    if flat.tuple_state is None:
        return solution[0]
    return torch.cat([s[0].reshape(-1) for s in solution])


def _find_event(
    flat: FlatProblem, event: EventFn, t0: float, direction: float, config: Any
) -> float:
    """The time of the first sign change of event(t, y(t)), to float64 resolution."""
    counter = StepCounter(SolverStats())
    with torch.no_grad():
        y0 = flat.y0.detach()
        dyn = CountedDynamics(flat.func, y0)
        g0 = to_float(event(dyn.time(t0), y0))
        if g0 == 0.0:
            return t0
        if config.fixed is not None:
            return find_event_on_grid(dyn, lambda t, y: to_float(event(dyn.time(t), y)), y0, t0,
                                      direction, config)  # fmt: skip
        control = config.controller(flat.norm_for(config))
        steps = adaptive_steps(dyn, y0, dyn(t0, y0), t0, direction * math.inf, control, counter,
                               direction=direction)  # fmt: skip
        for step in steps:
            if _sign(to_float(event(dyn.time(step.t_new), step.y_new))) != _sign(g0):
                lo, hi = step.t, step.t_new
                for _ in range(BISECTIONS):
                    mid = 0.5 * (lo + hi)
                    if mid in (lo, hi):
                        break
                    g_mid = to_float(event(dyn.time(mid), step.at(config.tableau, mid)))
                    if _sign(g_mid) == _sign(g0):
                        lo = mid
                    else:
                        hi = mid
                return hi
    raise ODESolverError(f"no event found from t={t0:.6g}")  # unreachable: steps end by raising


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _reroute(
    flat: FlatProblem, event: EventFn, t_star: float, y_star: Tensor, t_dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """Event time and state whose gradients follow the implicit function theorem.

    Both carry their found values; only the graph hanging off them is built here.
    """
    t_const = torch.tensor(t_star, dtype=y_star.dtype, device=y_star.device)
    with torch.enable_grad():
        t_leaf = t_const.clone().requires_grad_(True)
        y_leaf = y_star.detach().requires_grad_(True)
        g_leaf = event(t_leaf, y_leaf)
        dg_dt, dg_dy = torch.autograd.grad(g_leaf, (t_leaf, y_leaf), allow_unused=True)
    with torch.no_grad():
        f_star = flat.func(t_const, y_star.detach())
        slope = (dg_dy * f_star).sum() if dg_dy is not None else torch.zeros_like(t_const)
        if dg_dt is not None:
            slope = slope + dg_dt
    if not torch.is_grad_enabled():
        return t_const.to(t_dtype), y_star
    g = event(t_const, y_star)  # depends on y0, t0 and parameters through y_star and event_fn
    shift = -(g - g.detach()) / slope  # zero-valued, with the implicit function's derivative
    event_t = t_const.to(t_dtype) + shift.to(t_dtype)
    y_event = y_star + shift * f_star
    return event_t, y_event

"""Adaptive embedded Runge-Kutta integration (dopri5, bosh3) with dense output at given times."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from pyode.solver.controller import StepSizeController
from pyode.solver.errors import ODESolverError
from pyode.solver.initial_step import Norm, initial_step
from pyode.solver.interpolation import interpolate
from pyode.solver.rk_step import Func, rk_step
from pyode.solver.stats import SolverStats
from pyode.solver.tableaus import ButcherTableau


@dataclass(frozen=True)
class AdaptiveOptions:
    first_step: float | None = None
    max_num_steps: int = 10_000
    min_step: float = 0.0
    safety: float = 0.9
    ifactor: float = 10.0
    dfactor: float = 0.2
    beta: float = 0.0


def _finite(x: Tensor) -> bool:
    return bool(torch.isfinite(x).all())


def integrate_adaptive(
    func: Func,
    y0: Tensor,
    times: list[float],
    tableau: ButcherTableau,
    f0: Tensor,
    stats: SolverStats,
    rtol: float,
    atol: float,
    norm: Norm,
    options: AdaptiveOptions,
    *,
    backward: bool = False,
) -> list[Tensor]:
    """Return the states at `times` (monotone, either direction; times[0] gives y0).

    Steps are clipped so the last one ends exactly at times[-1]; intermediate outputs come from
    the dense output of the step that contains them. One host synchronisation per step (the
    error ratio the controller needs).
    """
    t0, t_end = times[0], times[-1]
    direction = 1.0 if t_end > t0 else -1.0
    span = abs(t_end - t0)
    eps = torch.finfo(y0.dtype).eps
    controller = StepSizeController(
        tableau.error_order or tableau.order,
        options.safety,
        options.ifactor,
        options.dfactor,
        options.beta,
    )
    if options.first_step is not None:
        h = abs(options.first_step)
    else:
        with torch.no_grad():  # step-size decisions are not differentiated
            h = initial_step(func, t0, y0, f0, direction, tableau.order, rtol, atol, norm)
    h = min(h, span)

    outputs = [y0]
    nxt = 1
    t, y, f = t0, y0, f0
    n_tried = 0
    while nxt < len(times):
        if n_tried >= options.max_num_steps:
            raise ODESolverError(
                f"max_num_steps={options.max_num_steps} exceeded: reached t={t:.6g} "
                f"of [{t0:.6g}, {t_end:.6g}] (last dt={direction * h:.3g})"
            )
        n_tried += 1
        remaining = abs(t_end - t)
        last = h >= remaining
        h_try = remaining if last else h
        t_new = t_end if last else t + direction * h_try
        dt = direction * h_try
        y_new, f_new, err, ks = rk_step(func, tableau, t, y, dt, f, t_new)
        with torch.no_grad():
            ratio = norm(err, y, y_new, rtol, atol).item()

        if not math.isfinite(ratio):
            # Non-finite trial: shrink hard; if the start is already bad, stop right here.
            if not (_finite(y) and _finite(f)):
                raise ODESolverError(f"non-finite state or derivative at t={t:.6g}")
            _count(stats, backward, accepted=False)
            h = h_try * options.dfactor
            if h < max(options.min_step, 4 * eps * max(abs(t), span)):
                raise ODESolverError(
                    f"non-finite state or derivative encountered after t={t:.6g} "
                    f"(step size shrank to dt={direction * h:.3g})"
                )
            continue

        accepted = ratio <= 1.0
        if accepted:
            _count(stats, backward, accepted=True)
            if f_new is None:
                f_new = func(t_new, y_new)
            while nxt < len(times) and (
                (nxt == len(times) - 1 and last) or direction * (times[nxt] - t_new) <= 0
            ):
                tau = times[nxt]
                if tau == t_new or (last and nxt == len(times) - 1):
                    outputs.append(y_new)
                else:
                    outputs.append(interpolate(tableau, (tau - t) / dt, dt, y, y_new, ks, f_new))
                nxt += 1
            t, y, f = t_new, y_new, f_new
            if nxt >= len(times):
                break
        else:
            _count(stats, backward, accepted=False)
        h = controller.next_step(h_try, ratio, accepted)
        if h < max(options.min_step, 4 * eps * max(abs(t), span)):
            raise ODESolverError(
                f"step size underflow at t={t:.6g}: dt={direction * h:.3g} "
                f"(min_step={options.min_step:g}, error ratio {ratio:.3g})"
            )
    return outputs


def _count(stats: SolverStats, backward: bool, *, accepted: bool) -> None:
    if backward:
        if accepted:
            stats.n_accepted_backward += 1
        else:
            stats.n_rejected_backward += 1
    elif accepted:
        stats.n_accepted += 1
    else:
        stats.n_rejected += 1

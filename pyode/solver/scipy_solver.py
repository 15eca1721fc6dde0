"""`scipy_solver`: scipy.integrate.solve_ivp behind pyode's interface (forward only).

scipy integrates numpy arrays, so no gradient can flow back through it: backpropagating into a
result of odeint(adjoint=False) raises a clear error (forward_only). The adjoint method needs
only forward solves, so with adjoint=True gradients come from scipy solving the adjoint system.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pyode.solver.errors import ODESolverError
from pyode.solver.rk_step import Func
from pyode.solver.stats import SolverStats

SCIPY_METHODS = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")


@dataclass(frozen=True)
class ScipyOptions:
    solver: str = "LSODA"  # torchdiffeq's default
    min_step: float = 0.0
    max_step: float = math.inf


def parse_scipy_options(opts: Mapping[str, Any]) -> ScipyOptions:
    unknown = sorted(set(opts) - {"solver", "min_step", "max_step"})
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(map(repr, unknown))} for method "
                         "'scipy_solver'; valid options: solver, min_step, max_step")  # fmt: skip
    solver = opts.get("solver", "LSODA")
    if solver not in SCIPY_METHODS:
        raise ValueError(f"option 'solver' of scipy_solver must be one of "
                         f"{', '.join(SCIPY_METHODS)}, got {solver!r}")  # fmt: skip
    bounds = {}
    for key in ("min_step", "max_step"):
        if key in opts:
            value = opts[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"option {key!r} must be a non-negative number, got {value!r}")
            bounds[key] = float(value)
    if bounds.get("max_step") == 0:
        raise ValueError("option 'max_step' must be positive, got 0")
    if bounds.get("min_step", 0.0) > bounds.get("max_step", math.inf):
        raise ValueError(f"option 'min_step' ({bounds['min_step']}) exceeds 'max_step' "
                         f"({bounds['max_step']})")  # fmt: skip
    return ScipyOptions(solver=solver, **bounds)


class _ForwardOnly(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, out: Tensor, *inputs: Tensor) -> Tensor:  # type: ignore[override]
        return out.clone()

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[None, ...]:  # type: ignore[override]
        raise ValueError(
            "method 'scipy_solver' is forward only: scipy integrates numpy arrays, so there is "
            "no gradient to backpropagate through it; use adjoint=True (the adjoint equations "
            "are solved by scipy too) or one of pyode's own methods"
        )


def forward_only(out: Tensor, inputs: list[Tensor]) -> Tensor:
    """`out`, tied to `inputs` so that backpropagating into them raises a clear error (rather
    than torch's 'does not require grad', or gradients silently missing)."""
    return _ForwardOnly.apply(out, *inputs)


def integrate_scipy(
    func: Func,
    y0: Tensor,
    times: list[float],
    rtol: float,
    atol: float,
    options: ScipyOptions,
    stats: SolverStats,
) -> list[Tensor]:
    """States at `times` from solve_ivp; func is called with t and y as tensors like y0.

    solve_ivp does not report its steps, so `stats` gets none (func counts its evaluations).
    """
    from scipy.integrate import solve_ivp  # scipy is needed only by this method

    shape, dtype, device = y0.shape, y0.dtype, y0.device

    def field(t: float, y: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            state = torch.as_tensor(y, device=device).to(dtype).reshape(shape)
            return func(float(t), state).detach().cpu().numpy().reshape(-1)

    # min_step exists only for LSODA; scipy warns if it is passed to the others.
    bounds: dict[str, float] = {"max_step": options.max_step}
    if options.solver == "LSODA":
        bounds["min_step"] = options.min_step
    with torch.no_grad():
        start = y0.detach().cpu().numpy().reshape(-1)
    sol = solve_ivp(field, (times[0], times[-1]), start, method=options.solver, t_eval=times,
                    rtol=rtol, atol=atol, **bounds)  # fmt: skip
    if not sol.success or sol.y.shape[1] != len(times):
        reached = float(sol.t[-1]) if len(sol.t) else times[0]
        raise ODESolverError(f"scipy_solver ({options.solver}) stopped at t={reached:.6g}: "
                             f"{sol.message}")  # fmt: skip
    out = torch.as_tensor(sol.y.T.copy()).to(device=device, dtype=dtype)
    return [y0.detach(), *(row.reshape(shape) for row in out[1:])]

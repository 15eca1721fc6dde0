"""Automatic initial step size (Hairer, Norsett & Wanner, Solving ODEs I, section II.4)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from pyode.solver.errors import ODESolverError
from pyode.solver.host_sync import to_float, to_floats
from pyode.solver.norms import Tolerance
from pyode.solver.rk_step import Func

Norm = Callable[[Tensor, Tensor, Tensor, Tolerance, Tolerance], Tensor]


def initial_step(
    func: Func,
    t0: float,
    y0: Tensor,
    f0: Tensor,
    direction: float,
    order: int,
    rtol: Tolerance,
    atol: Tolerance,
    norm: Norm,
) -> float:
    """Return a positive first step size; costs one function evaluation, two host syncs."""
    d0, d1 = to_floats(torch.stack([norm(y0, y0, y0, rtol, atol), norm(f0, y0, y0, rtol, atol)]))
    if not (math.isfinite(d0) and math.isfinite(d1)):
        raise ODESolverError(
            f"non-finite initial state or derivative at t={t0:.6g}", reason="non_finite", t=t0
        )
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    y1 = y0.add(f0, alpha=direction * h0)
    f1 = func(t0 + direction * h0, y1)
    d2 = to_float(norm(f1.sub(f0), y0, y0, rtol, atol)) / h0
    if not math.isfinite(d2):
        raise ODESolverError(
            f"non-finite derivative near t={t0:.6g}", reason="non_finite", t=t0, dt=direction * h0
        )
    dmax = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** (1.0 / (order + 1))
    return min(100.0 * h0, h1)

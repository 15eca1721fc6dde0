"""The one explicit Runge-Kutta step used by every method (Euler is the one-stage case)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from pyode.solver.tableaus import ButcherTableau

Func = Callable[[float, Tensor], Tensor]


def combine(base: Tensor | None, h: float, coeffs: Sequence[float], ks: Sequence[Tensor]) -> Tensor:
    """Return base + h * sum_j coeffs[j] * ks[j], skipping zero coefficients.

    The sum is built in one fresh buffer with in-place fused multiply-adds, which is safe under
    autograd (the buffer is never an input saved for backward) and allocates once.
    """
    acc: Tensor | None = None
    for c, k in zip(coeffs, ks):
        if c == 0.0:
            continue
        if acc is None:
            acc = torch.mul(k, h * c)
        else:
            acc.add_(k, alpha=h * c)
    if acc is None:
        return base.clone() if base is not None else torch.zeros_like(ks[0])
    if base is not None:
        acc.add_(base)
    return acc


def rk_step(
    func: Func,
    tableau: ButcherTableau,
    t: float,
    y: Tensor,
    h: float,
    f0: Tensor,
    t_next: float | None = None,
) -> tuple[Tensor, Tensor | None, Tensor | None, list[Tensor]]:
    """Advance y(t) by the signed step h.

    Returns (y_next, f_next, error, stages): f_next = f(t + h, y_next) for FSAL tableaus (None
    otherwise), error the embedded local error estimate (None for fixed-grid tableaus).
    `t_next` lets callers pass the exact end time so a clipped final step lands on it.
    """
    t_end = t + h if t_next is None else t_next
    ks = [f0]
    y_stage = y
    for i in range(1, tableau.stages):
        y_stage = combine(y, h, tableau.a[i - 1], ks)
        c = tableau.c[i]
        ks.append(func(t_end if c == 1.0 else t + c * h, y_stage))
    if tableau.fsal:
        # The last stage is evaluated at y_next itself, so its input is the solution.
        y_next, f_next = y_stage, ks[-1]
    else:
        y_next, f_next = combine(y, h, tableau.b, ks), None
    error = combine(None, h, tableau.b_err, ks) if tableau.b_err is not None else None
    return y_next, f_next, error, ks

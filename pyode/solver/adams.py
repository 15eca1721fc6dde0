"""Adams-Bashforth(-Moulton) multistep methods on a fixed grid, as torchdiffeq defines them.

`explicit_adams`: Adams-Bashforth with as many past derivatives as the grid has given so far
(up to max_order - 1). `implicit_adams` (alias `fixed_adams`): that prediction corrected by
Adams-Moulton one order higher, iterated (at most `max_iters` times) until two successive
increments agree within rtol/atol in the max norm; if they never do, a warning is raised and
the oldest derivative is dropped (the next step uses one order less). The first steps, with
fewer than three derivatives known, are Runge-Kutta 3/8-rule steps. Every step evaluates f at
its start afresh. The coefficients are computed exactly here from their defining integrals.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from functools import cache

import torch
from torch import Tensor

from pyode.solver.fixed_grid import Stepper, nudge
from pyode.solver.host_sync import to_float
from pyode.solver.rk_step import Func, combine, rk_step
from pyode.solver.tableaus import ButcherTableau

MIN_ORDER = 4  # below this many past derivatives (plus the new one) a step is an RK4 step
MAX_ORDER = 12

# Kutta's 3/8 rule: the start-up steps (torchdiffeq's rk4_alt_step_func).
RK4_3_8 = ButcherTableau(
    name="rk4 (3/8 rule)",
    order=4,
    c=(0.0, 1 / 3, 2 / 3, 1.0),
    a=((1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)),
    b=(1 / 8, 3 / 8, 3 / 8, 1 / 8),
)


@dataclass(frozen=True)
class AdamsOptions:
    implicit: bool
    max_iters: int = 4
    max_order: int = MAX_ORDER


def _integral_of_lagrange(nodes: tuple[int, ...], j: int) -> Fraction:
    """Integral over s in [0, 1] of the Lagrange basis polynomial of nodes[j] on `nodes`."""
    poly = [Fraction(1)]  # coefficients of s^0, s^1, ...
    for i, node in enumerate(nodes):
        if i == j:
            continue
        scale = Fraction(1, nodes[j] - node)
        shifted = [Fraction(0), *poly]  # s * poly
        poly = [(a - node * b) * scale for a, b in zip(shifted, [*poly, Fraction(0)])]
    return sum((c / (k + 1) for k, c in enumerate(poly)), Fraction(0))


@cache
def bashforth(k: int) -> tuple[float, ...]:
    """Weights of f_n, f_{n-1}, ..., f_{n-k+1} in the k-step Adams-Bashforth formula."""
    nodes = tuple(-i for i in range(k))
    return tuple(float(_integral_of_lagrange(nodes, j)) for j in range(k))


@cache
def moulton(k: int) -> tuple[float, ...]:
    """Weights of f_{n+1}, f_n, ..., f_{n-k+2} in the Adams-Moulton formula with k nodes."""
    nodes = tuple(1 - i for i in range(k))
    return tuple(float(_integral_of_lagrange(nodes, j)) for j in range(k))


def adams_stepper(
    func: Func, options: AdamsOptions, perturb: bool, rtol: float, atol: float, dtype: torch.dtype
) -> Stepper:
    """A stepper for one solve: it keeps the past derivatives from one grid step to the next."""
    history: deque[Tensor] = deque(maxlen=options.max_order - 1)
    last_t: list[float | None] = [None]

    def step(t0: float, y0: Tensor, h: float, t1: float, f0: Tensor | None
             ) -> tuple[Tensor, Tensor]:  # fmt: skip
        if perturb:
            f0 = func(nudge(t0, t1, dtype), y0)
        elif f0 is None:
            f0 = func(t0, y0)
        t_end = nudge(t1, t0, dtype) if perturb else t1
        if last_t[0] != t0:
            history.appendleft(f0)
            last_t[0] = t0
        past = list(history)
        order = min(len(past), options.max_order - 1)
        if order < MIN_ORDER - 1:

            def stage_func(t: float, y: Tensor) -> Tensor:
                return func(t_end if t == t1 else t, y)

            return rk_step(stage_func, RK4_3_8, t0, y0, h, past[0], t1)[0], f0
        dy = combine(None, h, bashforth(order), past[:order])
        if options.implicit:
            weights = moulton(order + 1)
            delta = combine(None, h, weights[1:], past[:order])
            change = math.inf
            for _ in range(options.max_iters):
                previous = dy
                dy = combine(delta, h, weights[:1], [func(t_end, y0 + dy)])
                tolerance = atol + rtol * torch.maximum(previous.abs(), dy.abs())
                change = to_float(((previous - dy).abs() / tolerance).max())
                if not change >= 1:  # converged, or non-finite: the grid's output check says so
                    break
            if change >= 1:
                warnings.warn(
                    f"Adams-Moulton iteration did not converge in {options.max_iters} "
                    f"iterations at t={t0:.6g} (dt={h:.3g}); the step may be inaccurate and the "
                    "next one uses one order less (a smaller step or larger max_iters helps)",
                    RuntimeWarning,
                    stacklevel=2,
                )
                history.pop()
        return y0 + dy, f0

    return step

"""Fixed-grid integration (euler, midpoint, rk4): every output interval is split evenly."""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from pyode.solver.adaptive import MAX_NUM_STEPS
from pyode.solver.errors import ODESolverError
from pyode.solver.host_sync import to_bool
from pyode.solver.rk_step import Func, rk_step
from pyode.solver.stats import SolverStats
from pyode.solver.tableaus import ButcherTableau


def steps_in_interval(span: float, step_size: float | None, n_steps: int | None) -> int:
    """Number of equal steps for one output interval of length |span|.

    `n_steps` counts steps per output interval; `step_size` is an upper bound, rounded so the
    grid lands exactly on both ends of the interval.
    """
    if n_steps is not None:
        return n_steps
    if step_size is not None:
        return max(1, math.ceil(abs(span) / step_size * (1 - 1e-12)))
    return 1


def integrate_fixed(
    func: Func,
    y0: Tensor,
    times: list[float],
    tableau: ButcherTableau,
    f0: Tensor,
    stats: SolverStats,
    *,
    step_size: float | None = None,
    n_steps: int | None = None,
    max_num_steps: int = MAX_NUM_STEPS,
    check_finite: bool = True,
    backward: bool = False,
) -> list[Tensor]:
    """Return the states at `times` (times[0] gives y0 itself).

    The grid is counted before any work, so a too-fine grid fails at once instead of running
    for hours.
    """
    grid = [(t_a, t_b, steps_in_interval(t_b - t_a, step_size, n_steps))
            for t_a, t_b in itertools.pairwise(times)]  # fmt: skip
    total = 0
    for t_a, t_b, n in grid:
        total += n
        if total > max_num_steps:
            raise ODESolverError(
                f"max_num_steps={max_num_steps} exceeded: the fixed grid needs {total}+ steps "
                f"by t={t_b:.6g} (from t={t_a:.6g}, dt={(t_b - t_a) / n:.3g}); raise the "
                f"option 'max_num_steps' or use a larger step"
            )
    outputs = [y0]
    y = y0
    f: Tensor | None = f0
    for t_a, t_b, n in grid:
        h = (t_b - t_a) / n
        for j in range(n):
            t = t_a + j * h
            if f is None:
                f = func(t, y)
            y, f, _, _ = rk_step(func, tableau, t, y, h, f, t_b if j == n - 1 else None)
        if backward:
            stats.n_accepted_backward += n
        else:
            stats.n_accepted += n
        if check_finite and not to_bool(torch.isfinite(y).all()):
            raise ODESolverError(
                f"non-finite state or derivative between t={t_a:.6g} and t={t_b:.6g} "
                f"({tableau.name}, dt={h:.3g})"
            )
        outputs.append(y)
    return outputs

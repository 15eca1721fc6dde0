"""Fixed-grid integration: the grid, the step loop, output times off the grid, `perturb`.

The grid is, by default, every output interval split evenly (`n_steps` per interval, or the
fewest equal steps no longer than `step_size`), so it lands on every output time. A
`grid_constructor(func, y0, t)` returns any grid from t[0] to t[-1] instead; output times
between its points are interpolated (`interp`: "linear" or "cubic" Hermite, as torchdiffeq).
One stepper advances one grid step: a Runge-Kutta tableau here, Adams-Bashforth-Moulton in
adams.py.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from pyode.solver import defaults
from pyode.solver.errors import ODESolverError
from pyode.solver.host_sync import to_bool, to_float, to_floats
from pyode.solver.interpolation import hermite_weights
from pyode.solver.partial import failed
from pyode.solver.rk_step import Func, combine, rk_step
from pyode.solver.stats import SolverStats
from pyode.solver.tableaus import ButcherTableau

INTERPOLATIONS = ("linear", "cubic")
# func.callback_step(t0, y0, dt) before every step (torchdiffeq's contract), t0 and dt floats.
StepCallback = Callable[[float, Tensor, float], None]
GridConstructor = Callable[[Callable[[Tensor, Tensor], Tensor], Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class FixedGridOptions:
    """`step_size` / `n_steps` / `grid_constructor` choose the grid (at most one of them);
    `perturb` evaluates func one representable time after each step's start and before its end
    (in the state's dtype), so a field that jumps at grid points is sampled on the right side."""

    step_size: float | None = None
    n_steps: int | None = None
    grid_constructor: GridConstructor | None = None
    interp: str = "linear"
    perturb: bool = False
    max_num_steps: int = defaults.MAX_NUM_STEPS


class Stepper(Protocol):
    def __call__(self, t0: float, y0: Tensor, h: float, t1: float, f0: Tensor | None
                 ) -> tuple[Tensor, Tensor]:  # fmt: skip
        """(y(t1), the step's first stage f(t0, y0)); f0 is that stage if already known."""


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


def nudge(t: float, toward: float, dtype: torch.dtype) -> float:
    """The representable time next to t in `dtype` (the time func sees), on the side of `toward`.

    The result is a value of `dtype`, so it stays exact when the solver hands it to func."""
    real = torch.empty((), dtype=dtype).abs().dtype  # complex states: their real dtype
    here = torch.tensor(t, dtype=real)
    return float(torch.nextafter(here, torch.tensor(toward, dtype=real)))


def perturbed(func: Func, t0: float, y0: Tensor, t1: float, dtype: torch.dtype
              ) -> tuple[Tensor, Func]:  # fmt: skip
    """`perturb`: the step's first derivative taken just after t0, and func with a stage at the
    step's end moved just before t1 (torchdiffeq's Perturb.NEXT and Perturb.PREV)."""
    before_end = nudge(t1, t0, dtype)

    def stage_func(t: float, y: Tensor) -> Tensor:
        return func(before_end if t == t1 else t, y)

    return func(nudge(t0, t1, dtype), y0), stage_func


def uniform_grid(step_size: float) -> GridConstructor:
    """torchdiffeq's grid for a `step_size`: t[0] + k * step_size, ending exactly at t[-1] (the
    last step may be shorter); output times between grid points are interpolated (`interp`).
    pyode's own `step_size` instead divides each output interval evenly, landing on every output
    time; the torchdiffeq interface maps its `step_size` to this grid."""
    if not (isinstance(step_size, int | float) and math.isfinite(step_size) and step_size > 0):
        raise ValueError(f"option 'step_size' must be a positive number, got {step_size!r}")

    def construct(func: Any, y0: Tensor, t: Tensor) -> Tensor:
        start, end = t[0], t[-1]
        step = step_size if end >= start else -step_size
        n = math.ceil(float((end - start) / step) + 1)
        grid = torch.arange(n, dtype=t.dtype, device=t.device) * step + start
        grid[-1] = end
        return grid

    return construct


def on_uniform_grid(options: dict[str, Any]) -> dict[str, Any]:
    """`options` with its `step_size` replaced by the grid t0 + k * step_size (uniform_grid)."""
    if options.get("grid_constructor") is not None:
        raise ValueError("options 'step_size' and 'grid_constructor' exclude each other")
    rest = {k: v for k, v in options.items() if k != "step_size"}
    return {**rest, "grid_constructor": uniform_grid(options["step_size"])}


def make_grid(
    func: Func, y0: Tensor, times: list[float], options: FixedGridOptions
) -> tuple[list[float], ODESolverError | None]:
    """The grid as python floats; every output time is on it unless a grid_constructor says so.

    A grid of more than max_num_steps steps comes back cut after that many, with the error
    saying so (counted before the grid is built: it may be huge)."""
    if options.grid_constructor is None:
        grid = [times[0]]
        total = 0
        for t_a, t_b in itertools.pairwise(times):
            n = steps_in_interval(t_b - t_a, options.step_size, options.n_steps)
            h = (t_b - t_a) / n
            total += n
            if total > options.max_num_steps:
                fits = n - (total - options.max_num_steps)  # the steps of this interval within
                grid += [t_a + j * h for j in range(1, fits + 1)]
                return grid, ODESolverError(
                    f"max_num_steps={options.max_num_steps} exceeded: the fixed grid needs "
                    f"{total}+ steps by t={t_b:.6g} (from t={t_a:.6g}, dt={h:.3g}); "
                    f"raise the option 'max_num_steps' or use a larger step",
                    reason="max_num_steps", t=grid[-1], dt=h,
                )  # fmt: skip
            grid += [t_a + j * h for j in range(1, n)] + [t_b]
        return grid, None
    t = torch.tensor(times, dtype=torch.float64, device=y0.device)
    out = options.grid_constructor(lambda s, y: func(float(s), y), y0, t)
    if not isinstance(out, Tensor) or out.dim() != 1 or out.numel() < 2:
        raise ValueError("option 'grid_constructor' must return a 1-D tensor of at least two "
                         f"times, got {out!r}")  # fmt: skip
    grid = to_floats(out.to(torch.float64))
    if grid[0] != times[0] or grid[-1] != times[-1]:
        raise ValueError(
            f"option 'grid_constructor' must return a grid from t[0]={times[0]} to "
            f"t[-1]={times[-1]}, got one from {grid[0]} to {grid[-1]}"
        )
    direction = 1.0 if times[-1] > times[0] else -1.0
    if not all(direction * (b - a) > 0 for a, b in itertools.pairwise(grid)):
        raise ValueError("option 'grid_constructor' must return a strictly monotone grid in "
                         "the direction of t")  # fmt: skip
    k = options.max_num_steps
    if len(grid) - 1 <= k:
        return grid, None
    return grid[: k + 1], ODESolverError(
        f"max_num_steps={k} exceeded: the grid_constructor's grid has {len(grid) - 1} "
        f"steps; step {k + 1} starts at t={grid[k]:.6g} (dt={grid[k + 1] - grid[k]:.3g})",
        reason="max_num_steps", t=grid[k], dt=grid[k + 1] - grid[k],
    )  # fmt: skip


def tableau_stepper(func: Func, tableau: ButcherTableau, perturb: bool, dtype: torch.dtype
                    ) -> Stepper:  # fmt: skip
    """One Runge-Kutta step; with `perturb` the first stage is taken just after t0 and a stage
    at the step's end just before t1 (torchdiffeq's Perturb.NEXT and Perturb.PREV)."""

    def step(t0: float, y0: Tensor, h: float, t1: float, f0: Tensor | None
             ) -> tuple[Tensor, Tensor]:  # fmt: skip
        stage_func = func
        if perturb:
            f0, stage_func = perturbed(func, t0, y0, t1, dtype)
        elif f0 is None:
            f0 = func(t0, y0)
        return rk_step(stage_func, tableau, t0, y0, h, f0, t1)[0], f0

    return step


def integrate_fixed(
    func: Func,
    y0: Tensor,
    times: list[float],
    stepper: Stepper,
    f0: Tensor | None,
    stats: SolverStats,
    options: FixedGridOptions,
    *,
    name: str,
    callback: StepCallback | None = None,
    backward: bool = False,
    on_failure: str = "raise",
) -> list[Tensor]:
    """Return the states at `times` (times[0] gives y0 itself).

    The grid is counted before any work, so a too-fine grid fails at once instead of running
    for hours (with on_failure="return", it is walked up to max_num_steps steps). `f0` =
    f(times[0], y0) when the caller has it (saves one evaluation). Outputs are checked to be
    finite; the first that is not ends the solve (on_failure="return": with its time reached
    the last finite grid point).
    """
    grid, too_long = make_grid(func, y0, times, options)
    if too_long is not None and on_failure == "raise":
        return failed(too_long, [y0], len(times), on_failure, None if backward else stats)
    # on_failure="return" watches the grid for the first non-finite point since the last
    # output (a tensor: no host synchronisation per step).
    watch = on_failure == "return"
    first_bad = torch.full((), -1, device=y0.device) if watch else y0  # y0: unused
    outputs = [y0]
    y = y0
    j = 1
    direction = 1.0 if times[-1] > times[0] else -1.0
    for k, (t0, t1) in enumerate(itertools.pairwise(grid), start=1):
        h = t1 - t0
        if callback is not None:
            callback(t0, y, h)
        y1, f_start = stepper(t0, y, h, t1, f0 if t0 == times[0] else None)
        if backward:
            stats.n_accepted_backward += 1
        else:
            stats.n_accepted += 1
        if watch:
            bad = ~torch.isfinite(y1).all() & (first_bad < 0)
            first_bad = torch.where(bad, k, first_bad)
        f1: Tensor | None = None
        while j < len(times) and direction * (t1 - times[j]) >= 0:
            if times[j] == t1:
                out = y1
            elif options.interp == "linear":
                out = torch.lerp(y, y1, (times[j] - t0) / h)
            else:
                f1 = func(t1, y1) if f1 is None else f1
                out = cubic_hermite(y, y1, f_start, f1, (times[j] - t0) / h, h)
            if not to_bool(torch.isfinite(out).all()):
                # Reached: the grid point before the first non-finite one (at least the last
                # output); the raised error, which watched nothing, names the last output.
                reached = times[j - 1]
                if watch:
                    bad_at = int(to_float(first_bad))
                    last_good = grid[bad_at - 1] if bad_at > 0 else t0
                    reached = max(reached, last_good, key=lambda x: direction * x)
                error = ODESolverError(
                    f"non-finite state or derivative between t={times[j - 1]:.6g} and "
                    f"t={times[j]:.6g} ({name}, dt={h:.3g})",
                    reason="non_finite", t=reached, dt=h,
                )  # fmt: skip
                return failed(error, outputs, len(times), on_failure, None if backward else stats)
            outputs.append(out)
            if watch:
                first_bad.fill_(-1)
            j += 1
        y = y1
    if too_long is not None:
        return failed(too_long, outputs, len(times), on_failure, None if backward else stats)
    return outputs


def cubic_hermite(y0: Tensor, y1: Tensor, f0: Tensor, f1: Tensor, s: float, h: float) -> Tensor:
    """The cubic through (y0, h f0) at s = 0 and (y1, h f1) at s = 1, at s."""
    w00, w01, w10, w11 = hermite_weights(s)
    return combine(None, h, [w10, w11], [f0, f1]).add_(y0, alpha=w00).add_(y1, alpha=w01)


def parse_fixed_options(opts: dict[str, Any], positive: Callable[..., Any]) -> FixedGridOptions:
    """Validate the fixed-grid keys of `opts` (removing them); `positive` checks numbers."""
    chosen = [k for k in ("step_size", "n_steps", "grid_constructor") if opts.get(k) is not None]
    if len(chosen) > 1:
        raise ValueError(f"give at most one of 'step_size', 'n_steps' and 'grid_constructor', "
                         f"got {', '.join(map(repr, chosen))}")  # fmt: skip
    step_size = opts.pop("step_size", None)
    n_steps = opts.pop("n_steps", None)
    constructor = opts.pop("grid_constructor", None)
    if constructor is not None and not callable(constructor):
        raise ValueError(f"option 'grid_constructor' must be callable, got {constructor!r}")
    interp = opts.pop("interp", "linear")
    if interp not in INTERPOLATIONS:
        raise ValueError(f"option 'interp' must be one of {', '.join(INTERPOLATIONS)}, "
                         f"got {interp!r}")  # fmt: skip
    perturb = opts.pop("perturb", False)
    if not isinstance(perturb, bool):
        raise ValueError(f"option 'perturb' must be True or False, got {perturb!r}")
    return FixedGridOptions(
        step_size=None if step_size is None else positive("step_size", step_size),
        n_steps=None if n_steps is None else positive("n_steps", n_steps, integer=True),
        grid_constructor=constructor,
        interp=interp,
        perturb=perturb,
        max_num_steps=positive("max_num_steps", opts.pop("max_num_steps", defaults.MAX_NUM_STEPS),
                               integer=True),
    )  # fmt: skip

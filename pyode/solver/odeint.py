"""Public entry point: argument validation, then the adjoint or the direct (RK-Net) path."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from pyode.solver import defaults
from pyode.solver.adjoint import AdjointProblem, AdjointSolve
from pyode.solver.config import SolverConfig, make_config, options_for
from pyode.solver.dynamics import CountedDynamics
from pyode.solver.fixed_grid import StepCallback
from pyode.solver.host_sync import to_floats
from pyode.solver.norms import RMS_NORM
from pyode.solver.scipy_solver import forward_only
from pyode.solver.stats import SolverStats
from pyode.solver.tuple_state import TupleState

State = Tensor | tuple[Tensor, ...]

ADJOINT_KWARGS = (
    "adjoint_rtol",
    "adjoint_atol",
    "adjoint_method",
    "adjoint_options",
    "adjoint_norm",
    "adjoint_params",
    "stats",
)


def check_times(t: Tensor) -> list[float]:
    """Validate t (1-D, >= 1 point, strictly monotone) and return it as python floats."""
    if not isinstance(t, Tensor):
        raise ValueError(f"t must be a 1-D torch tensor, got {type(t).__name__}")
    if t.dim() != 1:
        raise ValueError(f"t must be 1-D, got shape {tuple(t.shape)}")
    if t.numel() < 1:
        raise ValueError("t is empty; give at least one time")
    if not t.is_floating_point():
        raise ValueError(f"t must be a floating point tensor, got dtype {t.dtype}")
    if t.device.type == "meta":
        raise ValueError("t is on the 'meta' device, which holds no values; give real times")
    times = to_floats(t.to(torch.float64))
    steps = [b - a for a, b in itertools.pairwise(times)]
    if not all(map(math.isfinite, times)):
        raise ValueError(f"t must be finite, got {times}")
    if not (all(d > 0 for d in steps) or all(d < 0 for d in steps)):
        raise ValueError(f"t must be strictly increasing or strictly decreasing, got {times}")
    return times


def check_state(y0: Tensor) -> None:
    if not isinstance(y0, Tensor):
        raise ValueError(
            f"y0 must be a torch tensor or a tuple of tensors, got {type(y0).__name__}"
        )
    if not y0.is_floating_point():
        raise ValueError(f"y0 must be a floating point tensor, got dtype {y0.dtype}")
    if y0.device.type == "meta":
        raise ValueError(
            "y0 is on the 'meta' device, which holds shapes but no values, so there is "
            "nothing to integrate; create y0 on 'cpu' or 'cuda'"
        )


def adjoint_setup(
    method: str,
    rtol: float,
    atol: float,
    options: Mapping[str, Any] | None,
    kw: Mapping[str, Any],
) -> tuple[SolverConfig, SolverConfig, bool]:
    """Validate the forward and backward configurations (used by odeint and ODEBlock)."""
    unknown = sorted(set(kw) - set(ADJOINT_KWARGS))
    if unknown:
        raise ValueError(
            f"unknown argument(s) {', '.join(map(repr, unknown))}; "
            f"valid keyword arguments: {', '.join(ADJOINT_KWARGS)}"
        )
    forward = make_config(method, rtol, atol, options)
    adj_method = kw.get("adjoint_method") or method
    adj_options = kw.get("adjoint_options")
    if adj_options is None:
        adj_options = options_for(adj_method, options)
    backward = make_config(
        adj_method,
        rtol if kw.get("adjoint_rtol") is None else kw["adjoint_rtol"],
        atol if kw.get("adjoint_atol") is None else kw["adjoint_atol"],
        adj_options,
    )
    norm = kw.get("adjoint_norm")
    if norm not in (None, "seminorm"):
        raise ValueError(f"adjoint_norm must be None or 'seminorm', got {norm!r}")
    return forward, backward, norm == "seminorm"


def odeint(
    func: Callable[[Tensor, Any], Any],
    y0: State,
    t: Tensor,
    *,
    method: str = defaults.METHOD,
    rtol: float = defaults.RTOL,
    atol: float = defaults.ATOL,
    adjoint: bool = True,
    options: Mapping[str, Any] | None = None,
    **kw: Any,
) -> State:
    """Solve dy/dt = func(t, y), y(t[0]) = y0; return y at every t, shape (len(t), *y0.shape).

    y0 is a tensor or a tuple of tensors (each its own shape; func then takes and returns such a
    tuple and the result is a tuple). t holds the output times (float64 keeps its precision:
    times travel as python floats; func receives t in the state's dtype).
    Methods (pyode.solver.METHOD_TABLE): fixed grid `euler`, `midpoint`, `heun2`, `heun3`, `rk4`
    and the Adams-Bashforth(-Moulton) methods `explicit_adams`, `implicit_adams` (=
    `fixed_adams`; options `max_iters`, `max_order`), with options `step_size` (largest step)
    or `n_steps` (steps per output interval, default one) or `grid_constructor(func, y0, t)`
    (any grid from t[0] to t[-1]; `interp` "linear" or "cubic" between its points), `perturb`
    and `max_num_steps`, and func.callback_step(t0, y0, dt) before every step; adaptive
    `dopri5`, `tsit5`, `dopri8`, `bosh3`, `fehlberg2`, `adaptive_heun` (options `first_step`,
    `max_num_steps`, `min_step`, `max_step`, `safety`, `ifactor`, `dfactor`, `beta`, `jump_t`,
    `step_t`); `scipy_solver` (scipy's solve_ivp, options `solver`, `min_step`, `max_step`; no
    backpropagation through it, gradients by the adjoint). With `adjoint=True` gradients come
    from the adjoint method (constant memory); with `adjoint=False` by backpropagating through
    the solver. Keyword arguments:
    `adjoint_rtol`, `adjoint_atol`, `adjoint_method`, `adjoint_options`, `adjoint_norm` (None or
    "seminorm"), `adjoint_params` (tensors to differentiate; default: the parameters of func,
    which must then be an nn.Module) and `stats` (a SolverStats filled in by this call).
    """
    forward, backward, seminorm = adjoint_setup(method, rtol, atol, options, kw)
    flat = FlatProblem(func, y0)
    times = check_times(t)
    stats: SolverStats = kw.get("stats") or SolverStats()
    if len(times) == 1:
        return flat.unflatten(flat.y0[None])
    if adjoint:
        params = adjoint_params(func, kw.get("adjoint_params"), y0, t)
        problem = AdjointProblem(
            flat.func, times, forward, backward, params, stats, seminorm, flat.blocks
        )
        return flat.unflatten(AdjointSolve.apply(problem, flat.y0, t, *params))
    if forward.scipy is not None:
        return flat.unflatten(_scipy_direct(flat, func, t, times, forward, stats, kw))
    callback = _step_callback(func, flat)
    return flat.unflatten(
        _direct(flat.func, flat.y0, t, times, forward, stats, flat.norm, callback)
    )


def _step_callback(func: Any, flat: FlatProblem) -> StepCallback | None:
    """func.callback_step(t0, y0, dt) before every fixed-grid step (torchdiffeq's contract:
    t0 and dt as float64 0-d tensors, y0 shaped like the state)."""
    callback = getattr(func, "callback_step", None)
    if callback is None:
        return None

    def call(t0: float, y: Tensor, dt: float) -> None:
        kw: dict[str, Any] = {"dtype": torch.float64, "device": y.device}
        callback(torch.tensor(t0, **kw), flat.unflatten(y), torch.tensor(dt, **kw))

    return call


def _scipy_direct(
    flat: FlatProblem, func: Any, t: Tensor, times: list[float], config: SolverConfig,
    stats: SolverStats, kw: Mapping[str, Any],
) -> Tensor:  # fmt: skip
    """scipy_solver without the adjoint: the states, and an error if anything backpropagates."""
    dyn = CountedDynamics(flat.func, flat.y0)
    with torch.no_grad():
        ys = torch.stack(config.run(dyn, flat.y0, times, None, stats))
    stats.nfe_forward += dyn.nfe
    inputs = (flat.y0, t, *_parameters(func), *(kw.get("adjoint_params") or ()))
    wanted = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    return forward_only(ys, wanted) if torch.is_grad_enabled() and wanted else ys


def _parameters(func: Any) -> tuple[Tensor, ...]:
    return tuple(func.parameters()) if isinstance(func, nn.Module) else ()


class FlatProblem:
    """func and y0 as the solvers see them: one tensor state (tuple states flattened)."""

    def __init__(self, func: Callable[[Tensor, Any], Any], y0: State) -> None:
        self.tuple_state: TupleState | None = None
        if isinstance(y0, tuple | list):
            self.tuple_state = TupleState(tuple(y0))
            for y in y0:
                check_state(y)
            self.y0 = self.tuple_state.flatten(y0, what="y0")
            self.func = self.tuple_state.func(func)
            self.blocks = self.tuple_state.blocks
            self.norm: Any = self.tuple_state.norm()
        else:
            check_state(y0)
            self.y0 = y0
            self.func = func
            self.blocks = [(0, y0.numel())]
            self.norm = RMS_NORM

    def unflatten(self, ys: Tensor) -> State:
        return ys if self.tuple_state is None else self.tuple_state.unflatten(ys)


def adjoint_params(func: Any, explicit: Any, y0: State, t: Tensor) -> tuple[Tensor, ...]:
    """The tensors the adjoint differentiates: adjoint_params, else func's parameters.

    A plain callable (a Python function or an R function via reticulate) has no parameters
    pyode can see; rather than leave their gradients silently missing, say so whenever a
    gradient is being recorded.
    """
    if explicit is not None:
        params = tuple(explicit)
        if not all(isinstance(p, Tensor) for p in params):
            raise ValueError("adjoint_params must be a sequence of tensors")
        return params
    if isinstance(func, nn.Module):
        return tuple(p for p in func.parameters() if p.requires_grad)
    states = tuple(y0) if isinstance(y0, tuple | list) else (y0,)
    wants_grad = any(isinstance(y, Tensor) and y.requires_grad for y in (*states, t))
    if torch.is_grad_enabled() and wants_grad:
        raise ValueError(
            f"func is a plain callable ({type(func).__name__}), not a torch.nn.Module, so the "
            "adjoint method cannot see the tensors it uses and their gradients would be "
            "missing. Pass adjoint_params=(tensors func depends on, ...), or adjoint_params=() "
            "if it depends on none (as for an R function or a fixed formula); or make func an "
            "nn.Module; or use adjoint=False to backpropagate through the solver."
        )
    return ()


def _direct(
    func: Callable[[Tensor, Tensor], Tensor],
    y0: Tensor,
    t: Tensor,
    times: list[float],
    config: SolverConfig,
    stats: SolverStats,
    norm: Any = RMS_NORM,
    callback: StepCallback | None = None,
) -> Tensor:
    """Backpropagate through the solver's own operations (RK-Net)."""
    dyn = CountedDynamics(func, y0)
    time_grad = t.requires_grad and torch.is_grad_enabled()
    f0 = dyn(times[0], y0) if time_grad or config.uses_start_derivative else None
    if time_grad:
        # Moving t_0 by dt moves the trajectory like moving y0 by -f(t_0, y0) dt: a zero-valued
        # correction whose derivative routes dL/dt_0 through the solver's graph.
        shifted = y0 - (t[0] - t[0].detach()) * f0.detach()
        f_shifted = dyn(times[0], shifted) if config.uses_start_derivative else None
        ys = config.run(dyn, shifted, times, f_shifted, stats, norm=norm, callback=callback)
        ys[0] = y0
    else:
        ys = config.run(dyn, y0, times, f0, stats, norm=norm, callback=callback)
    if time_grad:
        # y(t_i) moves with t_i at speed f(t_i, y_i) (f re-evaluated: the solver may not have it).
        ys = [ys[0]] + [
            y + (t[i] - t[i].detach()) * dyn(times[i], y.detach()).detach()
            for i, y in enumerate(ys) if i > 0
        ]  # fmt: skip
    out = torch.stack(ys)
    nfe = dyn.nfe
    stats.nfe_forward += nfe
    if out.requires_grad:

        def _record_backward(_grad: Tensor) -> None:
            stats.nfe_backward += nfe

        out.register_hook(_record_backward)
    return out

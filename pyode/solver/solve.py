"""Public entry point: argument validation, then the adjoint or the direct (RK-Net) path."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from pyode.solver import defaults
from pyode.solver.adjoint import AdjointProblem, AdjointSolve
from pyode.solver.callbacks import find_callbacks
from pyode.solver.config import SolverConfig, make_config, options_for
from pyode.solver.dynamics import CountedDynamics
from pyode.solver.host_sync import to_floats
from pyode.solver.initial_step import Norm
from pyode.solver.methods import METHOD_TABLE
from pyode.solver.norms import RMS_NORM, CallableNorm, Tolerance, check_norm
from pyode.solver.partial import check_on_failure, n_reached
from pyode.solver.per_sample_adjoint import check_per_sample, odeint_per_sample
from pyode.solver.scipy_solver import forward_only
from pyode.solver.stats import SolverStats, StepCounter
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
    if forward.norm == "seminorm":
        raise ValueError(
            "option 'norm'='seminorm' is for the adjoint's backward solve: give it as "
            "adjoint_options={'norm': 'seminorm'} or adjoint_norm='seminorm'"
        )
    norm = kw.get("adjoint_norm")
    if norm is not None:
        if not (norm == "seminorm" or callable(norm)):
            raise ValueError(f"adjoint_norm must be None, 'seminorm' or a callable, got {norm!r}")
        if backward.norm not in (None, norm):
            raise ValueError("adjoint_norm and adjoint_options['norm'] disagree; give one")
        backward = replace(backward, norm=norm)
    return forward, backward, backward.norm == "seminorm"


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
    per_sample: bool = False,
    on_failure: str = "raise",
    **kw: Any,
) -> State:
    """Solve dy/dt = func(t, y), y(t[0]) = y0; return y at every t, shape (len(t), *y0.shape).

    y0 is a tensor or a tuple of tensors (each its own shape; func then takes and returns such a
    tuple and the result is a tuple). t holds the output times (float64 keeps its precision:
    times travel as python floats; func receives t in the state's dtype).
    Methods (pyode.solver.METHOD_TABLE): fixed grid `euler`, `midpoint`, `heun2`, `heun3`, `rk4`
    and the Adams-Bashforth(-Moulton) methods `explicit_adams`, `implicit_adams` (=
    `fixed_adams`; options `max_iters`, `max_order`), with options `step_size` (largest step) or
    `n_steps` (steps per output interval, default one) or `grid_constructor(func, y0, t)` (any
    grid from t[0] to t[-1]; `interp` "linear" or "cubic" between its points), `perturb` and
    `max_num_steps`, and func.callback_step(t0, y0, dt) before every step; adaptive `dopri5`,
    `tsit5`, `dopri8`, `bosh3`, `fehlberg2`, `adaptive_heun` (options `first_step`,
    `max_num_steps`, `min_step`, `max_step`, `safety`, `ifactor`, `dfactor`, `beta`, `jump_t`,
    `step_t`); for stiff problems the implicit `kvaerno3`, `kvaerno5` (adaptive) and
    `implicit_euler` (fixed grid), with options `jacobian` ("dense" or "krylov") and
    `max_newton_iters`; `scipy_solver` (scipy's solve_ivp, options `solver`, `min_step`,
    `max_step`; no backpropagation through it, gradients by the adjoint). With `adjoint=True`
    gradients come from the adjoint method (constant memory); with `adjoint=False` by
    backpropagating through the solver. rtol and atol may be tensors (per-element tolerances,
    broadcasting against y0) or, for tuple states, one tolerance per component; the adaptive
    option `norm` is a callable norm(scaled error) as in torchdiffeq; the option `dtype` is the
    clock's dtype (float64 by default). Step callbacks `func.callback_step(t0, y0, dt)`,
    `callback_accept_step`, `callback_reject_step` (and their `_adjoint` twins, for the backward
    solve) are called as in torchdiffeq. Keyword arguments: `adjoint_rtol`, `adjoint_atol`,
    `adjoint_method`, `adjoint_options`, `adjoint_norm` (None, "seminorm" or a callable on the
    augmented state (t, y, adj_y, *adj_params)), `adjoint_params` (tensors to differentiate;
    default: the parameters of func, which must then be an nn.Module) and `stats` (a SolverStats
    filled in by this call).
    `on_failure`: "raise" (an ODESolverError when the step limit is hit, the step size
    underflows or the state turns non-finite) or "return": the outputs up to the failure, NaN
    after them, with `stats.status` and `stats.t_reached` saying what happened. Gradients then
    flow from the outputs reached only: the adjoint starts its backward solve at the last of
    them and ignores the gradients arriving at the NaN outputs. A failure of the adjoint's
    backward solve is always raised.

    `per_sample=True` (adaptive explicit Runge-Kutta methods): y0 has shape (batch, ...) and
    every row takes its own steps, error test and end, as if solved alone, in one batched
    computation; t is shared, shape (n,), or per row, shape (batch, n); func(t, y) receives t as a
    tensor of shape (batch,), each row's time (see pyode.solver.per_sample). With
    on_failure="return" a failing row gets NaN at the output times it did not reach while the
    others go on; stats.status_per_sample / t_reached_per_sample say what happened to each.
    """
    forward, backward, _ = adjoint_setup(method, rtol, atol, options, kw)
    if per_sample:
        on_failure = check_on_failure(on_failure)
        return _per_sample(func, y0, t, forward, backward, adjoint, on_failure, kw)
    forward = failure_setup(forward, on_failure)
    flat = FlatProblem(func, y0)
    forward = flat.fit(forward)
    times = forward.clock_times(check_times(t))
    if len(set(times)) < len(times):
        raise ValueError(f"t has times that coincide in the time dtype {forward.time_dtype}")
    stats: SolverStats = kw.get("stats") or SolverStats()
    stats.status, stats.t_reached = "success", times[-1]  # until a failure says otherwise
    if len(times) == 1:
        return flat.unflatten(flat.y0[None])
    counter = StepCounter(stats, callbacks=flat.callbacks(method, forward))
    if adjoint:
        params = adjoint_params(func, kw.get("adjoint_params"), y0, t)
        problem = AdjointProblem(flat, times, forward, flat.fit(backward), params, counter)
        return flat.unflatten(AdjointSolve.apply(problem, flat.y0, t, *params))
    if forward.scipy is not None:
        return flat.unflatten(_scipy_direct(flat, func, t, times, forward, counter, kw))
    return flat.unflatten(
        _direct(flat.func, flat.y0, t, times, forward, counter, flat.norm_for(forward))
    )


def failure_setup(config: SolverConfig, on_failure: Any) -> SolverConfig:
    """`config` with odeint's on_failure checked and set (used by odeint and ODEBlock)."""
    on_failure = check_on_failure(on_failure)
    if on_failure == "return" and config.scipy is not None:
        raise ValueError("on_failure='return' is not available with method 'scipy_solver' "
                         "(solve_ivp does not say where or why it stopped); use on_failure="
                         "'raise' or one of pyode's own methods")  # fmt: skip
    return replace(config, on_failure=on_failure)


def _per_sample(
    func: Any, y0: Any, t: Tensor, forward: SolverConfig, backward: SolverConfig,
    adjoint: bool, on_failure: str, kw: Mapping[str, Any],
) -> Tensor:  # fmt: skip
    check_per_sample(y0, forward, backward if adjoint else None)
    flat = FlatProblem(func, y0)
    params = adjoint_params(func, kw.get("adjoint_params"), y0, t) if adjoint else ()
    return odeint_per_sample(
        func, y0, t, flat.fit(forward), flat.fit(backward), adjoint=adjoint, params=params,
        stats=kw.get("stats") or SolverStats(), on_failure=on_failure,
    )  # fmt: skip


def _scipy_direct(
    flat: FlatProblem, func: Any, t: Tensor, times: list[float], config: SolverConfig,
    counter: StepCounter, kw: Mapping[str, Any],
) -> Tensor:  # fmt: skip
    """scipy_solver without the adjoint: the states, and an error if anything backpropagates."""
    dyn = CountedDynamics(flat.func, flat.y0)
    with torch.no_grad():
        ys = torch.stack(config.run(dyn, flat.y0, times, None, counter))
    counter.stats.nfe_forward += dyn.nfe
    inputs = (flat.y0, t, *_parameters(func), *(kw.get("adjoint_params") or ()))
    wanted = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    return forward_only(ys, wanted) if torch.is_grad_enabled() and wanted else ys


def _parameters(func: Any) -> tuple[Tensor, ...]:
    return tuple(func.parameters()) if isinstance(func, nn.Module) else ()


class FlatProblem:
    """func and y0 as the solvers see them: one tensor state (tuple states flattened)."""

    def __init__(self, func: Callable[[Tensor, Any], Any], y0: State) -> None:
        self.user_func = func
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

    def view(self, y: Tensor) -> State:
        """One state as the user sees it (for norms and callbacks)."""
        return self.unflatten(y)

    def fit(self, config: SolverConfig) -> SolverConfig:
        """config with its tolerances fitted to the flat state (per element, per component)."""
        config.check_state(self.y0)
        rtol, atol = self.tolerance("rtol", config.rtol), self.tolerance("atol", config.atol)
        if rtol is config.rtol and atol is config.atol:
            return config
        return replace(config, rtol=rtol, atol=atol)

    def tolerance(self, name: str, tol: Any) -> Tolerance:
        """A number stays a number; a tensor broadcasts against y0; for a tuple state, a
        sequence (or a tensor along its first dimension) gives one tolerance per component."""
        like = self.y0
        if isinstance(tol, float):
            return tol
        if isinstance(tol, Tensor) and tol.dim() == 0:
            return tol.to(like.dtype if like.element_size() >= 4 else torch.float32)
        if self.tuple_state is None:
            if not isinstance(tol, Tensor):
                raise ValueError(
                    f"{name} is a sequence, but y0 is a tensor: give a number or a tensor "
                    f"that broadcasts against y0's shape {tuple(like.shape)}"
                )
            return _broadcast(name, tol, like.shape, like)
        shapes = self.tuple_state.shapes
        parts = list(tol)
        if len(parts) != len(shapes):
            raise ValueError(f"{name} holds {len(parts)} tolerances but y0 has {len(shapes)} "
                             "components; give one per component")  # fmt: skip
        return torch.cat([
            _broadcast(f"{name}[{i}]", torch.as_tensor(p, dtype=torch.float64), shape, like)
            .reshape(-1) for i, (p, shape) in enumerate(zip(parts, shapes))
        ])  # fmt: skip

    def norm_for(self, config: SolverConfig) -> Norm:
        """The forward error norm: the user's `norm` option, else the default."""
        if config.norm is None:
            return self.norm
        user = check_norm("norm", config.norm)
        return CallableNorm(user, None if self.tuple_state is None else self.view)

    def callbacks(self, method: str, config: SolverConfig) -> Any:
        supported = METHOD_TABLE[config.method].callbacks
        return find_callbacks(self.user_func, method, supported, state=self.view)


def _broadcast(name: str, tol: Tensor, shape: torch.Size, like: Tensor) -> Tensor:
    """tol expanded to `shape`, in the dtype the error is measured in, on the state's device."""
    try:
        fits = torch.broadcast_shapes(tol.shape, shape) == shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"{name} has shape {tuple(tol.shape)}, which does not broadcast "
                         f"against the state's shape {tuple(shape)}")  # fmt: skip
    dtype = like.dtype if like.element_size() >= 4 else torch.float32
    return tol.expand(shape).to(dtype=dtype, device=like.device).contiguous()


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
    counter: StepCounter,
    norm: Norm = RMS_NORM,
) -> Tensor:
    """Backpropagate through the solver's own operations (RK-Net)."""
    dyn = CountedDynamics(func, y0)
    time_grad = t.requires_grad and torch.is_grad_enabled()
    f0 = dyn(times[0], y0) if time_grad or config.uses_start_derivative else None
    if time_grad:
        # Moving t_0 by dt moves the trajectory like moving y0 by -f(t_0, y0) dt: a zero-valued
        # correction whose derivative routes dL/dt_0 through the solver's graph.
        # The shift is cast to the state's dtype: t may be float64 while y is float32.
        shifted = y0 - (t[0] - t[0].detach()).to(y0.dtype) * f0.detach()
        f_shifted = dyn(times[0], shifted) if config.uses_start_derivative else None
        ys = config.run(dyn, shifted, times, f_shifted, counter, norm=norm)
        ys[0] = y0
    else:
        ys = config.run(dyn, y0, times, f0, counter, norm=norm)
    if time_grad:
        # y(t_i) moves with t_i at speed f(t_i, y_i) (f re-evaluated: the solver may not have it);
        # the NaN outputs after a returned failure are constants.
        reached = n_reached(times, counter.stats.t_reached)
        ys = [ys[0]] + [
            y + (t[i] - t[i].detach()).to(y.dtype) * dyn(times[i], y.detach()).detach()
            if i < reached else y for i, y in enumerate(ys) if i > 0
        ]  # fmt: skip
    out = torch.stack(ys)
    nfe = dyn.nfe
    stats = counter.stats
    stats.nfe_forward += nfe
    if out.requires_grad:

        def _record_backward(_grad: Tensor) -> None:
            stats.nfe_backward += nfe

        out.register_hook(_record_backward)
    return out

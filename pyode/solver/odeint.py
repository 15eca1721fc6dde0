"""Public entry point: argument validation, then the adjoint or the direct (RK-Net) path."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from pyode.solver.adjoint import AdjointProblem, AdjointSolve
from pyode.solver.config import SolverConfig, make_config, options_for
from pyode.solver.dynamics import CountedDynamics
from pyode.solver.stats import SolverStats

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
    """Validate t (1-D, >= 2 points, strictly monotone) and return it as python floats."""
    if not isinstance(t, Tensor):
        raise ValueError(f"t must be a 1-D torch tensor, got {type(t).__name__}")
    if t.dim() != 1:
        raise ValueError(f"t must be 1-D, got shape {tuple(t.shape)}")
    if t.numel() < 2:
        raise ValueError(f"t must have at least 2 points, got {t.numel()}")
    if not t.is_floating_point():
        raise ValueError(f"t must be a floating point tensor, got dtype {t.dtype}")
    times = [float(x) for x in t.detach().cpu().tolist()]
    steps = [b - a for a, b in itertools.pairwise(times)]
    if not all(map(_finite, times)):
        raise ValueError(f"t must be finite, got {times}")
    if not (all(d > 0 for d in steps) or all(d < 0 for d in steps)):
        raise ValueError(f"t must be strictly increasing or strictly decreasing, got {times}")
    return times


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")


def check_state(y0: Tensor) -> None:
    if not isinstance(y0, Tensor):
        raise ValueError(f"y0 must be a torch tensor, got {type(y0).__name__}")
    if not y0.is_floating_point():
        raise ValueError(f"y0 must be a floating point tensor, got dtype {y0.dtype}")


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
    func: Callable[[Tensor, Tensor], Tensor],
    y0: Tensor,
    t: Tensor,
    *,
    method: str = "dopri5",
    rtol: float = 1e-3,
    atol: float = 1e-3,
    adjoint: bool = True,
    options: Mapping[str, Any] | None = None,
    **kw: Any,
) -> Tensor:
    """Solve dy/dt = func(t, y), y(t[0]) = y0; return y at every t, shape (len(t), *y0.shape).

    Methods: fixed grid `euler`, `midpoint`, `rk4` (options `step_size`: largest step, or
    `n_steps`: steps per output interval; default one step per interval) and adaptive `dopri5`,
    `bosh3` (options `first_step`, `max_num_steps`, `min_step`, `safety`, `ifactor`, `dfactor`,
    `beta`). With `adjoint=True` gradients come from the adjoint method (constant memory); with
    `adjoint=False` by backpropagating through the solver. Keyword arguments: `adjoint_rtol`,
    `adjoint_atol`, `adjoint_method`, `adjoint_options`, `adjoint_norm` (None or "seminorm"),
    `adjoint_params` (tensors to differentiate; default: func's parameters) and `stats` (a
    SolverStats filled in by this call).
    """
    forward, backward, seminorm = adjoint_setup(method, rtol, atol, options, kw)
    check_state(y0)
    times = check_times(t)
    stats: SolverStats = kw.get("stats") or SolverStats()
    if adjoint:
        params = _adjoint_params(func, kw.get("adjoint_params"))
        problem = AdjointProblem(func, times, forward, backward, params, stats, seminorm)
        return AdjointSolve.apply(problem, y0, t, *params)
    return _direct(func, y0, t, times, forward, stats)


def _adjoint_params(func: Any, explicit: Any) -> tuple[Tensor, ...]:
    if explicit is not None:
        params = tuple(explicit)
        if not all(isinstance(p, Tensor) for p in params):
            raise ValueError("adjoint_params must be a sequence of tensors")
        return params
    if isinstance(func, nn.Module):
        return tuple(p for p in func.parameters() if p.requires_grad)
    return ()


def _direct(
    func: Callable[[Tensor, Tensor], Tensor],
    y0: Tensor,
    t: Tensor,
    times: list[float],
    config: SolverConfig,
    stats: SolverStats,
) -> Tensor:
    """Backpropagate through the solver's own operations (RK-Net)."""
    dyn = CountedDynamics(func, y0)
    time_grad = t.requires_grad and torch.is_grad_enabled()
    f0 = dyn(times[0], y0)
    if time_grad:
        # Moving t_0 by dt moves the trajectory like moving y0 by -f(t_0, y0) dt: a zero-valued
        # correction whose derivative routes dL/dt_0 through the solver's graph.
        shifted = y0 - (t[0] - t[0].detach()) * f0.detach()
        ys = config.run(dyn, shifted, times, dyn(times[0], shifted), stats)
        ys[0] = y0
    else:
        ys = config.run(dyn, y0, times, f0, stats)
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

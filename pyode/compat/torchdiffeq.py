"""torchdiffeq's interface on pyode: change the import to `from pyode.compat import torchdiffeq`.

A thin mapping of names and defaults: torchdiffeq's signatures, its defaults (rtol 1e-7, atol
1e-9, dopri5, no step limit, adjoint options inherited from `options` without the norm) and its
argument rules. Every feature lives in pyode.solver; a torchdiffeq feature pyode does not offer
raises NotImplementedError naming it, none is silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from pyode.solver.config import options_for
from pyode.solver.events import odeint_event as _pyode_event
from pyode.solver.fixed_grid import on_uniform_grid
from pyode.solver.methods import (
    METHOD_TABLE,
    METHODS,  # noqa: F401 - the method names torchdiffeq users reach
)
from pyode.solver.solve import odeint as _pyode_odeint

NO_STEP_LIMIT = 2**31 - 1  # torchdiffeq's default max_num_steps

# torchdiffeq methods pyode does not offer, with what to use instead (every option of
# torchdiffeq's solvers has its pyode counterpart; its fixed-grid implicit_euler is pyode's).
_IMPLICIT = ("implicit_midpoint", "trapezoid", "radauIIA3", "gl4", "radauIIA5", "gl6", "sdirk2",
             "trbdf2")  # fmt: skip
NOT_IN_PYODE_METHODS = {
    name: "pyode's implicit methods are 'implicit_euler' (fixed grid) and 'kvaerno3', "
    "'kvaerno5' (adaptive, for stiff problems)"
    for name in _IMPLICIT
}


def _method(method: str | None) -> str:
    method = "dopri5" if method is None else method
    if method in NOT_IN_PYODE_METHODS:
        raise NotImplementedError(f"torchdiffeq method {method!r} is not in pyode: "
                                  f"{NOT_IN_PYODE_METHODS[method]}")  # fmt: skip
    return method


def _options(method: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """torchdiffeq's options with its step limit (none) as the default."""
    return {**options_for(method, {"max_num_steps": NO_STEP_LIMIT}), **(options or {})}


def _grids(kw: dict[str, Any]) -> dict[str, Any]:
    """The forward's and the adjoint's options on torchdiffeq's grids."""
    out = {**kw, "options": _on_its_grid(kw["method"], kw["options"])}
    if kw.get("adjoint_options") is not None:
        out["adjoint_options"] = _on_its_grid(kw["adjoint_method"], kw["adjoint_options"])
    return out


def _on_its_grid(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """torchdiffeq's fixed-grid `step_size` means its grid (pyode.solver.fixed_grid
    .uniform_grid); an event search steps by the step size itself."""
    if METHOD_TABLE[method].adaptive or options.get("step_size") is None:
        return options
    return on_uniform_grid(options)


def odeint(
    func: Callable[..., Any],
    y0: Any,
    t: Tensor,
    *,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    method: str | None = None,
    options: Mapping[str, Any] | None = None,
    event_fn: Callable[..., Tensor] | None = None,
) -> Any:
    """torchdiffeq.odeint: backpropagates through the solver."""
    method = _method(method)
    kw: dict[str, Any] = dict(rtol=rtol, atol=atol, method=method,
                              options=_options(method, options), adjoint=False)  # fmt: skip
    if event_fn is not None:
        return _event_from_odeint(func, y0, t, event_fn, kw)
    return _pyode_odeint(func, y0, t, **_grids(kw))


def odeint_adjoint(
    func: Callable[..., Any],
    y0: Any,
    t: Tensor,
    *,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    method: str | None = None,
    options: Mapping[str, Any] | None = None,
    event_fn: Callable[..., Tensor] | None = None,
    adjoint_rtol: float | None = None,
    adjoint_atol: float | None = None,
    adjoint_method: str | None = None,
    adjoint_options: Mapping[str, Any] | None = None,
    adjoint_params: Iterable[Tensor] | None = None,
) -> Any:
    """torchdiffeq.odeint_adjoint: gradients by the adjoint method."""
    if adjoint_params is None and not isinstance(func, torch.nn.Module):
        raise ValueError(
            "func must be an instance of nn.Module to specify the adjoint parameters; "
            "alternatively pass them via `adjoint_params` (adjoint_params=() if there are none)"
        )
    method = _method(method)
    adjoint_method = _method(adjoint_method or method)
    if adjoint_method != method and options is not None and adjoint_options is None:
        raise ValueError("if adjoint_method != method and options are given, adjoint_options "
                         "must be given as well")  # fmt: skip
    opts = _options(method, options)
    kw: dict[str, Any] = dict(
        rtol=rtol, atol=atol, method=method, options=opts, adjoint=True,
        adjoint_rtol=adjoint_rtol, adjoint_atol=adjoint_atol, adjoint_method=adjoint_method,
        adjoint_options=_options(adjoint_method, options_for(adjoint_method, opts)
                                 if adjoint_options is None else adjoint_options),
        adjoint_params=None if adjoint_params is None else tuple(adjoint_params),
    )  # fmt: skip
    if event_fn is not None:
        return _event_from_odeint(func, y0, t, event_fn, kw)
    return _pyode_odeint(func, y0, t, **_grids(kw))


def odeint_event(
    func: Callable[..., Any],
    y0: Any,
    t0: Tensor,
    *,
    event_fn: Callable[..., Tensor],
    reverse_time: bool = False,
    odeint_interface: Callable[..., Any] = odeint,
    **kwargs: Any,
) -> tuple[Tensor, Any]:
    """torchdiffeq.odeint_event: (event_t, solution at [t0, event_t])."""
    if odeint_interface not in (odeint, odeint_adjoint):
        raise NotImplementedError("odeint_event's odeint_interface must be this module's "
                                  "odeint or odeint_adjoint")  # fmt: skip
    t = torch.cat([t0.reshape(-1), t0.reshape(-1).detach() + (-1.0 if reverse_time else 1.0)])
    return odeint_interface(func, y0, t, event_fn=event_fn, **kwargs)


def _event_from_odeint(
    func: Callable[..., Any], y0: Any, t: Tensor, event_fn: Callable[..., Tensor], kw: dict
) -> tuple[Tensor, Any]:
    """torchdiffeq's odeint(event_fn=...): from t[0] in the direction of t until the event."""
    reverse = t.numel() > 1 and bool(t[1] < t[0])
    return _pyode_event(func, y0, t[0], event_fn=event_fn, reverse_time=reverse, **kw)

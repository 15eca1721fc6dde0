"""Method names and options -> a validated, immutable solver configuration."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from torch import Tensor

from pyode.solver import defaults
from pyode.solver.adams import MAX_ORDER, MIN_ORDER, AdamsOptions, adams_stepper
from pyode.solver.adaptive import integrate_adaptive
from pyode.solver.controller import AdaptiveController, AdaptiveOptions, StepCarry
from pyode.solver.fixed_grid import (
    FixedGridOptions,
    Stepper,
    integrate_fixed,
    parse_fixed_options,
    tableau_stepper,
)
from pyode.solver.host_sync import to_floats
from pyode.solver.implicit_step import ImplicitStep, implicit_stepper
from pyode.solver.implicit_tableaus import IMPLICIT_TABLEAUS, ImplicitTableau
from pyode.solver.initial_step import Norm
from pyode.solver.methods import METHOD_TABLE, METHODS
from pyode.solver.newton import JACOBIANS, NewtonOptions
from pyode.solver.norms import RMS_NORM, Tolerance, check_norm
from pyode.solver.rk_step import Func
from pyode.solver.scipy_solver import ScipyOptions, integrate_scipy, parse_scipy_options
from pyode.solver.stats import StepCounter
from pyode.solver.tableaus import TABLEAUS, ButcherTableau

__all__ = ["METHODS", "SolverConfig", "make_config", "options_for", "valid_options"]

# `dtype`: the clock's dtype (torchdiffeq's option; float32 where float64 is slow or missing).
FIXED_OPTIONS = ("step_size", "n_steps", "max_num_steps", "grid_constructor", "interp", "perturb",
                 "dtype")  # fmt: skip
ADAMS_OPTIONS = (*FIXED_OPTIONS, "max_iters", "max_order")
SCIPY_OPTIONS = ("solver", "min_step", "max_step", "dtype")
# `norm`: a callable norm(scaled error) -> ratio, as torchdiffeq takes it ("seminorm" for the
# adjoint's backward solve).
ADAPTIVE_OPTIONS = (*(f.name for f in fields(AdaptiveOptions)), "norm", "dtype")
# The implicit methods' Newton iterations: how J is used, and how many iterations a stage gets.
NEWTON_OPTIONS = ("jacobian", "max_newton_iters")
TIME_DTYPES = (torch.float64, torch.float32)


def valid_options(method: str) -> tuple[str, ...]:
    """The option names `method` accepts."""
    kind = METHOD_TABLE[method].kind
    if kind == "scipy":
        return SCIPY_OPTIONS
    if kind == "adams":
        return ADAMS_OPTIONS
    options = ADAPTIVE_OPTIONS if METHOD_TABLE[method].adaptive else FIXED_OPTIONS
    return (*options, *NEWTON_OPTIONS) if kind == "implicit" else options


@dataclass(frozen=True)
class SolverConfig:
    """A method, its tolerances and its options, ready to integrate.

    Exactly one of `adaptive` (embedded Runge-Kutta), `fixed` (fixed grid: a tableau, or
    Adams-Bashforth-Moulton with `adams`) and `scipy` is set; `tableau` is None for the last two.
    `newton` is set for the implicit methods (their tableau is an ImplicitTableau).
    """

    method: str
    tableau: ButcherTableau | ImplicitTableau | None
    rtol: Tolerance
    atol: Tolerance
    adaptive: AdaptiveOptions | None = None
    fixed: FixedGridOptions | None = None
    adams: AdamsOptions | None = None
    scipy: ScipyOptions | None = None
    norm: Any = None  # the `norm` option: a callable, "seminorm" or None (the default norm)
    time_dtype: torch.dtype = torch.float64
    on_failure: str = "raise"  # odeint's on_failure (pyode.solver.partial); backward: "raise"
    newton: NewtonOptions | None = None

    def stepper(self, func: Func, dtype: torch.dtype, norm: Norm | None = None,
                counter: StepCounter | None = None) -> Stepper:  # fmt: skip
        """A fresh fixed-grid stepper (the Adams and implicit ones keep state for one solve;
        an implicit one counts its Newton work into `counter`)."""
        assert self.fixed is not None
        if self.adams is not None:
            return adams_stepper(func, self.adams, self.fixed.perturb, self.rtol, self.atol, dtype)
        if isinstance(self.tableau, ImplicitTableau):
            assert self.newton is not None
            return implicit_stepper(func, self.tableau, self.newton, self.fixed.perturb, dtype,
                                    norm or RMS_NORM, self.rtol, self.atol, counter)  # fmt: skip
        assert self.tableau is not None
        return tableau_stepper(func, self.tableau, self.fixed.perturb, dtype)

    @property
    def uses_start_derivative(self) -> bool:
        """Whether run() uses the caller's f(times[0], y0); a perturbed grid samples f just
        after times[0] instead, and scipy evaluates its own."""
        return self.scipy is None and not (self.fixed is not None and self.fixed.perturb)

    def run(
        self,
        func: Func,
        y0: Tensor,
        times: list[float],
        f0: Tensor | None,
        counter: StepCounter,
        *,
        norm: Norm | None = None,
        carry: StepCarry | None = None,
        record: list | None = None,
    ) -> list[Tensor]:
        """States at `times`; `carry` passes the last step size from one call to the next,
        `record` receives an adaptive solve's accepted steps, or a fixed grid's points (t, y)."""
        if self.scipy is not None:
            return integrate_scipy(func, y0, times, self.rtol, self.atol, self.scipy,
                                   counter.stats)  # fmt: skip
        if self.fixed is not None:
            callback = counter.before
            if record is not None:  # a fixed grid records its points (t, y)

                def callback(t0: float, y: Tensor, dt: float) -> None:
                    counter.before(t0, y, dt)
                    record.append((t0, y))

            outputs = integrate_fixed(
                func, y0, times, self.stepper(func, y0.dtype, norm, counter), f0, counter.stats,
                self.fixed, name=self.method, callback=callback, backward=counter.backward,
                on_failure=self.on_failure,
            )  # fmt: skip
            if record is not None:
                record.append((times[-1], outputs[-1]))
            return outputs
        assert f0 is not None
        config = self
        if self.newton is not None and len(times) > 2:
            # The implicit methods' dense output is a cubic Hermite, third order: a few
            # tolerances off inside their long steps. Their steps end on the outputs instead.
            assert self.adaptive is not None
            step_t = tuple(sorted({*self.adaptive.step_t, *times[1:-1]}))
            config = replace(self, adaptive=replace(self.adaptive, step_t=step_t))
        return integrate_adaptive(func, y0, f0, times, config.controller(norm, counter), counter,
                                  carry=carry, record=record,
                                  on_failure=self.on_failure)  # fmt: skip

    def controller(self, norm: Norm | None = None, counter: StepCounter | None = None
                   ) -> AdaptiveController:  # fmt: skip
        """The step-size controller of one adaptive solve measuring errors with `norm` (an
        implicit method counts its Newton work into `counter`)."""
        assert self.tableau is not None and self.adaptive is not None
        norm = norm or RMS_NORM
        stepper = None
        if isinstance(self.tableau, ImplicitTableau):
            assert self.newton is not None
            stepper = ImplicitStep(self.tableau, self.newton, norm, self.rtol, self.atol, counter)
        return AdaptiveController(self.tableau, self.adaptive, self.rtol, self.atol, norm,
                                  self.time_dtype, stepper)  # fmt: skip

    def check_state(self, y0: Tensor) -> None:
        """The implicit methods factorise Jacobians: they need a float32 or float64 state."""
        if self.newton is not None and y0.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"y0 must be float32 or float64 for method {self.method!r} (its "
                             f"Newton iterations solve linear systems), got {y0.dtype}")

    def clock_times(self, times: list[float]) -> list[float]:
        """The output times as the clock holds them."""
        if self.time_dtype == torch.float64:
            return times
        return to_floats(torch.tensor(times, dtype=torch.float64).to(self.time_dtype))


def _positive(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> Any:
    kind = int if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok and not integer:
        ok = math.isfinite(float(value))
    if not ok or (value < 0 if allow_zero else value <= 0):
        need = "a positive integer" if integer else "a positive number"
        raise ValueError(f"option {name!r} must be {need}, got {value!r}")
    return value if integer else float(value)


def make_config(
    method: str, rtol: Any, atol: Any, options: Mapping[str, Any] | None
) -> SolverConfig:
    """Validate everything up front so errors appear before any integration work."""
    if method not in METHOD_TABLE:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    rtol = _tolerance("rtol", rtol)
    atol = _tolerance("atol", atol)
    if isinstance(rtol, float) and isinstance(atol, float) and rtol == 0 and atol == 0:
        raise ValueError("rtol and atol cannot both be zero")
    opts = dict(options or {})
    entry = METHOD_TABLE[method]
    valid = valid_options(method)
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for method {method!r}; "
            f"valid options: {', '.join(valid)}"
        )
    time_dtype = opts.pop("dtype", torch.float64)
    if time_dtype not in TIME_DTYPES:
        raise ValueError(f"option 'dtype' (the time dtype) must be torch.float64 or "
                         f"torch.float32, got {time_dtype!r}")  # fmt: skip
    if entry.kind == "scipy":
        return SolverConfig(method, None, rtol, atol, scipy=parse_scipy_options(opts),
                            time_dtype=time_dtype)  # fmt: skip
    newton = _newton_options(opts) if entry.kind == "implicit" else None
    tableau = IMPLICIT_TABLEAUS[method] if newton is not None else TABLEAUS.get(method)
    if not entry.adaptive:
        adams = _adams_options(method, opts) if entry.kind == "adams" else None
        fixed = parse_fixed_options(opts, _positive)
        return SolverConfig(method, tableau, rtol, atol, fixed=fixed, adams=adams,
                            time_dtype=time_dtype, newton=newton)  # fmt: skip
    parsed: dict[str, Any] = {}
    norm = opts.pop("norm", None)
    if norm is not None and norm != "seminorm":
        check_norm("norm", norm)
    for key, value in opts.items():
        if value is None and key == "first_step":
            continue
        if key == "max_num_steps":
            parsed[key] = _positive(key, value, integer=True)
        elif key in ("jump_t", "step_t"):
            parsed[key] = _times(key, value)
        elif key == "max_step" and value == math.inf:
            parsed[key] = value
        else:
            parsed[key] = _positive(key, value, allow_zero=key in ("min_step", "beta"))
    if not 0 < parsed.get("safety", defaults.SAFETY) <= 1:
        raise ValueError(f"option 'safety' must be in (0, 1], got {parsed['safety']}")
    if parsed.get("ifactor", defaults.IFACTOR) < 1:
        raise ValueError(f"option 'ifactor' must be >= 1, got {parsed['ifactor']}")
    if not 0 < parsed.get("dfactor", defaults.DFACTOR) < 1:
        raise ValueError(f"option 'dfactor' must be in (0, 1), got {parsed['dfactor']}")
    if parsed.get("min_step", 0.0) > parsed.get("max_step", math.inf):
        raise ValueError(
            f"option 'min_step' ({parsed['min_step']}) exceeds 'max_step' ({parsed['max_step']})"
        )
    if parsed.get("beta", 0.0) >= 0.2:
        raise ValueError(f"option 'beta' must be in [0, 0.2), got {parsed['beta']}")
    return SolverConfig(method, tableau, rtol, atol, adaptive=AdaptiveOptions(**parsed),
                        norm=norm, time_dtype=time_dtype, newton=newton)  # fmt: skip


def _tolerance(name: str, value: Any) -> Any:
    """rtol / atol: a number, a tensor of per-element tolerances, or a sequence of them (one per
    component of a tuple state); checked here, fitted to the state by the caller."""
    if isinstance(value, Tensor):
        if not value.is_floating_point() or value.requires_grad:
            raise ValueError(f"{name} must be a floating point tensor that does not require grad")
        if not all(math.isfinite(v) and v >= 0 for v in to_floats(value)):
            raise ValueError(f"{name} must hold finite non-negative tolerances")
        return value
    if isinstance(value, list | tuple):
        return tuple(_tolerance(f"{name}[{i}]", v) for i, v in enumerate(value))
    return _positive(name, value, allow_zero=True)


def _times(name: str, value: Any) -> tuple[float, ...]:
    """jump_t / step_t: a 1-D tensor or a sequence of finite numbers."""
    if isinstance(value, Tensor):
        if value.dim() > 1:
            raise ValueError(f"option {name!r} must be 1-D, got shape {tuple(value.shape)}")
        values = to_floats(value)
    else:
        try:
            values = [float(v) for v in value]
        except (TypeError, ValueError):
            msg = f"option {name!r} must be a sequence of times, got {value!r}"
            raise ValueError(msg) from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"option {name!r} must hold finite times, got {values}")
    return tuple(sorted(set(values)))


def options_for(method: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The subset of `options` that `method` accepts (for reusing forward options backward; the
    forward's norm does not fit the backward's augmented state, as in torchdiffeq)."""
    valid = valid_options(method) if method in METHOD_TABLE else ()
    return {k: v for k, v in (options or {}).items() if k in valid and k != "norm"}


def _newton_options(opts: dict[str, Any]) -> NewtonOptions:
    """Pop and check the implicit methods' options `jacobian` and `max_newton_iters`."""
    jacobian = opts.pop("jacobian", "dense")
    if jacobian not in JACOBIANS:
        raise ValueError(f"option 'jacobian' must be one of {', '.join(JACOBIANS)}, "
                         f"got {jacobian!r}")  # fmt: skip
    iters = _positive("max_newton_iters", opts.pop("max_newton_iters", NewtonOptions.max_iters),
                      integer=True)  # fmt: skip
    return NewtonOptions(jacobian=jacobian, max_iters=iters)


def _adams_options(method: str, opts: dict[str, Any]) -> AdamsOptions:
    """Pop and check max_iters / max_order (torchdiffeq's options of the Adams methods)."""
    max_iters = _positive("max_iters", opts.pop("max_iters", 4), integer=True)
    max_order = _positive("max_order", opts.pop("max_order", MAX_ORDER), integer=True)
    if not 2 <= max_order <= MAX_ORDER:
        raise ValueError(f"option 'max_order' of {method!r} must be in [2, {MAX_ORDER}], "
                         f"got {max_order}")  # fmt: skip
    if max_order < MIN_ORDER:
        warnings.warn(f"option 'max_order'={max_order} of {method!r} is below {MIN_ORDER}, so "
                      "every step is an RK4 (3/8 rule) step", stacklevel=4)  # fmt: skip
    return AdamsOptions(implicit=method != "explicit_adams", max_iters=max_iters,
                        max_order=max_order)  # fmt: skip

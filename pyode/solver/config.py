"""Method names and options -> a validated, immutable solver configuration."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor

from pyode.solver import defaults
from pyode.solver.adams import MAX_ORDER, MIN_ORDER, AdamsOptions, adams_stepper
from pyode.solver.adaptive import AdaptiveOptions, StepCarry, integrate_adaptive
from pyode.solver.fixed_grid import (
    FixedGridOptions,
    StepCallback,
    Stepper,
    integrate_fixed,
    parse_fixed_options,
    tableau_stepper,
)
from pyode.solver.host_sync import to_floats
from pyode.solver.initial_step import Norm
from pyode.solver.methods import METHOD_TABLE, METHODS
from pyode.solver.norms import RMS_NORM
from pyode.solver.rk_step import Func
from pyode.solver.scipy_solver import ScipyOptions, integrate_scipy, parse_scipy_options
from pyode.solver.stats import SolverStats
from pyode.solver.tableaus import TABLEAUS, ButcherTableau

__all__ = ["METHODS", "SolverConfig", "make_config", "options_for", "valid_options"]

FIXED_OPTIONS = ("step_size", "n_steps", "max_num_steps", "grid_constructor", "interp", "perturb")
ADAMS_OPTIONS = (*FIXED_OPTIONS, "max_iters", "max_order")
SCIPY_OPTIONS = ("solver", "min_step", "max_step")
ADAPTIVE_OPTIONS = tuple(f.name for f in fields(AdaptiveOptions))


def valid_options(method: str) -> tuple[str, ...]:
    """The option names `method` accepts."""
    kind = METHOD_TABLE[method].kind
    if kind == "scipy":
        return SCIPY_OPTIONS
    if kind == "adams":
        return ADAMS_OPTIONS
    return ADAPTIVE_OPTIONS if METHOD_TABLE[method].adaptive else FIXED_OPTIONS


@dataclass(frozen=True)
class SolverConfig:
    """A method, its tolerances and its options, ready to integrate.

    Exactly one of `adaptive` (embedded Runge-Kutta), `fixed` (fixed grid: a tableau, or
    Adams-Bashforth-Moulton with `adams`) and `scipy` is set; `tableau` is None for the last two.
    """

    method: str
    tableau: ButcherTableau | None
    rtol: float
    atol: float
    adaptive: AdaptiveOptions | None = None
    fixed: FixedGridOptions | None = None
    adams: AdamsOptions | None = None
    scipy: ScipyOptions | None = None

    def stepper(self, func: Func, dtype: torch.dtype) -> Stepper:
        """A fresh fixed-grid stepper (the Adams ones keep a history for one solve)."""
        assert self.fixed is not None
        if self.adams is not None:
            return adams_stepper(func, self.adams, self.fixed.perturb, self.rtol, self.atol, dtype)
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
        stats: SolverStats,
        *,
        norm: Norm | None = None,
        backward: bool = False,
        carry: StepCarry | None = None,
        callback: StepCallback | None = None,
    ) -> list[Tensor]:
        """States at `times`; `carry` passes the last step size from one call to the next;
        `callback(t0, y0, dt)` is called before every fixed-grid step."""
        if self.scipy is not None:
            return integrate_scipy(func, y0, times, self.rtol, self.atol, self.scipy, stats)
        if self.fixed is not None:
            return integrate_fixed(
                func, y0, times, self.stepper(func, y0.dtype), f0, stats, self.fixed,
                name=self.method, callback=callback, backward=backward,
            )  # fmt: skip
        assert self.tableau is not None and self.adaptive is not None and f0 is not None
        return integrate_adaptive(
            func, y0, times, self.tableau, f0, stats, self.rtol, self.atol,
            norm or RMS_NORM, self.adaptive, backward=backward, carry=carry,
        )  # fmt: skip


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
    method: str, rtol: float, atol: float, options: Mapping[str, Any] | None
) -> SolverConfig:
    """Validate everything up front so errors appear before any integration work."""
    if method not in METHOD_TABLE:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    rtol = _positive("rtol", rtol, allow_zero=True)
    atol = _positive("atol", atol, allow_zero=True)
    if rtol == 0 and atol == 0:
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
    if entry.kind == "scipy":
        return SolverConfig(method, None, rtol, atol, scipy=parse_scipy_options(opts))
    if not entry.adaptive:
        adams = _adams_options(method, opts) if entry.kind == "adams" else None
        fixed = parse_fixed_options(opts, _positive)
        return SolverConfig(method, TABLEAUS.get(method), rtol, atol, fixed=fixed, adams=adams)
    parsed: dict[str, Any] = {}
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
    return SolverConfig(method, TABLEAUS[method], rtol, atol, adaptive=AdaptiveOptions(**parsed))


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
    """The subset of `options` that `method` accepts (for reusing forward options backward)."""
    valid = valid_options(method) if method in METHOD_TABLE else ()
    return {k: v for k, v in (options or {}).items() if k in valid}


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

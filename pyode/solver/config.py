"""Method names and options -> a validated, immutable solver configuration."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor

from pyode.solver.adaptive import integrate_adaptive
from pyode.solver.controller import MAX_NUM_STEPS, AdaptiveController, AdaptiveOptions, StepCarry
from pyode.solver.fixed_grid import integrate_fixed
from pyode.solver.host_sync import to_floats
from pyode.solver.initial_step import Norm
from pyode.solver.norms import RMS_NORM, Tolerance, check_norm
from pyode.solver.rk_step import Func
from pyode.solver.stats import StepCounter
from pyode.solver.tableaus import ADAPTIVE, FIXED_GRID, TABLEAUS, ButcherTableau

METHODS: tuple[str, ...] = tuple(TABLEAUS)
FIXED_OPTIONS = ("step_size", "n_steps", "max_num_steps", "dtype")
# `norm`: a callable norm(scaled error) -> ratio, as torchdiffeq takes it ("seminorm" for the
# adjoint's backward solve).
# `dtype`: the clock's dtype (torchdiffeq's option; float32 where float64 is slow or missing).
ADAPTIVE_OPTIONS = (*(f.name for f in fields(AdaptiveOptions)), "norm", "dtype")
TIME_DTYPES = (torch.float64, torch.float32)


@dataclass(frozen=True)
class SolverConfig:
    """A method, its tolerances and its options, ready to integrate."""

    tableau: ButcherTableau
    rtol: Tolerance
    atol: Tolerance
    step_size: float | None = None
    n_steps: int | None = None
    max_num_steps: int = MAX_NUM_STEPS
    adaptive: AdaptiveOptions | None = None
    norm: Any = None  # the `norm` option: a callable, "seminorm" or None (the default norm)
    time_dtype: torch.dtype = torch.float64

    def run(
        self,
        func: Func,
        y0: Tensor,
        times: list[float],
        f0: Tensor,
        counter: StepCounter,
        *,
        norm: Norm | None = None,
        carry: StepCarry | None = None,
    ) -> list[Tensor]:
        """States at `times`; `carry` passes the last step size from one call to the next."""
        if self.adaptive is None:
            return integrate_fixed(
                func, y0, times, self.tableau, f0, counter.stats, step_size=self.step_size,
                n_steps=self.n_steps, max_num_steps=self.max_num_steps, backward=counter.backward,
            )  # fmt: skip
        return integrate_adaptive(func, y0, f0, times, self.controller(norm), counter, carry=carry)

    def controller(self, norm: Norm | None = None) -> AdaptiveController:
        """The step-size controller of one adaptive solve measuring errors with `norm`."""
        assert self.adaptive is not None
        return AdaptiveController(self.tableau, self.adaptive, self.rtol, self.atol,
                                  norm or RMS_NORM, self.time_dtype)  # fmt: skip

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
    method: str, rtol: float, atol: float, options: Mapping[str, Any] | None
) -> SolverConfig:
    """Validate everything up front so errors appear before any integration work."""
    if method not in TABLEAUS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    rtol = _tolerance("rtol", rtol)
    atol = _tolerance("atol", atol)
    if isinstance(rtol, float) and isinstance(atol, float) and rtol == 0 and atol == 0:
        raise ValueError("rtol and atol cannot both be zero")
    opts = dict(options or {})
    time_dtype = opts.pop("dtype", torch.float64)
    if time_dtype not in TIME_DTYPES:
        raise ValueError(f"option 'dtype' (the time dtype) must be torch.float64 or "
                         f"torch.float32, got {time_dtype!r}")  # fmt: skip
    tableau = TABLEAUS[method]
    valid = FIXED_OPTIONS if method in FIXED_GRID else ADAPTIVE_OPTIONS
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for method {method!r}; "
            f"valid options: {', '.join(valid)}"
        )
    if method in FIXED_GRID:
        if "step_size" in opts and "n_steps" in opts:
            raise ValueError("give either 'step_size' or 'n_steps', not both")
        step_size = opts.get("step_size")
        n_steps = opts.get("n_steps")
        return SolverConfig(
            tableau,
            rtol,
            atol,
            time_dtype=time_dtype,
            step_size=None if step_size is None else _positive("step_size", step_size),
            n_steps=None if n_steps is None else _positive("n_steps", n_steps, integer=True),
            max_num_steps=_positive("max_num_steps", opts.get("max_num_steps", MAX_NUM_STEPS),
                                    integer=True),
        )  # fmt: skip
    assert method in ADAPTIVE
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
    if not 0 < parsed.get("safety", 0.9) <= 1:
        raise ValueError(f"option 'safety' must be in (0, 1], got {parsed['safety']}")
    if parsed.get("ifactor", 10.0) < 1:
        raise ValueError(f"option 'ifactor' must be >= 1, got {parsed['ifactor']}")
    if not 0 < parsed.get("dfactor", 0.2) < 1:
        raise ValueError(f"option 'dfactor' must be in (0, 1), got {parsed['dfactor']}")
    if parsed.get("min_step", 0.0) > parsed.get("max_step", math.inf):
        raise ValueError(
            f"option 'min_step' ({parsed['min_step']}) exceeds 'max_step' ({parsed['max_step']})"
        )
    if parsed.get("beta", 0.0) >= 0.2:
        raise ValueError(f"option 'beta' must be in [0, 0.2), got {parsed['beta']}")
    return SolverConfig(tableau, rtol, atol, adaptive=AdaptiveOptions(**parsed), norm=norm,
                        time_dtype=time_dtype)  # fmt: skip


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
    valid = FIXED_OPTIONS if method in FIXED_GRID else ADAPTIVE_OPTIONS
    return {k: v for k, v in (options or {}).items() if k in valid and k != "norm"}

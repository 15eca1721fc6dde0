"""Step-size control for adaptive methods: the options, and the controller that applies them.

The controller owns every decision about step sizes in one solve: the first step, the
[min_step, max_step] clamp, the proportional-integral factor
h_new = h * clip(safety * ratio^-(1/(q+1) - 0.75 beta) * prev^beta) and the breakpoints
(`step_t`, `jump_t`) where steps must end. The adaptive loop only asks it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pyode.solver import defaults
from pyode.solver.implicit_tableaus import ImplicitTableau
from pyode.solver.initial_step import Norm, initial_step
from pyode.solver.norms import Tolerance
from pyode.solver.rk_step import Func, rk_step
from pyode.solver.tableaus import ButcherTableau

MAX_NUM_STEPS = defaults.MAX_NUM_STEPS
NEWTON_SHRINK = 0.5  # an implicit step whose Newton iterations failed is retried at half size
HOLD = 1.2  # an implicit method keeps its step rather than grow it by less (RADAU5's quot2)
# One trial step (func, t, y, dt, f(t, y), t_end) -> (y_new, f_new or None, error, stages).
TrialStep = Callable[[Func, float, Tensor, float, Tensor, float], tuple[Tensor, Any, Any, list]]


@dataclass(frozen=True)
class AdaptiveOptions:
    """Step-size options; `min_step` / `max_step` bound every step as in torchdiffeq: a step at
    `min_step` is accepted whatever its error. `jump_t`: times where f may jump (steps end
    there and f is evaluated afresh); `step_t`: times where a step must end."""

    first_step: float | None = None
    max_num_steps: int = MAX_NUM_STEPS
    min_step: float = 0.0
    max_step: float = math.inf
    safety: float = defaults.SAFETY
    ifactor: float = defaults.IFACTOR
    dfactor: float = defaults.DFACTOR
    beta: float = 0.0
    jump_t: tuple[float, ...] = ()
    step_t: tuple[float, ...] = ()


@dataclass
class StepCarry:
    """The last proposed step size, carried from one solve to the next (the adjoint's intervals)."""

    h: float | None = None


@dataclass
class StepSizeController:
    """Integral controller with the optional proportional term of Hairer's DOPRI5 code.

    `error_order` is q, the lower order of the embedded pair. `beta` > 0 (e.g. 0.04 for dopri5)
    lets the previous accepted error ratio damp step-size oscillation; beta = 0 is the classical
    controller. Factors are bounded to [dfactor, ifactor], and a rejected step never grows.
    `predictive` (the implicit methods) also bounds an accepted step's factor by Gustafsson's
    prediction, keeps the step after a rejection from growing, keeps it rather than grow it by
    less than HOLD (so Newton's factorisation serves the next step) and halves a step whose
    Newton iterations failed (as RADAU5).
    """

    error_order: int
    safety: float = defaults.SAFETY
    ifactor: float = defaults.IFACTOR
    dfactor: float = defaults.DFACTOR
    beta: float = 0.0
    predictive: bool = False
    _prev_ratio: float = field(default=1e-4, repr=False)
    _last_accepted: tuple[float, float] | None = field(default=None, repr=False)
    _after_rejection: bool = field(default=False, repr=False)

    @property
    def exponent(self) -> float:
        return 1.0 / (self.error_order + 1) - 0.75 * self.beta

    def next_step(self, h: float, ratio: float, accepted: bool) -> float:
        after_rejection, self._after_rejection = self._after_rejection, not accepted
        if not math.isfinite(ratio):  # a non-finite trial (or failed Newton iterations)
            return h * (NEWTON_SHRINK if self.predictive else self.dfactor)
        exponent = self.exponent
        if ratio == 0.0:
            factor = self.ifactor
        else:
            factor = self.safety * ratio ** (-exponent)
            if self.beta:
                factor *= self._prev_ratio**self.beta
        factor = min(self.ifactor, max(self.dfactor, factor))
        if accepted:
            self._prev_ratio = max(ratio, 1e-4)
            if self.predictive:
                factor = min(factor, self._predicted(h, ratio))
                if after_rejection:  # RADAU5: no growth right after a rejected step
                    factor = min(factor, 1.0)
                if 1.0 <= factor <= HOLD:  # keep h, and with it Newton's factorisation
                    factor = 1.0
        else:
            factor = min(factor, 1.0)
        return h * factor

    def _predicted(self, h: float, ratio: float) -> float:
        """Gustafsson's predictive factor (as in Hairer's RADAU5): extrapolates the trend of
        the last two accepted errors, so a solution heading into a fast transition shrinks its
        steps ahead of the rejections the plain factor would meet one by one."""
        last, self._last_accepted = self._last_accepted, (h, max(ratio, 1e-2))
        if last is None or ratio == 0.0:
            return self.ifactor
        h_prev, ratio_prev = last
        factor = self.safety * h / h_prev * (ratio_prev / ratio**2) ** (1 / (self.error_order + 1))
        return min(self.ifactor, max(self.dfactor, factor))


class AdaptiveController(StepSizeController):
    """The step-size decisions of one adaptive solve, configured by its options and tolerances."""

    def __init__(
        self,
        tableau: ButcherTableau | ImplicitTableau,
        options: AdaptiveOptions,
        rtol: Tolerance,
        atol: Tolerance,
        norm: Norm,
        time_dtype: torch.dtype = torch.float64,
        stepper: TrialStep | None = None,
    ) -> None:
        # An implicit method's rejected step costs Newton iterations: it predicts its steps
        # (Gustafsson) as RADAU5 does.
        super().__init__(tableau.error_order or tableau.order, options.safety, options.ifactor,
                         options.dfactor, options.beta, predictive=stepper is not None)  # fmt: skip
        self.tableau = tableau
        self.order = tableau.order
        self.options = options
        self.rtol, self.atol, self.norm = rtol, atol, norm
        self.min_step, self.max_step = options.min_step, options.max_step
        self.max_num_steps = options.max_num_steps
        # The clock: float64, or float32 where the `dtype` option asks for it (as torchdiffeq).
        self.rounds_time = time_dtype == torch.float32
        self.time_eps = torch.finfo(time_dtype).eps
        # The method's trial step: explicit Runge-Kutta unless an implicit one is given.
        self.stepper: TrialStep = stepper or self._explicit_step
        self.implicit = stepper is not None

    def _explicit_step(self, func: Func, t: float, y: Tensor, dt: float, f: Tensor,
                       t_end: float) -> tuple[Tensor, Any, Any, list]:  # fmt: skip
        return rk_step(func, self.tableau, t, y, dt, f, t_end)

    def clock(self, t: float) -> float:
        """t as the clock holds it."""
        return float(np.float32(t)) if self.rounds_time else t

    def error_ratio(self, err: Tensor, y: Tensor, y_new: Tensor) -> Tensor:
        return self.norm(err, y, y_new, self.rtol, self.atol)

    def clamp(self, h: float) -> float:
        return min(max(h, self.min_step), self.max_step)

    def first_step(
        self,
        func: Func,
        t0: float,
        y0: Tensor,
        f0: Tensor,
        direction: float,
        carry: StepCarry | None,
    ) -> float:
        """The carried step, else `first_step`, else Hairer's automatic choice; clamped."""
        if carry is not None and carry.h is not None:
            h = carry.h
        elif self.options.first_step is not None:
            h = abs(self.options.first_step)
        else:
            with torch.no_grad():  # step-size decisions are not differentiated
                h = initial_step(func, t0, y0, f0, direction, self.order, self.rtol, self.atol,
                                 self.norm)  # fmt: skip
        return self.clamp(h)

    def stops(self, t0: float, t_end: float, direction: float) -> list[tuple[float, bool]]:
        """(time, is_jump) where steps must end, in integration order, ending with t_end."""
        pts = {t: False for t in self.options.step_t}
        pts.update({t: True for t in self.options.jump_t})
        inside = [(t, j) for t, j in pts.items()
                  if direction * (t - t0) > 0 and direction * (t_end - t) > 0]  # fmt: skip
        return [*sorted(inside, key=lambda p: direction * p[0]), (t_end, False)]

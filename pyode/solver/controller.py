"""Step-size controller: h_new = h * clip(safety * ratio^-(1/(q+1) - 0.75 beta) * prev^beta)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyode.solver import defaults


@dataclass
class StepSizeController:
    """Integral controller with the optional proportional term of Hairer's DOPRI5 code.

    `error_order` is q, the lower order of the embedded pair. `beta` > 0 (e.g. 0.04 for dopri5)
    lets the previous accepted error ratio damp step-size oscillation; beta = 0 is the classical
    controller. Factors are bounded to [dfactor, ifactor], and a rejected step never grows.
    """

    error_order: int
    safety: float = defaults.SAFETY
    ifactor: float = defaults.IFACTOR
    dfactor: float = defaults.DFACTOR
    beta: float = 0.0
    _prev_ratio: float = field(default=1e-4, repr=False)

    def next_step(self, h: float, ratio: float, accepted: bool) -> float:
        exponent = 1.0 / (self.error_order + 1) - 0.75 * self.beta
        if ratio == 0.0:
            factor = self.ifactor
        else:
            factor = self.safety * ratio ** (-exponent)
            if self.beta:
                factor *= self._prev_ratio**self.beta
        factor = min(self.ifactor, max(self.dfactor, factor))
        if accepted:
            self._prev_ratio = max(ratio, 1e-4)
        else:
            factor = min(factor, 1.0)
        return h * factor

"""Dense output inside an accepted step, as fixed weights on (y0, y1, h f0, h f1[, y_mid]).

Cubic Hermite for any method; dopri5 adds its own 4th-order midpoint value and fits a quartic.
The weights are polynomials in the relative position s in [0, 1], so one output costs one
weighted sum of a few tensors.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from pyode.solver.rk_step import combine
from pyode.solver.tableaus import ButcherTableau

# Rows: conditions p(0), p(1), p(1/2), p'(0), p'(1) on monomials 1, s, ..., s^4.
_QUARTIC = np.linalg.inv(
    np.array(
        [
            [1.0, 0.0, 0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0, 1.0, 1.0],
            [1.0, 0.5, 0.25, 0.125, 0.0625],
            [0.0, 1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 2.0, 3.0, 4.0],
        ]
    )
)


def hermite_weights(s: float) -> tuple[float, float, float, float]:
    s2, s3 = s * s, s * s * s
    return 2 * s3 - 3 * s2 + 1, -2 * s3 + 3 * s2, s3 - 2 * s2 + s, s3 - s2


def interpolate(
    tableau: ButcherTableau,
    s: float,
    h: float,
    y0: Tensor,
    y1: Tensor,
    ks: list[Tensor],
    f1: Tensor,
) -> Tensor:
    """Value at t0 + s*h inside the step (t0, y0) -> (t0 + h, y1) with stages ks."""
    if tableau.c_mid is not None:
        w = [float(x) for x in np.array([1.0, s, s**2, s**3, s**4]) @ _QUARTIC]
        # y_mid = y0 + h * sum(c_mid k); fold it into one weighted sum over y0, y1 and the stages.
        coeffs = [w[2] * c for c in tableau.c_mid]
        coeffs[0] += w[3]
        out = combine(None, h, [*coeffs, w[4]], [*ks, f1])
        return out.add_(y0, alpha=w[0] + w[2]).add_(y1, alpha=w[1])
    w00, w01, w10, w11 = hermite_weights(s)
    out = combine(None, h, [w10, w11], [ks[0], f1])
    return out.add_(y0, alpha=w00).add_(y1, alpha=w01)

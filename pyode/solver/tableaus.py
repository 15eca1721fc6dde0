"""Butcher tableaus as data. One stepping routine (rk_step.py) interprets all of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ButcherTableau:
    """Explicit Runge-Kutta method.

    `a[i]` holds the coefficients of stage i+1 on stages 0..i (the strictly lower triangle).
    `b_err` = b - b_hat are the weights of the embedded error estimate (None: fixed-grid only).
    `fsal`: the last stage is f(t + h, y_next), so it is the first stage of the next step.
    `error_order` is q in the step-size exponent 1/(q+1) (the lower order of the embedded pair).
    `c_mid`: weights giving y(t + h/2) for the method's own dense output (dopri5).
    """

    name: str
    order: int
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    b_err: tuple[float, ...] | None = None
    fsal: bool = False
    error_order: int | None = None
    c_mid: tuple[float, ...] | None = None

    @property
    def stages(self) -> int:
        return len(self.b)

    @property
    def adaptive(self) -> bool:
        return self.b_err is not None


EULER = ButcherTableau(name="euler", order=1, c=(0.0,), a=(), b=(1.0,))

MIDPOINT = ButcherTableau(name="midpoint", order=2, c=(0.0, 0.5), a=((0.5,),), b=(0.0, 1.0))

RK4 = ButcherTableau(
    name="rk4",
    order=4,
    c=(0.0, 0.5, 0.5, 1.0),
    a=((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
    b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
)

# Bogacki-Shampine 3(2).
BOSH3 = ButcherTableau(
    name="bosh3",
    order=3,
    c=(0.0, 0.5, 0.75, 1.0),
    a=((0.5,), (0.0, 0.75), (2 / 9, 1 / 3, 4 / 9)),
    b=(2 / 9, 1 / 3, 4 / 9, 0.0),
    b_err=(2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8),
    fsal=True,
    error_order=2,
)

_DP_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DP_B_HAT = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)

# Dormand-Prince 5(4); c_mid is Shampine's continuous extension evaluated at theta = 1/2.
DOPRI5 = ButcherTableau(
    name="dopri5",
    order=5,
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    a=(
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        _DP_B[:6],
    ),
    b=_DP_B,
    b_err=tuple(x - y for x, y in zip(_DP_B, _DP_B_HAT)),
    fsal=True,
    error_order=4,
    c_mid=(
        6025192743 / 30085553152 / 2,
        0.0,
        51252292925 / 65400821598 / 2,
        -2691868925 / 45128329728 / 2,
        187940372067 / 1594534317056 / 2,
        -1776094331 / 19743644256 / 2,
        11237099 / 235043384 / 2,
    ),
)

FIXED_GRID = {t.name: t for t in (EULER, MIDPOINT, RK4)}
ADAPTIVE = {t.name: t for t in (DOPRI5, BOSH3)}
TABLEAUS = {**FIXED_GRID, **ADAPTIVE}

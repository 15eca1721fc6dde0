"""Diagonally implicit Runge-Kutta tableaus as data (torch-free: the method table reads them).

Every implicit stage has the same diagonal coefficient gamma, so one factorisation of
I - h * gamma * J serves all stages of a step. All methods here are stiffly accurate (the
solution is the last stage), hence L-stable, and their embedded solutions are earlier stages,
so the error estimate stays bounded on stiff components.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImplicitTableau:
    """A stiffly accurate singly diagonally implicit Runge-Kutta method.

    Stage i solves Y_i = y + h * (sum_{j<i} a[i][j] k_j + gamma k_i), k_i = f(t + c[i] h, Y_i);
    with `explicit_first`, stage 0 is k_0 = f(t, y) instead (an ESDIRK). The new solution is
    the last stage. `b_err` weighs the stages into the embedded error estimate (None: fixed
    grid only), `error_order` is the embedded solution's order. `predictor[i]` extrapolates
    k_i from the earlier stages as the starting value of its Newton iterations (empty: the
    previous stage's, or f(t, y)).
    """

    name: str
    order: int
    gamma: float
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    explicit_first: bool
    b_err: tuple[float, ...] | None = None
    error_order: int | None = None
    predictor: tuple[tuple[float, ...], ...] = ()
    c_mid: None = None  # dense output: cubic Hermite from the step's two ends (interpolation.py)

    @property
    def stages(self) -> int:
        return len(self.c)

    @property
    def adaptive(self) -> bool:
        return self.b_err is not None


# Backward Euler: one implicit stage at the step's end.
IMPLICIT_EULER = ImplicitTableau(
    name="implicit_euler", order=1, gamma=1.0, c=(1.0,), a=((),), explicit_first=False
)

# Kvaerno (2004), "Singly diagonally implicit Runge-Kutta methods with an explicit first stage",
# BIT 44: the 3(2) pair, 4 stages. Starting values as in diffrax.
_G3 = 0.43586652150
_K3_A3 = ((-4 * _G3**2 + 6 * _G3 - 1) / (4 * _G3), (-2 * _G3 + 1) / (4 * _G3))
_K3_A4 = ((6 * _G3 - 1) / (12 * _G3), -1 / ((24 * _G3 - 12) * _G3),
          (-6 * _G3**2 + 6 * _G3 - 1) / (6 * _G3 - 3))  # fmt: skip
KVAERNO3 = ImplicitTableau(
    name="kvaerno3",
    order=3,
    gamma=_G3,
    c=(0.0, 2 * _G3, 1.0, 1.0),
    a=((), (_G3,), _K3_A3, _K3_A4),
    explicit_first=True,
    b_err=(_K3_A4[0] - _K3_A3[0], _K3_A4[1] - _K3_A3[1], _K3_A4[2] - _G3, _G3),
    error_order=2,
    predictor=((), (1.0,), (1 - 1 / (2 * _G3), 1 / (2 * _G3)), (*_K3_A3, _G3)),
)

# Kvaerno (2004), the 5(4) pair, 7 stages; starting values from OrdinaryDiffEq.jl via diffrax.
_G5 = 0.26
_K5_A = (
    (),
    (_G5,),
    (0.13, 0.84033320996790809),
    (0.22371961478320505, 0.47675532319799699, -0.06470895363112615),
    (0.16648564323248321, 0.10450018841591720, 0.03631482272098715, -0.13090704451073998),
    (0.13855640231268224, 0.0, -0.04245337201752043, 0.02446657898003141, 0.61943039072480676),
    (0.13659751177640291, 0.0, -0.05496908796538376, -0.04118626728321046,
     0.62993304899016403, 0.06962479448202728),
)  # fmt: skip
KVAERNO5 = ImplicitTableau(
    name="kvaerno5",
    order=5,
    gamma=_G5,
    c=(0.0, 0.52, 1.230333209967908, 0.8957659843500759, 0.43639360985864756, 1.0, 1.0),
    a=_K5_A,
    explicit_first=True,
    # The embedded solution is stage 6 (also stiffly accurate): error = Y_7 - Y_6.
    b_err=(*(x - y for x, y in zip(_K5_A[6][:5], _K5_A[5])), _K5_A[6][5] - _G5, _G5),
    error_order=4,
    predictor=(
        (),
        (1.0,),
        (-1.366025403784441, 2.3660254037844357),
        (-0.19650552613122207, 0.8113579546496623, 0.38514757148155954),
        (0.10375304369958693, 0.937994698066431, -0.04174774176601781, 0.0),
        (-0.17281112873898072, 0.6235784481025847, 0.5492326806363959, 0.0, 0.0),
        (*_K5_A[5], _G5),
    ),
)

IMPLICIT_TABLEAUS = {t.name: t for t in (IMPLICIT_EULER, KVAERNO3, KVAERNO5)}

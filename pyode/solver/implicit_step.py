"""One step of a diagonally implicit Runge-Kutta method (implicit_tableaus.py).

`ImplicitStep` is the adaptive loop's trial step for `kvaerno3` / `kvaerno5` (adaptive.py;
a Newton failure rejects the step), `implicit_stepper` the fixed grid's for `implicit_euler`.
Stage derivatives come from the converged stage values, k_i = (Y_i - base_i) / (h gamma),
rather than from f(Y_i): for stiff components f amplifies the Newton error by the stiffness
(Hairer & Wanner IV.8). The last stage is the solution at t + h, so its k is the next step's
first stage (FSAL) and the end slope of the dense output, the cubic Hermite through both ends
of the step (interpolation.py; third order, so a few tolerances off inside long steps: the
steps end on the output times, config.py, and it only locates events).

Gradients without the adjoint backpropagate through the Newton iterations themselves: the
Jacobian is a constant of each iteration, so the iterations' derivative converges with them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pyode.solver.errors import ODESolverError, StepFailure
from pyode.solver.fixed_grid import Stepper, perturbed
from pyode.solver.host_sync import to_float
from pyode.solver.implicit_tableaus import ImplicitTableau
from pyode.solver.initial_step import Norm
from pyode.solver.newton import Newton, NewtonOptions, Scale
from pyode.solver.norms import RMS_NORM, Tolerance, scaled_error
from pyode.solver.rk_step import Func, combine
from pyode.solver.stats import StepCounter


class ImplicitStep:
    """The trial step of one solve (it keeps the Newton state from step to step)."""

    def __init__(
        self,
        tableau: ImplicitTableau,
        options: NewtonOptions,
        norm: Norm,
        rtol: Tolerance,
        atol: Tolerance,
        counter: StepCounter | None = None,
    ) -> None:
        self.tableau = tableau
        self.newton = Newton(options, counter)
        self.norm, self.rtol, self.atol = norm, rtol, atol

    def __call__(
        self, func: Func, t: float, y: Tensor, h: float, f0: Tensor, t_next: float | None = None
    ) -> tuple[Tensor, Tensor, Tensor | None, list[Tensor]]:
        """(y_new, its derivative, error estimate, stage derivatives); StepFailure if Newton
        fails."""
        tab = self.tableau
        t_end = t + h if t_next is None else t_next
        newton = self.newton
        newton.prepare(func, t, y)

        if self.norm is RMS_NORM:  # the default norm, its weights computed once per step
            weights = scaled_error(torch.ones_like(y), y, y, self.rtol, self.atol).detach()
            root_n = math.sqrt(max(y.numel(), 1))

            def scale(delta: Tensor) -> float:
                return to_float(torch.linalg.vector_norm(delta * weights)) / root_n
        else:

            def scale(delta: Tensor) -> float:
                return to_float(self.norm(delta, y, y, self.rtol, self.atol))

        while True:
            try:
                y_new, ks = self._stages(func, t, y, h, f0, t_end, scale)
                break
            except StepFailure:
                # A J taken elsewhere may be to blame: retake it here and retry this step once
                # (Hairer's RADAU5 does the same); a J from here leaves it to a smaller step.
                fresh = newton.is_at(t, y)
                newton.refresh = True
                if fresh:
                    raise
                newton.prepare(func, t, y)
        error = combine(None, h, tab.b_err, ks) if tab.b_err is not None else None
        return y_new, ks[-1], error, ks

    def _stages(
        self, func: Func, t: float, y: Tensor, h: float, f0: Tensor, t_end: float, scale: Scale
    ) -> tuple[Tensor, list[Tensor]]:
        tab = self.tableau
        hg = h * tab.gamma
        ks = [f0] if tab.explicit_first else []
        y_stage = y
        for i in range(len(ks), tab.stages):
            base = combine(y, h, tab.a[i], ks)
            c = tab.c[i]
            t_stage = t_end if c == 1.0 else t + c * h
            if i < len(tab.predictor) and tab.predictor[i]:
                guess = combine(None, 1.0, tab.predictor[i], ks)
            else:
                guess = ks[-1] if ks else f0
            y_stage, k = self.newton.solve_stage(func, t_stage, base, guess, hg, scale)
            ks.append(k)
        return y_stage, ks


def implicit_stepper(
    func: Func,
    tableau: ImplicitTableau,
    options: NewtonOptions,
    perturb: bool,
    dtype: torch.dtype,
    norm: Norm,
    rtol: Tolerance,
    atol: Tolerance,
    counter: StepCounter | None = None,
) -> Stepper:
    """A fixed-grid step (implicit_euler); its Newton iterations converge to rtol/atol. A
    failure with a J taken at the step's start raises ODESolverError (the grid is fixed, so
    the step cannot shrink)."""
    step = ImplicitStep(tableau, options, norm, rtol, atol, counter)
    last: list[tuple[Tensor, Tensor]] = []  # the previous step's (y1, its derivative)

    def advance(t0: float, y0: Tensor, h: float, t1: float, f0: Tensor | None
                ) -> tuple[Tensor, Tensor]:  # fmt: skip
        stage_func = func
        if perturb:
            f0, stage_func = perturbed(func, t0, y0, t1, dtype)
        elif f0 is None:  # the previous step's end derivative (FSAL), else a fresh one
            f0 = last[0][1] if last and last[0][0] is y0 else func(t0, y0)
        try:
            y1, f1 = step(stage_func, t0, y0, h, f0, t1)[:2]
        except StepFailure as failure:
            raise ODESolverError(
                f"{failure} at t={t0:.6g} (dt={h:.3g}): {tableau.name} on a fixed grid cannot "
                "shrink its step; give a smaller step_size, or use method='kvaerno5' (adaptive)"
            ) from None
        last[:] = [(y1, f1)]
        return y1, f0

    return advance


"""Fixed-grid options: grid_constructor, interp, perturb, step callbacks (torchdiffeq's meaning)."""

from __future__ import annotations

import math

import pytest
import torch
import torchdiffeq
from torch import nn

from pyode import odeint, odeint_event
from pyode.solver import SolverStats

F64 = torch.float64
# Seven steps are too coarse for the Adams-Moulton corrector to converge at these tolerances
# (torchdiffeq warns too); that warning has its own test in test_solver_multistep.py.
COARSE_ADAMS = pytest.mark.filterwarnings("ignore:Adams-Moulton iteration", "ignore:Functional")


def _field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return y * torch.cos(t)  # y(t) = y(0) exp(sin t)


def _coarse(func: object, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Seven equal steps from t[0] to t[-1]: the output times fall between grid points."""
    return torch.linspace(float(t[0]), float(t[-1]), 8, dtype=t.dtype)


@COARSE_ADAMS
@pytest.mark.parametrize("method", ["euler", "midpoint", "heun2", "heun3", "implicit_adams"])
@pytest.mark.parametrize("interp", ["linear", "cubic"])
@pytest.mark.parametrize("reverse", [False, True])
def test_grid_constructor_and_interp_agree_with_torchdiffeq(
    method: str, interp: str, reverse: bool
) -> None:
    y0 = torch.tensor([1.0, 2.0], dtype=F64)
    t = torch.linspace(0, 2, 5, dtype=F64)
    t = t.flip(0) if reverse else t
    options = dict(grid_constructor=_coarse, interp=interp)
    ours = odeint(_field, y0, t, method=method, adjoint=False, rtol=1e-7, atol=1e-9,
                  options=options)  # fmt: skip
    theirs = torchdiffeq.odeint(_field, y0, t, method=method, rtol=1e-7, atol=1e-9,
                                options=options)  # fmt: skip
    assert (ours - theirs).abs().max() < 1e-12


def test_cubic_interpolation_is_more_accurate_between_grid_points() -> None:
    y0 = torch.ones(1, dtype=F64)
    t = torch.linspace(0, 2, 15, dtype=F64)
    exact = torch.exp(torch.sin(t))[:, None]
    grid = dict(grid_constructor=lambda f, y, t: torch.linspace(0, 2, 41, dtype=F64))
    errors = {
        interp: float((odeint(_field, y0, t, method="rk4", adjoint=False,
                              options=dict(grid, interp=interp)) - exact).abs().max())
        for interp in ("linear", "cubic")
    }  # fmt: skip
    assert errors["cubic"] < errors["linear"] / 20, errors


def test_grid_constructor_sets_the_steps_and_the_callback_sees_each() -> None:
    class Field(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.steps: list[tuple[float, float, float]] = []

        def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return -y

        def callback_step(self, t0: torch.Tensor, y0: torch.Tensor, dt: torch.Tensor) -> None:
            self.steps.append((float(t0), float(y0[0]), float(dt)))

    grid = torch.tensor([0.0, 0.1, 0.3, 0.6, 1.0], dtype=F64)
    func, stats = Field(), SolverStats()
    y0 = torch.ones(1, dtype=F64)
    out = odeint(func, y0, torch.tensor([0.0, 1.0], dtype=F64), method="euler", adjoint=False,
                 options=dict(grid_constructor=lambda f, y, t: grid), stats=stats)  # fmt: skip
    assert stats.n_accepted == 4
    expected = [(0.0, 1.0, 0.1), (0.1, 0.9, 0.2), (0.3, 0.72, 0.3), (0.6, 0.504, 0.4)]
    assert [s for step in func.steps for s in step] == pytest.approx(sum(expected, ()))
    assert float(out[-1]) == pytest.approx(0.504 * 0.6)
    theirs = Field()
    torchdiffeq.odeint(theirs, y0, torch.tensor([0.0, 1.0], dtype=F64), method="euler",
                       options=dict(grid_constructor=lambda f, y, t: grid))  # fmt: skip
    assert [s for step in theirs.steps for s in step] == pytest.approx(sum(expected, ()))


def test_callback_step_gets_the_tuple_state() -> None:
    seen = []

    def func(t, y):
        return (-y[0], y[1] * 0)

    func.callback_step = lambda t0, y0, dt: seen.append((float(t0), tuple(y0[1].shape), float(dt)))
    y0 = (torch.ones(2, dtype=F64), torch.zeros(3, 1, dtype=F64))
    odeint(func, y0, torch.tensor([0.0, 1.0], dtype=F64), method="rk4", adjoint=False,
           options=dict(n_steps=2))  # fmt: skip
    assert seen == [(0.0, (3, 1), 0.5), (0.5, (3, 1), 0.5)]


def _jump(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dy/dt = 1 before t = 0.5 and -1 from it on: y(1) = 0 exactly."""
    return torch.where(t < 0.5, 1.0, -1.0).to(y.dtype).expand_as(y)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_perturb_samples_a_jump_on_the_right_side(dtype: torch.dtype) -> None:
    y0 = torch.zeros(1, dtype=dtype)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    plain = odeint(_jump, y0, t, method="heun2", adjoint=False, options=dict(step_size=0.25))
    nudged = odeint(_jump, y0, t, method="heun2", adjoint=False,
                    options=dict(step_size=0.25, perturb=True))  # fmt: skip
    # Without perturb the step ending at 0.5 sees f(0.5) = -1 at its end: y(1) is off by 1/4.
    assert float(plain[-1]) == pytest.approx(-0.25)
    assert float(nudged[-1]) == 0.0
    theirs = torchdiffeq.odeint(_jump, y0, t.to(dtype), method="heun2",
                                options=dict(step_size=0.25, perturb=True))  # fmt: skip
    assert float(theirs[-1]) == float(nudged[-1])


def test_perturb_moves_time_by_one_representable_value_of_the_state_dtype() -> None:
    times: list[torch.Tensor] = []

    def func(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        times.append(t)
        return -y

    y0 = torch.ones(1, dtype=torch.float32)
    odeint(func, y0, torch.tensor([0.0, 0.5], dtype=F64), method="euler", adjoint=False,
           options=dict(perturb=True))  # fmt: skip
    half = torch.tensor(0.5, dtype=torch.float32)
    odeint(func, y0, torch.tensor([0.5, 0.0], dtype=F64), method="euler", adjoint=False,
           options=dict(perturb=True))  # fmt: skip
    # f is never sampled at a grid point itself: just after the step's start.
    assert times[0].dtype == torch.float32 and float(times[0]) == float(torch.nextafter(
        torch.tensor(0.0), torch.tensor(1.0)))  # fmt: skip
    assert len(times) == 2 and 0.5 not in [float(s) for s in times]
    # Backward in time "just after the start" is just below it.
    assert float(times[-1]) == float(torch.nextafter(half, torch.tensor(0.0)))


def test_adjoint_gradients_with_a_grid_constructor() -> None:
    func = nn.Linear(2, 2).to(F64)
    y0 = torch.tensor([1.0, -1.0], dtype=F64)
    t = torch.tensor([0.0, 0.35, 1.0], dtype=F64)

    def fine(f: object, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.linspace(float(t[0]), float(t[-1]), 41, dtype=t.dtype)

    grads = []
    for adjoint in (False, True):
        out = odeint(lambda t, y: func(y), y0, t, method="rk4", adjoint=adjoint,
                     adjoint_params=tuple(func.parameters()),
                     options=dict(grid_constructor=fine, interp="cubic"))  # fmt: skip
        grads.append(torch.autograd.grad(out.square().sum(), tuple(func.parameters())))
    for direct, adjoint in zip(*grads):
        assert torch.allclose(direct, adjoint, atol=1e-6)


@pytest.mark.parametrize(
    "options,match",
    [
        (dict(grid_constructor=lambda f, y, t: torch.tensor([0.0, 0.5])), r"from t\[0\]=0.0 to"),
        (dict(grid_constructor=lambda f, y, t: torch.tensor([0.0, 0.7, 0.5, 1.0])), "monotone"),
        (dict(grid_constructor=lambda f, y, t: [0.0, 1.0]), "must return a 1-D tensor"),
        (dict(grid_constructor=_coarse, step_size=0.1), "at most one of 'step_size'"),
        (dict(interp="quadratic"), "'interp' must be one of linear, cubic"),
        (dict(perturb=1), "'perturb' must be True or False"),
    ],
)
def test_bad_fixed_grid_options_are_named(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        odeint(_field, torch.ones(1), torch.tensor([0.0, 1.0]), method="rk4", adjoint=False,
               options=options)  # fmt: skip


@COARSE_ADAMS
def test_off_grid_outputs_match_exact_solution_at_the_method_order() -> None:
    t = torch.tensor([0.0, 0.33, 1.7], dtype=F64)
    out = odeint(_field, torch.ones(1, dtype=F64), t, method="implicit_adams", adjoint=False,
                 rtol=1e-10, atol=1e-10, options=dict(grid_constructor=_coarse, interp="cubic"))
    assert (out[:, 0] - torch.tensor([math.exp(math.sin(float(s))) for s in t])).abs().max() < 1e-2


@pytest.mark.parametrize("method", ["rk4", "heun2", "implicit_adams"])
@pytest.mark.parametrize("interp", ["linear", "cubic"])
def test_events_on_a_fixed_grid(method: str, interp: str) -> None:
    """y' = -k y from y0 reaches 1/2 at t = ln(2 y0) / k; gradients by the implicit function."""
    k = torch.tensor(0.7, dtype=F64, requires_grad=True)
    y0 = torch.tensor([1.5], dtype=F64, requires_grad=True)
    event_t, solution = odeint_event(
        lambda t, y: -k * y, y0, torch.tensor(0.0, dtype=F64), event_fn=lambda t, y: y.sum() - 0.5,
        method=method, adjoint=False, rtol=1e-10, atol=1e-10,
        options=dict(step_size=0.01, interp=interp),
    )  # fmt: skip
    exact = math.log(3.0) / 0.7
    # Linear interpolation of a step bounds the located time at O(h^2); cubic at the method's
    # own error (heun2, second order, ~1e-5 at this step).
    tol = 3e-5 if method == "heun2" else 1e-5 if interp == "linear" else 1e-8
    assert abs(float(event_t.detach()) - exact) < tol
    assert abs(float(solution[-1].detach()) - 0.5) < 3e-5
    dk, dy0 = torch.autograd.grad(event_t, (k, y0))
    assert float(dk) == pytest.approx(-math.log(3.0) / 0.7**2, rel=1e-4)
    assert float(dy0) == pytest.approx(1 / (0.7 * 1.5), rel=1e-4)
    theirs, _ = torchdiffeq.odeint(lambda t, y: -0.7 * y, y0.detach(),
                                   torch.tensor([0.0, 1.0], dtype=F64), method=method,
                                   event_fn=lambda t, y: y.sum() - 0.5, rtol=1e-10, atol=1e-10,
                                   options=dict(step_size=0.01, interp=interp))  # fmt: skip
    assert abs(float(theirs) - float(event_t.detach())) < 1e-6


@pytest.mark.parametrize("method", ["rk4", "explicit_adams", "implicit_adams"])
@pytest.mark.parametrize("reverse", [False, True])
def test_torchdiffeq_step_size_is_its_grid(method: str, reverse: bool) -> None:
    """Through the torchdiffeq interface, step_size builds torchdiffeq's grid (t0 + k h, a short
    last step) and interpolates off-grid output times, as torchdiffeq does; pyode's own
    step_size divides each output interval evenly instead."""
    from pyode.compat import torchdiffeq as compat
    from pyode.solver.fixed_grid import uniform_grid

    def f(t, y):
        return torch.sin(t) * y + 0.1 * y

    y0 = torch.tensor([1.0, 0.5], dtype=F64)
    t = torch.tensor([0.0, 0.25, 1.37], dtype=F64)
    t = -t if reverse else t
    options = {"step_size": 0.1}
    ours = compat.odeint(f, y0, t, method=method, options=options)
    theirs = torchdiffeq.odeint(f, y0, t, method=method, options=options)
    # torchdiffeq's rk4 is Kutta's 3/8 rule, pyode's the classical one: both fourth order
    tol = 1e-5 if method == "rk4" else 1e-12
    assert torch.allclose(ours, theirs, rtol=tol, atol=tol)
    grid = uniform_grid(0.1)(f, y0, t)
    assert grid[0] == t[0] and grid[-1] == t[-1] and len(grid) == 15
    with pytest.raises(ValueError, match="'step_size' and 'grid_constructor'"):
        compat.odeint(f, y0, t, method=method,
                      options={"step_size": 0.1, "grid_constructor": uniform_grid(0.1)})


def test_fixed_grid_event_state_is_on_the_search_grid() -> None:
    """The state returned at a fixed-grid event comes from the grid the search walked, so the
    event function is (nearly) zero there, even for a multistep method in float32."""
    y0 = torch.tensor([1.0], dtype=torch.float32)

    def f(t, y):
        return torch.sin(t) * y + 0.1 * y

    def event(t, y):
        return (y - 5.0).sum()

    for method in ("rk4", "explicit_adams"):
        _, ys = odeint_event(f, y0, torch.tensor(0.0, dtype=F64), event_fn=event,
                             method=method, options={"step_size": 0.01}, adjoint=False)
        assert abs(float(ys[-1, 0]) - 5.0) < 0.05, (method, float(ys[-1, 0]))

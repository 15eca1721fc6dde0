"""The implicit methods (kvaerno3, kvaerno5, implicit_euler): orders, stiff problems against
scipy, Newton failures, Jacobian options, gradients against finite differences."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from torch import nn

from pyode.solver import METHOD_TABLE, ODESolverError, SolverStats, odeint, odeint_event
from pyode.solver.adaptive import integrate_adaptive
from pyode.solver.config import make_config, valid_options
from pyode.solver.implicit_tableaus import IMPLICIT_TABLEAUS
from pyode.solver.newton import DenseMatrix
from pyode.solver.stats import StepCounter

F64 = torch.float64
ADAPTIVE = ("kvaerno3", "kvaerno5")


def logistic(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return y * (1 - y)


def logistic_exact(t: float, y0: float = 0.2) -> float:
    return y0 * math.exp(t) / (1 - y0 + y0 * math.exp(t))


def stiff_linear(lam: float = -1e4):
    """y' = lam (y - cos t) - sin t, y(0) = 1: y = cos t, with a fast mode exp(lam t)."""

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return lam * (y - torch.cos(t)) - torch.sin(t)

    return f


def vdp(mu: float):
    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])

    return f


def robertson(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    a, b, c = y
    return torch.stack([-0.04 * a + 1e4 * b * c, 0.04 * a - 1e4 * b * c - 3e7 * b * b,
                        3e7 * b * b])  # fmt: skip


def test_tableaus_are_consistent() -> None:
    for tab in IMPLICIT_TABLEAUS.values():
        for i, (c, row) in enumerate(zip(tab.c, tab.a)):
            diagonal = 0.0 if i == 0 and tab.explicit_first else tab.gamma
            assert sum(row) + diagonal == pytest.approx(c, abs=1e-14)
            assert len(row) == i
        assert tab.c[-1] == 1.0  # stiffly accurate: the last stage is the solution at t + h
        if tab.b_err is not None:
            assert sum(tab.b_err) == pytest.approx(0.0, abs=1e-14)
        for row in tab.predictor:
            if row:  # the starting values extrapolate k: weights summing to one
                assert sum(row) == pytest.approx(1.0, abs=1e-12)


def test_methods_are_in_the_registry_with_their_options() -> None:
    assert METHOD_TABLE["kvaerno5"].kind == "implicit" and METHOD_TABLE["kvaerno5"].adaptive
    assert METHOD_TABLE["kvaerno5"].order == 5 and METHOD_TABLE["kvaerno3"].order == 3
    assert not METHOD_TABLE["implicit_euler"].adaptive
    assert {"jacobian", "max_newton_iters", "max_step"} <= set(valid_options("kvaerno5"))
    assert {"jacobian", "step_size"} <= set(valid_options("implicit_euler"))
    assert "jacobian" not in valid_options("dopri5")


def _fixed_step_error(method: str, n: int) -> float:
    """Error at t = 1 of the logistic equation in n equal steps (min_step = max_step = h: every
    step is accepted as it is), Newton solved to 1e-13."""
    h = 1.0 / n
    options = {"min_step": h, "max_step": h, "first_step": h}
    y = odeint(logistic, torch.tensor([0.2], dtype=F64), torch.tensor([0.0, 1.0], dtype=F64),
               method=method, rtol=1e-13, atol=1e-13, options=options, adjoint=False)  # fmt: skip
    return abs(float(y[-1, 0]) - logistic_exact(1.0))


@pytest.mark.parametrize("method,n", [("kvaerno5", 4), ("kvaerno3", 8)])
def test_observed_order_of_the_esdirk_pairs(method: str, n: int) -> None:
    errors = [_fixed_step_error(method, n * 2**k) for k in range(3)]
    orders = [math.log2(a / b) for a, b in itertools.pairwise(errors)]
    expected = METHOD_TABLE[method].order
    assert all(abs(p - expected) < 0.35 for p in orders), orders


def test_observed_order_of_implicit_euler() -> None:
    errors = []
    for n in (50, 100, 200):
        y = odeint(logistic, torch.tensor([0.2], dtype=F64), torch.tensor([0.0, 1.0], dtype=F64),
                   method="implicit_euler", rtol=1e-12, atol=1e-12, options={"n_steps": n},
                   adjoint=False)  # fmt: skip
        errors.append(abs(float(y[-1, 0]) - logistic_exact(1.0)))
    orders = [math.log2(a / b) for a, b in itertools.pairwise(errors)]
    assert all(abs(p - 1.0) < 0.05 for p in orders), orders


def test_stiff_linear_problem_takes_few_implicit_steps() -> None:
    f = stiff_linear()
    y0 = torch.tensor([1.0], dtype=F64)
    t = torch.linspace(0.0, 1.0, 11, dtype=F64)
    implicit, explicit = SolverStats(), SolverStats()
    ys = odeint(f, y0, t, method="kvaerno5", rtol=1e-6, atol=1e-6, adjoint=False,
                stats=implicit)  # fmt: skip
    odeint(f, y0, t, method="dopri5", rtol=1e-6, atol=1e-6, adjoint=False, stats=explicit)
    assert torch.allclose(ys[:, 0], torch.cos(t), atol=1e-5)
    assert implicit.n_accepted < 60 < 1500 < explicit.n_accepted
    # Implicit Euler is stable at steps 1000 times the explicit limit 2 / |lambda|.
    euler = odeint(f, y0, t, method="implicit_euler", options={"step_size": 0.1}, adjoint=False)
    assert torch.allclose(euler[:, 0], torch.cos(t), atol=1e-4)


def test_jacobian_is_reused_while_newton_converges_fast() -> None:
    """A linear problem: Newton converges at once, so one Jacobian serves the whole solve."""
    config = make_config("kvaerno5", 1e-8, 1e-8, None)
    stats = SolverStats()
    counter = StepCounter(stats)
    control = config.controller(counter=counter)
    f = stiff_linear()

    def dyn(t: float, y: torch.Tensor) -> torch.Tensor:
        return f(torch.tensor(t, dtype=F64), y)

    y0 = torch.tensor([1.0], dtype=F64)
    integrate_adaptive(dyn, y0, dyn(0.0, y0), [0.0, 2.0], control, counter)
    assert stats.n_accepted > 10
    assert stats.n_jacobians == 1


def test_newton_work_is_counted_and_reused() -> None:
    """The stats count Jacobians and factorisations: over Van der Pol mu = 1000's cycles one
    Jacobian serves several factorisations and a factorisation several steps (the step size is
    kept while it would grow by less than 20 %), and the backward solve counts its own."""
    y0 = torch.tensor([2.0, 0.0], dtype=F64)
    t = torch.tensor([0.0, 3000.0], dtype=F64)
    stats = SolverStats()
    odeint(vdp(1000.0), y0, t, method="kvaerno5", rtol=1e-6, atol=1e-6, adjoint=False,
           stats=stats)  # fmt: skip
    steps = stats.n_accepted + stats.n_rejected
    assert 0 < stats.n_jacobians < stats.n_factorizations < steps
    assert stats.n_jacobians_backward == stats.n_factorizations_backward == 0
    # The adjoint's backward solve (the same implicit method) counts into the backward fields.
    mu = torch.tensor(50.0, dtype=F64, requires_grad=True)
    back = SolverStats()
    ys = odeint(lambda t, y: torch.stack([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]]), y0,
                torch.tensor([0.0, 10.0], dtype=F64), method="kvaerno5", rtol=1e-6, atol=1e-6,
                adjoint=True, adjoint_params=(mu,), stats=back)  # fmt: skip
    ys[-1].sum().backward()
    assert back.n_jacobians > 0 and back.n_jacobians_backward > 0
    assert 0 < back.n_factorizations_backward < back.n_accepted_backward + back.n_rejected_backward
    # Matrix-free Newton factorises nothing; an explicit method takes no Jacobian.
    krylov, explicit = SolverStats(), SolverStats()
    odeint(vdp(10.0), y0, t[:1].new_tensor([0.0, 5.0]), method="kvaerno5", adjoint=False,
           options={"jacobian": "krylov"}, stats=krylov)  # fmt: skip
    assert krylov.n_jacobians > 0 and krylov.n_factorizations == 0
    odeint(vdp(10.0), y0, t[:1].new_tensor([0.0, 5.0]), method="dopri5", adjoint=False,
           stats=explicit)  # fmt: skip
    assert explicit.n_jacobians == explicit.n_factorizations == 0
    # implicit_euler on a fixed grid counts too.
    grid = SolverStats()
    odeint(vdp(10.0), y0, t[:1].new_tensor([0.0, 1.0]), method="implicit_euler", adjoint=False,
           options={"n_steps": 20}, stats=grid)  # fmt: skip
    assert grid.n_jacobians > 0 and grid.n_factorizations > 0


def test_robertson_matches_scipy_radau() -> None:
    t_out = [0.0, 1e-3, 1.0, 40.0]
    y0 = torch.tensor([1.0, 0.0, 0.0], dtype=F64)
    stats = SolverStats()
    ys = odeint(robertson, y0, torch.tensor(t_out, dtype=F64), method="kvaerno5", rtol=1e-7,
                atol=1e-11, adjoint=False, stats=stats)  # fmt: skip

    def rhs(t: float, y: np.ndarray) -> list[float]:
        a, b, c = y
        return [-0.04 * a + 1e4 * b * c, 0.04 * a - 1e4 * b * c - 3e7 * b * b, 3e7 * b * b]

    ref = solve_ivp(rhs, (0.0, 40.0), [1.0, 0.0, 0.0], method="Radau", rtol=1e-11, atol=1e-15,
                    t_eval=t_out).y.T  # fmt: skip
    rel = np.abs(ys.numpy() - ref) / (np.abs(ref) + 1e-12)
    assert rel.max() < 1e-4, rel
    assert stats.n_accepted < 200


def test_van_der_pol_mu_1000_short_span() -> None:
    t = torch.tensor([0.0, 100.0, 200.0], dtype=F64)
    y0 = torch.tensor([2.0, 0.0], dtype=F64)
    stats = SolverStats()
    ys = odeint(vdp(1000.0), y0, t, method="kvaerno5", rtol=1e-6, atol=1e-6, adjoint=False,
                stats=stats)  # fmt: skip

    def rhs(t: float, y: np.ndarray) -> list[float]:
        return [y[1], 1000.0 * (1 - y[0] ** 2) * y[1] - y[0]]

    ref = solve_ivp(rhs, (0.0, 200.0), [2.0, 0.0], method="Radau", rtol=1e-10, atol=1e-10,
                    t_eval=[0.0, 100.0, 200.0]).y.T  # fmt: skip
    assert np.abs(ys.numpy() - ref).max() < 1e-4
    assert stats.n_accepted < 150
    # dopri5 runs into its step limit, whose message points at the implicit methods.
    with pytest.raises(ODESolverError, match="stiff problem\\? try method='kvaerno5'"):
        odeint(vdp(1000.0), y0, t, method="dopri5", rtol=1e-6, atol=1e-6, adjoint=False,
               options={"max_num_steps": 2000})  # fmt: skip


def test_krylov_jacobian_agrees_with_dense() -> None:
    """A batch of independent stiff rows: the matrix-free Newton reaches the dense result."""
    torch.manual_seed(0)
    rates = -torch.logspace(0, 4, 6, dtype=F64).reshape(3, 2)
    y0 = torch.rand(3, 2, dtype=F64)

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return rates * (y - torch.sin(t)) + torch.cos(t) + 0.1 * y.roll(1, dims=1) ** 2

    t = torch.linspace(0.0, 1.0, 5, dtype=F64)
    kw = dict(method="kvaerno5", rtol=1e-7, atol=1e-7, adjoint=False)
    dense = odeint(f, y0, t, **kw)
    krylov = odeint(f, y0, t, **kw, options={"jacobian": "krylov"})
    assert torch.allclose(dense, krylov, atol=1e-6)


def test_outputs_end_steps() -> None:
    """The cubic Hermite dense output is third order, a few tolerances off inside long steps:
    the implicit methods end a step on every output time instead."""
    t = torch.linspace(0.0, 3.0, 31, dtype=F64)
    exact = torch.tensor([logistic_exact(float(s)) for s in t], dtype=F64)
    y0 = torch.tensor([0.2], dtype=F64)
    stats = SolverStats()
    ys = odeint(logistic, y0, t, method="kvaerno5", rtol=1e-8, atol=1e-8, adjoint=False,
                stats=stats)  # fmt: skip
    assert stats.n_accepted >= len(t) - 1
    assert (ys[:, 0] - exact).abs().max() < 1e-8
    # Without the outputs in between the same span takes half as many steps.
    few = SolverStats()
    ends = odeint(logistic, y0, t[[0, -1]], method="kvaerno5", rtol=1e-8, atol=1e-8,
                  adjoint=False, stats=few)  # fmt: skip
    assert few.n_accepted <= (len(t) - 1) // 2
    assert abs(float(ends[-1, 0]) - float(exact[-1])) < 1e-7


def test_newton_failures_are_rejected_steps() -> None:
    """With one Newton iteration per stage, long steps on stiff Van der Pol fail to converge:
    they are rejected and retried shorter, and the solution stays right."""
    y0 = torch.tensor([2.0, 0.0], dtype=F64)
    t = torch.tensor([0.0, 50.0], dtype=F64)
    few, default = SolverStats(), SolverStats()
    kw = dict(method="kvaerno5", rtol=1e-6, atol=1e-6, adjoint=False)
    ys = odeint(vdp(1000.0), y0, t, **kw, stats=few, options={"max_newton_iters": 1})
    reference = odeint(vdp(1000.0), y0, t, **kw, stats=default)
    assert few.n_rejected > default.n_rejected + 10
    assert torch.allclose(ys, reference, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("jacobian", ["dense", "krylov"])
def test_a_field_autograd_cannot_see_gets_finite_differences(jacobian: str) -> None:
    """A field computed outside torch (as an R function through reticulate): J by forward
    differences, so the stiff problem still takes few steps."""

    def outside(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        a = y.detach().numpy()
        return torch.from_numpy(np.array([a[1], 1000.0 * (1 - a[0] ** 2) * a[1] - a[0]]))

    y0 = torch.tensor([2.0, 0.0], dtype=F64)
    t = torch.tensor([0.0, 100.0], dtype=F64)
    stats = SolverStats()
    kw = dict(method="kvaerno5", rtol=1e-6, atol=1e-6, adjoint=False)
    ys = odeint(outside, y0, t, **kw, stats=stats, options={"jacobian": jacobian})
    assert stats.n_accepted < 30
    assert torch.allclose(ys, odeint(vdp(1000.0), y0, t, **kw), rtol=1e-5, atol=1e-7)


def _nan_after(t_bad: float):
    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return -y if float(t) < t_bad else y * math.nan

    return f


@pytest.mark.parametrize("method", ADAPTIVE)
def test_repeated_newton_failure_raises_with_t_and_dt(method: str) -> None:
    stats = SolverStats()
    with pytest.raises(ODESolverError, match=r"Newton iterations did not converge after "
                       r"t=0\.\d+ \(step size shrank to dt=[-0-9.e]+\)"):  # fmt: skip
        odeint(_nan_after(0.5), torch.tensor([1.0], dtype=F64),
               torch.tensor([0.0, 1.0], dtype=F64), method=method, adjoint=False,
               stats=stats)  # fmt: skip
    assert stats.n_rejected > 10
    with pytest.raises(ODESolverError, match=r"Newton iterations did not converge after "
                       r"t=0\.\d+ at the smallest step dt=0\.001"):  # fmt: skip
        odeint(_nan_after(0.5), torch.tensor([1.0], dtype=F64),
               torch.tensor([0.0, 1.0], dtype=F64), method=method, adjoint=False,
               options={"min_step": 1e-3})  # fmt: skip


def test_implicit_euler_newton_failure_names_t_and_dt() -> None:
    with pytest.raises(ODESolverError, match=r"did not converge at t=0\.5 \(dt=0\.1\)"):
        odeint(_nan_after(0.55), torch.tensor([1.0], dtype=F64),
               torch.tensor([0.0, 1.0], dtype=F64), method="implicit_euler",
               options={"step_size": 0.1}, adjoint=False)  # fmt: skip


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(y0=torch.ones(2, dtype=torch.float16)), "y0 must be float32 or float64 for method"),
        (dict(y0=torch.ones(2, dtype=torch.complex128)), "y0 must be a floating point tensor"),
        (dict(y0=torch.ones(2, dtype=torch.int64)), "y0 must be a floating point tensor"),
        (dict(options={"jacobian": "sparse"}), "option 'jacobian' must be one of dense, krylov"),
        (dict(options={"max_newton_iters": 0}), "option 'max_newton_iters' must be a positive"),
        (dict(options={"max_order": 3}), "unknown option\\(s\\) 'max_order' for method"),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict, match: str) -> None:
    args = dict(y0=torch.ones(2, dtype=F64), options=None) | kwargs
    with pytest.raises(ValueError, match=match):
        odeint(lambda t, y: -y, args["y0"], torch.tensor([0.0, 1.0], dtype=F64),
               method="kvaerno5", options=args["options"], adjoint=False)  # fmt: skip


class VdP(nn.Module):
    def __init__(self, mu: float) -> None:
        super().__init__()
        self.mu = nn.Parameter(torch.tensor(mu, dtype=F64))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.stack([y[1], self.mu * (1 - y[0] ** 2) * y[1] - y[0]])


def _loss(func: nn.Module, y0: torch.Tensor, t: torch.Tensor, **kw) -> torch.Tensor:
    return odeint(func, y0, t, rtol=1e-9, atol=1e-9, **kw).square().sum()


def _finite_differences(func: VdP, y0: torch.Tensor, t: torch.Tensor, **kw) -> list[float]:
    eps = 1e-6
    out = []
    with torch.no_grad():
        for shift in ([eps, 0.0, 0.0], [0.0, eps, 0.0], [0.0, 0.0, eps]):
            values = []
            for sign in (1.0, -1.0):
                func.mu += sign * shift[2]
                values.append(float(_loss(func, y0 + sign * torch.tensor(shift[:2], dtype=F64),
                                          t, adjoint=False, **kw)))  # fmt: skip
                func.mu -= sign * shift[2]
            out.append((values[0] - values[1]) / (2 * eps))
    return out


@pytest.mark.parametrize(
    "mu,adjoint,options",
    [
        (50.0, False, None),
        (50.0, False, {"jacobian": "krylov"}),
        (50.0, True, None),
        (50.0, True, {"jacobian": "krylov"}),
        (1000.0, True, None),
    ],
)
def test_gradients_match_finite_differences(mu: float, adjoint: bool, options: dict) -> None:
    """Stiff Van der Pol: the adjoint reads z from the forward's dense output (re-solving it
    backwards would grow its fast modes like exp(mu t))."""
    func = VdP(mu)
    t = torch.linspace(0.0, 0.5, 4, dtype=F64)
    y0 = torch.tensor([2.0, 0.0], dtype=F64, requires_grad=True)
    stats = SolverStats()
    _loss(func, y0, t, method="kvaerno5", adjoint=adjoint, options=options,
          stats=stats).backward()  # fmt: skip
    got = [*y0.grad.tolist(), float(func.mu.grad)]
    expected = _finite_differences(func, y0.detach(), t, method="kvaerno5")
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-7)
    if adjoint:
        assert stats.n_accepted_backward > 0


@pytest.mark.parametrize("adjoint,rel", [(False, 1e-5), (True, 5e-3)])
def test_implicit_euler_gradients(adjoint: bool, rel: float) -> None:
    """Backpropagation differentiates the discrete solution; the adjoint solves the continuous
    adjoint with a first-order method on the same grid, so it agrees to O(step)."""
    func = VdP(50.0)
    t = torch.linspace(0.0, 0.5, 3, dtype=F64)
    y0 = torch.tensor([2.0, 0.0], dtype=F64, requires_grad=True)
    kw = dict(method="implicit_euler", options={"step_size": 0.001})
    _loss(func, y0, t, adjoint=adjoint, **kw).backward()
    got = [*y0.grad.tolist(), float(func.mu.grad)]
    assert got == pytest.approx(_finite_differences(func, y0.detach(), t, **kw), rel=rel)


@pytest.mark.parametrize("size", [3, 40])  # row by row, and one batched backward pass
def test_dense_jacobian_is_autograds(size: int) -> None:
    torch.manual_seed(0)
    weight = torch.randn(size, size, dtype=F64)

    def f(t: float, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(weight @ y) * y

    y = torch.randn(size, dtype=F64)
    expected = torch.autograd.functional.jacobian(lambda v: f(0.0, v), y)
    assert torch.allclose(DenseMatrix(f, 0.0, y, slice(None)).jac, expected)
    part = slice(1, size - 1)  # the coupled block only
    assert torch.allclose(DenseMatrix(f, 0.0, y, part).jac, expected[part, part])


@pytest.mark.parametrize("perturb,expected", [(True, -0.5), (False, -0.6)])
def test_implicit_euler_perturb_samples_a_jump_from_the_left(perturb: bool, expected: float
                                                              ) -> None:  # fmt: skip
    """y' = -1 before t = 0.5, -2 after: implicit Euler's stage at a step's end sees the jump
    at 0.5 from the step before it only with `perturb` (then it is exact)."""

    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.full_like(y, -1.0 if float(t) < 0.5 else -2.0)

    stats = SolverStats()
    y = odeint(f, torch.tensor([1.0], dtype=F64), torch.tensor([0.0, 1.0], dtype=F64),
               method="implicit_euler", options={"step_size": 0.1, "perturb": perturb},
               adjoint=False, stats=stats)  # fmt: skip
    assert float(y[-1, 0]) == pytest.approx(expected, abs=1e-12)
    # One evaluation starts the solve, then each step's Newton iterations (the step's first
    # derivative comes from the previous step's end).
    assert stats.nfe_forward < 4 * 10


@pytest.mark.parametrize("method,options,tol", [("kvaerno5", None, 1e-6),
                                                ("implicit_euler", {"step_size": 1e-3}, 1e-3)])
def test_event_with_an_implicit_method(method: str, options: dict | None, tol: float) -> None:
    """y' = -y from 1 reaches 1/2 at ln 2 (located on the dense output, then re-solved)."""
    t_event, solution = odeint_event(lambda t, y: -y, torch.tensor([1.0], dtype=F64),
                                     torch.tensor(0.0, dtype=F64),
                                     event_fn=lambda t, y: y.sum() - 0.5, method=method,
                                     options=options, rtol=1e-8, atol=1e-8, adjoint=False)
    assert float(t_event) == pytest.approx(math.log(2.0), abs=tol)
    assert float(solution[-1, 0]) == pytest.approx(0.5, abs=tol)


def test_torchdiffeq_interface_runs_implicit_euler_on_its_grid() -> None:
    """torchdiffeq's fixed-grid implicit_euler is pyode's; its step_size is torchdiffeq's grid
    t0 + k * step_size (the last step shorter), the outputs between grid points interpolated."""
    from pyode.compat import torchdiffeq as compat

    f = stiff_linear(-50.0)
    t = torch.linspace(0.0, 1.0, 5, dtype=F64)
    ys = compat.odeint(f, torch.tensor([1.0], dtype=F64), t, method="implicit_euler",
                       options={"step_size": 0.003})  # fmt: skip
    assert torch.allclose(ys[:, 0], torch.cos(t), atol=1e-3)
    with pytest.raises(NotImplementedError, match="'kvaerno5'"):
        compat.odeint(f, torch.tensor([1.0], dtype=F64), t, method="radauIIA5")


def test_adjoint_time_gradient_matches_backpropagation() -> None:
    """dL/dt through the adjoint that reads z from the forward's dense output."""
    func = VdP(50.0)
    grads = []
    for adjoint in (True, False):
        t = torch.linspace(0.0, 0.5, 4, dtype=F64).requires_grad_(True)
        _loss(func, torch.tensor([2.0, 0.0], dtype=F64), t, method="kvaerno5",
              adjoint=adjoint).backward()  # fmt: skip
        grads.append(t.grad)
    assert torch.allclose(grads[0], grads[1], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("method", ["kvaerno5", "implicit_euler"])
def test_float32_state(method: str) -> None:
    t = torch.linspace(0.0, 1.0, 3)
    options = {"step_size": 0.01} if method == "implicit_euler" else None
    ys = odeint(stiff_linear(), torch.ones(1), t, method=method, rtol=1e-5, atol=1e-5,
                options=options, adjoint=False)  # fmt: skip
    assert ys.dtype == torch.float32
    assert torch.allclose(ys[:, 0], torch.cos(t), atol=1e-4)

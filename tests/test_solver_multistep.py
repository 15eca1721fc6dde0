"""heun2, the Adams-Bashforth-Moulton family and scipy_solver: order, agreement, gradients."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torchdiffeq
from torch import nn

from pyode import odeint
from pyode.solver import METHOD_TABLE
from pyode.solver.adams import bashforth, moulton

F64 = torch.float64
ADAMS = ("explicit_adams", "implicit_adams", "fixed_adams")


def _field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return y * torch.cos(t)  # y(t) = y(0) exp(sin t)


def _adams_error(method: str, n: int, max_order: int) -> float:
    y0 = torch.ones(1, dtype=F64)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    out = odeint(_field, y0, t, method=method, rtol=1e-13, atol=1e-13, adjoint=False,
                 options=dict(n_steps=n, max_order=max_order, max_iters=20))  # fmt: skip
    return abs(float(out[-1, 0]) - math.exp(math.sin(1.0)))


@pytest.mark.parametrize(
    "method,max_order,n,order",
    [
        # Adams-Bashforth 3 after two RK4 steps: order 3.
        ("explicit_adams", 4, 64, 3),
        # The one 3-step Adams-Bashforth step of the start-up (local error h^4) bounds it at 4.
        ("explicit_adams", 12, 256, 4),
        # Bashforth 3 predicts, Moulton 4 corrects: order 4.
        ("implicit_adams", 4, 64, 4),
        # Higher orders once the history fills; the RK4 start-up steps (h^5) bound it at 5.
        ("implicit_adams", 12, 64, 5),
        ("fixed_adams", 12, 64, 5),
    ],
)
def test_adams_observed_order(method: str, max_order: int, n: int, order: int) -> None:
    coarse, fine = _adams_error(method, n, max_order), _adams_error(method, 2 * n, max_order)
    observed = math.log2(coarse / fine)
    assert abs(observed - order) < 0.3, observed


def test_adams_coefficients_are_the_classical_ones() -> None:
    assert bashforth(4) == pytest.approx((55 / 24, -59 / 24, 37 / 24, -9 / 24))
    assert moulton(4) == pytest.approx((9 / 24, 19 / 24, -5 / 24, 1 / 24))
    for k in range(1, 13):  # each formula integrates a constant exactly
        assert sum(bashforth(k)) == pytest.approx(1.0)
        assert sum(moulton(k)) == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["heun2", *ADAMS])
@pytest.mark.parametrize("options", [dict(step_size=0.05), dict(step_size=0.05, perturb=True)])
def test_new_fixed_grid_methods_agree_with_torchdiffeq(method: str, options: dict) -> None:
    y0 = torch.tensor([1.0, -0.5], dtype=F64)
    t = torch.linspace(0, 2, 9, dtype=F64)
    ours = odeint(_field, y0, t, method=method, rtol=1e-7, atol=1e-9, adjoint=False,
                  options=options)  # fmt: skip
    theirs = torchdiffeq.odeint(_field, y0, t, method=method, rtol=1e-7, atol=1e-9,
                                options=options)  # fmt: skip
    assert (ours - theirs).abs().max() < 1e-11


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor([[-0.5, 1.0], [-1.0, -0.3]], dtype=F64))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y @ self.a.T


def _grads(solve, func: Linear, y0: torch.Tensor) -> list[torch.Tensor]:
    y0 = y0.detach().clone().requires_grad_(True)
    out = solve(y0)
    (out[1:] ** 2).sum().backward()
    grads = [y0.grad.clone(), func.a.grad.clone()]
    func.a.grad = None
    return grads


@pytest.mark.parametrize("method", ["explicit_adams", "implicit_adams"])
def test_adams_gradients_by_backprop_and_adjoint(method: str) -> None:
    func = Linear()
    y0 = torch.tensor([1.0, 0.5], dtype=F64)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    opts = dict(step_size=0.02)
    kw = dict(method=method, rtol=1e-10, atol=1e-10, options=opts)
    direct = _grads(lambda y: odeint(func, y, t, adjoint=False, **kw), func, y0)
    theirs = _grads(lambda y: torchdiffeq.odeint(func, y, t, **kw), func, y0)
    adjoint = _grads(lambda y: odeint(func, y, t, adjoint=True, **kw), func, y0)
    theirs_adjoint = _grads(lambda y: torchdiffeq.odeint_adjoint(func, y, t, **kw), func, y0)
    exact = _grads(lambda y: odeint(func, y, t, method="dopri8", rtol=1e-12, atol=1e-12,
                                    adjoint=False), func, y0)  # fmt: skip
    for ours, td, adj, td_adj, ex in zip(direct, theirs, adjoint, theirs_adjoint, exact):
        assert torch.allclose(ours, td, atol=1e-10)  # the same discrete scheme differentiated
        # The adjoint is the method applied backward to the augmented system: as torchdiffeq's.
        assert torch.allclose(adj, td_adj, atol=1e-8)
        # Explicit Adams-Bashforth of order up to 11 is far less accurate at this step (in
        # torchdiffeq too); the corrected method is accurate both ways.
        if method == "implicit_adams":
            assert torch.allclose(ours, ex, atol=1e-6)
            assert torch.allclose(adj, ex, atol=1e-6)


def test_adams_warns_when_the_corrector_does_not_converge() -> None:
    y0 = torch.ones(1, dtype=F64)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    with pytest.warns(RuntimeWarning, match=r"did not converge in 1 iterations at t=.*dt="):
        odeint(_field, y0, t, method="implicit_adams", rtol=1e-14, atol=1e-14, adjoint=False,
               options=dict(n_steps=20, max_iters=1))  # fmt: skip


def test_adams_options_are_checked() -> None:
    y0, t = torch.ones(1), torch.tensor([0.0, 1.0])
    with pytest.raises(ValueError, match=r"'max_order' of 'implicit_adams' must be in \[2, 12\]"):
        odeint(_field, y0, t, method="implicit_adams", options=dict(max_order=13))
    with pytest.raises(ValueError, match="'max_iters' must be a positive integer"):
        odeint(_field, y0, t, method="explicit_adams", options=dict(max_iters=0))
    with pytest.warns(UserWarning, match="below 4, so every step is an RK4"):
        odeint(_field, y0, t, method="implicit_adams", options=dict(max_order=3), adjoint=False)
    with pytest.raises(ValueError, match=r"unknown option.*'max_iters'.*for method 'rk4'"):
        odeint(_field, y0, t, method="rk4", options=dict(max_iters=3))


def test_method_table_lists_every_method_once_with_its_kind() -> None:
    assert METHOD_TABLE["heun2"].order == 2 and not METHOD_TABLE["heun2"].adaptive
    assert all(not METHOD_TABLE[m].adaptive and METHOD_TABLE[m].kind == "adams" for m in ADAMS)
    assert METHOD_TABLE["scipy_solver"].adaptive and not METHOD_TABLE["scipy_solver"].gradients
    assert METHOD_TABLE["scipy_solver"].callbacks == frozenset()
    assert METHOD_TABLE["implicit_adams"].callbacks == {"callback_step"}
    assert "callback_reject_step" in METHOD_TABLE["dopri5"].callbacks
    # torchdiffeq's explicit methods are all here (its implicit Runge-Kutta ones are not).
    explicit = {"dopri8", "dopri5", "tsit5", "bosh3", "fehlberg2", "adaptive_heun", "euler",
                "midpoint", "heun2", "heun3", "rk4", *ADAMS, "scipy_solver"}  # fmt: skip
    assert explicit <= set(METHOD_TABLE)


@pytest.mark.parametrize("solver", ["RK45", "LSODA", "DOP853"])
def test_scipy_solver_forward(solver: str) -> None:
    y0 = torch.tensor([1.0, 2.0], dtype=F64)
    t = torch.linspace(0, 3, 7, dtype=F64)
    out = odeint(_field, y0, t, method="scipy_solver", rtol=1e-9, atol=1e-9, adjoint=False,
                 options=dict(solver=solver))  # fmt: skip
    exact = torch.exp(torch.sin(t))[:, None] * y0
    assert out.dtype == F64 and out.shape == (7, 2)
    assert (out - exact).abs().max() < 1e-6
    back = odeint(_field, out[-1], t.flip(0), method="scipy_solver", rtol=1e-9, atol=1e-9,
                  adjoint=False, options=dict(solver=solver))  # fmt: skip
    assert (back - exact.flip(0)).abs().max() < 1e-6


def test_scipy_solver_is_forward_only_but_serves_the_adjoint() -> None:
    t = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    y0 = torch.tensor([1.0, 0.5], dtype=F64, requires_grad=True)
    func = Linear()
    out = odeint(func, y0, t, method="scipy_solver", adjoint=False, rtol=1e-8, atol=1e-8)
    reference = odeint(func, y0, t, method="dopri8", adjoint=False, rtol=1e-10, atol=1e-10)
    assert torch.allclose(out, reference, atol=1e-6)  # inputs requiring grad: forward still runs
    with pytest.raises(ValueError, match=r"'scipy_solver' is forward only.*use adjoint=True"):
        out.sum().backward()
    # The adjoint needs only forward solves: scipy solves the adjoint system as well.
    kw = dict(method="scipy_solver", rtol=1e-9, atol=1e-9, options=dict(solver="DOP853"))
    adjoint = _grads(lambda y: odeint(func, y, t, **kw), func, y0)
    exact = _grads(lambda y: odeint(func, y, t, method="dopri8", rtol=1e-12, atol=1e-12,
                                    adjoint=False), func, y0)  # fmt: skip
    for ours, ex in zip(adjoint, exact):
        assert torch.allclose(ours, ex, atol=1e-6)
    with pytest.raises(ValueError, match="option 'solver' of scipy_solver must be one of RK45"):
        odeint(_field, y0.detach(), t, method="scipy_solver", adjoint=False,
               options=dict(solver="rk45"))  # fmt: skip


def test_heun2_is_the_explicit_trapezoid() -> None:
    y0 = torch.ones(1, dtype=F64)
    out = odeint(lambda t, y: -y, y0, torch.tensor([0.0, 0.1], dtype=F64), method="heun2",
                 adjoint=False)  # fmt: skip
    assert float(out[-1]) == pytest.approx(1 - 0.1 + 0.1**2 / 2, abs=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        odeint(lambda t, y: -y, y0, torch.tensor([0.0, 1.0]).to(F64), method="heun2")

"""Tuple states and events (odeint_event), against closed forms and the tensor path."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pyode import odeint, odeint_event
from pyode.solver import SolverStats

F64 = torch.float64
T = torch.tensor([0.0, 0.5, 1.0], dtype=F64)


class Coupled(nn.Module):
    """(z, logp) with z of shape (3, 2): the shape of a continuous normalizing flow's state."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(2, 2).double()

    def forward(self, t, state):
        z, _ = state
        dz = torch.tanh(self.lin(z))
        return dz, -dz.sum(dim=1, keepdim=True) * t


class Flat(nn.Module):
    def __init__(self, inner: Coupled) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, t, y):
        dz, dlogp = self.inner(t, (y[:, :2], y[:, 2:]))
        return torch.cat([dz, dlogp], dim=1)


@pytest.mark.parametrize("adjoint", [True, False])
@pytest.mark.parametrize("seminorm", [None, "seminorm"])
def test_tuple_state_matches_the_concatenated_state(adjoint: bool, seminorm: str | None) -> None:
    func = Coupled()
    z0 = torch.randn(3, 2, dtype=F64, requires_grad=True)
    logp0 = torch.zeros(3, 1, dtype=F64, requires_grad=True)
    kw = dict(rtol=1e-9, atol=1e-9, adjoint=adjoint, adjoint_norm=seminorm)
    z, logp = odeint(func, (z0, logp0), T, **kw)
    assert z.shape == (3, 3, 2) and logp.shape == (3, 3, 1)
    ref = odeint(Flat(func), torch.cat([z0, logp0], dim=1), T, **kw)
    assert torch.allclose(torch.cat([z, logp], dim=2), ref, atol=1e-8)
    loss = z[-1].pow(2).sum() + logp[-1].sum()
    grads = torch.autograd.grad(loss, [z0, logp0, *func.parameters()])
    ref_loss = ref[-1, :, :2].pow(2).sum() + ref[-1, :, 2:].sum()
    ref_grads = torch.autograd.grad(ref_loss, [z0, logp0, *func.parameters()])
    for a, b in zip(grads, ref_grads):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-8)


def test_tuple_norm_is_per_component() -> None:
    # A huge, easy component must not hide the error of a small, hard one.
    def func(t, state):
        big, small = state
        return torch.zeros_like(big), -30.0 * small

    stats_tuple, stats_small = SolverStats(), SolverStats()
    y0 = (torch.full((1000,), 1e6, dtype=F64), torch.ones(1, dtype=F64))
    out = odeint(func, y0, T, rtol=1e-6, atol=1e-6, stats=stats_tuple)[1][-1]
    odeint(lambda t, y: -30.0 * y, y0[1], T, rtol=1e-6, atol=1e-6, stats=stats_small)
    assert abs(float(out) - math.exp(-30.0)) < 1e-5
    assert stats_tuple.n_accepted == stats_small.n_accepted


def test_tuple_output_of_wrong_shape_is_named() -> None:
    with pytest.raises(ValueError, match=r"func\(t, y\)\[1\] has shape \(2,\), expected \(1,\)"):
        odeint(lambda t, s: (s[0], torch.zeros(2)), (torch.ones(2), torch.ones(1)), T)


G = 9.81


class Falling(nn.Module):
    def forward(self, t, state):
        _, velocity = state
        return velocity, torch.full_like(velocity, -G)


@pytest.mark.parametrize("adjoint", [True, False])
def test_ball_hits_the_ground_at_the_right_time_with_the_right_gradient(adjoint: bool) -> None:
    h = torch.tensor(2.0, dtype=F64, requires_grad=True)
    v0 = torch.tensor(0.0, dtype=F64)
    t0 = torch.tensor(0.0, dtype=F64)
    event_t, (height, velocity) = odeint_event(
        Falling(), (h, v0), t0, event_fn=lambda t, s: s[0], adjoint=adjoint,
        rtol=1e-9, atol=1e-9,
    )  # fmt: skip
    exact = math.sqrt(2 * 2.0 / G)
    assert abs(float(event_t.detach()) - exact) < 1e-9
    assert height.shape == (2,) and abs(float(height[-1].detach())) < 1e-9
    (dt_dh,) = torch.autograd.grad(event_t, h)
    assert abs(float(dt_dh) - 1 / math.sqrt(2 * G * 2.0)) < 1e-7
    # The state at the event moves with h too: v(t*) = -g t*, so dv*/dh = -g dt*/dh.
    h2 = h.detach().requires_grad_(True)
    _, (_, velocity) = odeint_event(Falling(), (h2, v0), t0, event_fn=lambda t, s: s[0],
                                    adjoint=adjoint, rtol=1e-9, atol=1e-9)  # fmt: skip
    (dv_dh,) = torch.autograd.grad(velocity[-1], h2)
    assert abs(float(dv_dh) + G / math.sqrt(2 * G * 2.0)) < 1e-6


def test_event_time_gradient_in_t0_and_parameters_and_reverse_time() -> None:
    # y' = -k y from y(t0) = 1 reaches 1/2 at t* = t0 + ln 2 / k.
    k = torch.tensor(0.7, dtype=F64, requires_grad=True)
    t0 = torch.tensor(0.25, dtype=F64, requires_grad=True)
    y0 = torch.ones(1, dtype=F64)
    event_t, _ = odeint_event(lambda t, y: -k * y, y0, t0, event_fn=lambda t, y: y.sum() - 0.5,
                                adjoint_params=(k,), rtol=1e-10, atol=1e-10)  # fmt: skip
    assert abs(float(event_t.detach()) - (0.25 + math.log(2) / 0.7)) < 1e-8
    dk, dt0 = torch.autograd.grad(event_t, (k, t0))
    assert abs(float(dk) + math.log(2) / 0.7**2) < 1e-6 and abs(float(dt0) - 1.0) < 1e-6
    back_t, _ = odeint_event(lambda t, y: -k * y, y0, t0, event_fn=lambda t, y: y.sum() - 2.0,
                             reverse_time=True, adjoint_params=(k,), rtol=1e-10,
                             atol=1e-10)  # fmt: skip
    assert abs(float(back_t) - (0.25 - math.log(2) / 0.7)) < 1e-8


def test_event_with_a_fixed_grid_method_needs_step_size_and_not_scipy() -> None:
    with pytest.raises(ValueError, match="fixed-grid method 'rk4' needs the option 'step_size'"):
        odeint_event(lambda t, y: -y, torch.ones(1), torch.tensor(0.0),
                     event_fn=lambda t, y: y.sum() - 0.5, method="rk4")  # fmt: skip
    with pytest.raises(NotImplementedError, match="odeint_event with 'scipy_solver'"):
        odeint_event(lambda t, y: -y, torch.ones(1), torch.tensor(0.0),
                     event_fn=lambda t, y: y.sum() - 0.5, method="scipy_solver")  # fmt: skip

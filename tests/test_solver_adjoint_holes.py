"""Adjoint correctness holes: missing gradients are never silent; fields without a graph."""

from __future__ import annotations

import pytest
import torch

from pyode import ODEBlock, odeint

T = torch.tensor([0.0, 1.0], dtype=torch.float64)


def test_plain_callable_closing_over_parameters_raises_when_a_gradient_is_recorded() -> None:
    net = torch.nn.Linear(2, 2)
    y0 = torch.randn(4, 2, requires_grad=True)
    with pytest.raises(ValueError, match=r"adjoint_params=.*adjoint_params=\(\).*nn\.Module"):
        odeint(lambda t, y: net(y), y0, torch.tensor([0.0, 1.0]))


def test_plain_callable_with_adjoint_params_gets_the_direct_gradient() -> None:
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 2).double()
    y0 = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    kw = dict(rtol=1e-9, atol=1e-9)
    grads = []
    for extra in (dict(adjoint_params=tuple(net.parameters())), dict(adjoint=False)):
        out = odeint(lambda t, y: net(y), y0, T, **kw, **extra)[-1].pow(2).sum()
        grads.append(torch.autograd.grad(out, [y0, net.weight]))
    assert grads[0][1].abs().sum() > 0
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-8)


def test_plain_callable_forward_solves_keep_working() -> None:
    y0 = torch.ones(2, dtype=torch.float64)
    # Nothing requires grad, or grad mode is off: no gradient is wanted, so no error.
    assert torch.allclose(odeint(lambda t, y: -y, y0, T)[-1], torch.exp(-y0), rtol=1e-3)
    with torch.no_grad():
        odeint(lambda t, y: -y, y0.requires_grad_(True), T)
    block = ODEBlock(lambda t, y: -y)
    assert block(torch.ones(3)).shape == (3,)


@pytest.mark.parametrize("adjoint", [True, False])
def test_field_without_graph_cos_t(adjoint: bool) -> None:
    y0 = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    out = odeint(lambda t, y: torch.cos(t).expand_as(y), y0, T, adjoint=adjoint,
                 adjoint_params=(), rtol=1e-8, atol=1e-8)  # fmt: skip
    (g,) = torch.autograd.grad(out[-1].sum(), y0)
    assert torch.allclose(out[-1], torch.full((3,), torch.sin(torch.tensor(1.0)).item(),
                                              dtype=torch.float64), atol=1e-7)  # fmt: skip
    assert torch.equal(g, torch.ones(3, dtype=torch.float64))


def test_field_without_graph_zeros() -> None:
    y0 = torch.ones(2, dtype=torch.float64, requires_grad=True)
    out = odeint(lambda t, y: torch.zeros_like(y), y0, T, adjoint_params=())
    (g,) = torch.autograd.grad(out[-1].sum(), y0)
    assert torch.equal(g, torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("adjoint", [True, False])
def test_field_without_graph_time_gradient(adjoint: bool) -> None:
    t = T.clone().requires_grad_(True)
    y0 = torch.zeros(1, dtype=torch.float64)
    out = odeint(lambda t, y: torch.ones_like(y), y0, t, adjoint=adjoint, adjoint_params=())
    (g,) = torch.autograd.grad(out[-1].sum(), t)
    assert torch.allclose(g, torch.tensor([-1.0, 1.0], dtype=torch.float64))

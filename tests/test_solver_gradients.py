"""Gradients: adjoint vs direct backprop vs central finite differences (float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pyode import odeint
from pyode.solver import SolverStats

TIGHT = dict(method="dopri5", rtol=1e-10, atol=1e-10)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([y, t.expand(y.shape[0], 1)], dim=1))


def _loss(ys: torch.Tensor) -> torch.Tensor:
    weights = torch.linspace(0.5, 1.5, ys.numel(), dtype=ys.dtype).view_as(ys)
    return (weights * ys**2).sum()


def _grads(func, y0, t, **kw):
    y0 = y0.clone().requires_grad_(True)
    t = t.clone().requires_grad_(True)
    loss = _loss(odeint(func, y0, t, **kw))
    params = list(func.parameters())
    grads = torch.autograd.grad(loss, [y0, t, *params])
    return grads[0], grads[1], torch.cat([g.reshape(-1) for g in grads[2:]])


def _finite_differences(func, y0, t, eps=1e-6, **kw):
    def loss_at(y0_, t_):
        with torch.no_grad():
            return _loss(odeint(func, y0_, t_, adjoint=False, **kw)).item()

    def central(x, set_fn):
        out = torch.zeros(x.numel(), dtype=x.dtype)
        for i in range(x.numel()):
            plus, minus = x.clone().reshape(-1), x.clone().reshape(-1)
            plus[i] += eps
            minus[i] -= eps
            out[i] = (set_fn(plus.view_as(x)) - set_fn(minus.view_as(x))) / (2 * eps)
        return out

    g_y0 = central(y0, lambda v: loss_at(v, t)).view_as(y0)
    g_t = central(t, lambda v: loss_at(y0, v))
    params = list(func.parameters())
    g_p = []
    for p in params:
        orig = p.detach().clone()

        def with_param(v, p=p, orig=orig):
            with torch.no_grad():
                p.copy_(v)
            value = loss_at(y0, t)
            with torch.no_grad():
                p.copy_(orig)
            return value

        g_p.append(central(orig, with_param))
    return g_y0, g_t, torch.cat(g_p)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-12)).item()


@pytest.mark.parametrize("reverse", [False, True], ids=["forward-time", "backward-time"])
def test_adjoint_matches_direct_and_finite_differences(reverse: bool) -> None:
    torch.manual_seed(1)
    func = MLP().double()
    y0 = torch.randn(2, 2, dtype=torch.float64)
    t = torch.tensor([0.0, 0.3, 0.7, 1.0], dtype=torch.float64)
    if reverse:
        t = t.flip(0)
    adj = _grads(func, y0, t, adjoint=True, **TIGHT)
    direct = _grads(func, y0, t, adjoint=False, **TIGHT)
    fd = _finite_differences(func, y0, t, **TIGHT)
    for a, d, f, name in zip(adj, direct, fd, ["y0", "t", "params"]):
        assert _rel(a, f) < 1e-5, (name, a, f)
        assert _rel(d, f) < 1e-5, (name, d, f)
        assert _rel(a, d) < 1e-5, (name, a, d)


def test_adjoint_rk4_matches_direct() -> None:
    func = MLP().double()
    y0 = torch.randn(3, 2, dtype=torch.float64)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    kw = dict(method="rk4", options=dict(n_steps=200))
    adj = _grads(func, y0, t, adjoint=True, **kw)
    direct = _grads(func, y0, t, adjoint=False, **kw)
    for a, d in zip(adj, direct):
        assert _rel(a, d) < 1e-5


def test_seminorm_same_gradients_fewer_backward_evaluations() -> None:
    func = MLP().double()
    y0 = torch.randn(4, 2, dtype=torch.float64)
    t = torch.tensor([0.0, 2.0], dtype=torch.float64)
    kw = dict(method="dopri5", rtol=1e-7, atol=1e-7)
    full, semi = SolverStats(), SolverStats()
    g_full = _grads(func, y0, t, stats=full, **kw)
    g_semi = _grads(func, y0, t, stats=semi, adjoint_norm="seminorm", **kw)
    for a, b in zip(g_full, g_semi):
        assert _rel(a, b) < 1e-4
    assert 0 < semi.nfe_backward <= full.nfe_backward


def test_plain_callable_gets_state_gradient() -> None:
    a = torch.tensor(-0.7, dtype=torch.float64)
    y0 = torch.tensor([1.5], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 2.0], dtype=torch.float64)
    out = odeint(lambda t, y: a * y, y0, t, adjoint_params=(), **TIGHT)[-1].sum()
    (g,) = torch.autograd.grad(out, y0)
    assert torch.allclose(g, torch.exp(2 * a).reshape(1), rtol=1e-8)


def test_adjoint_with_other_backward_method_and_tolerances() -> None:
    func = MLP().double()
    y0 = torch.randn(3, 2, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    reference = _grads(func, y0, t, adjoint=False, **TIGHT)
    stats = SolverStats()
    mixed = _grads(func, y0, t, stats=stats, adjoint_method="rk4",
                   adjoint_options=dict(n_steps=100), **TIGHT)  # fmt: skip
    assert stats.nfe_backward == 400 and stats.n_accepted_backward == 100
    for a, b in zip(mixed, reference):
        assert _rel(a, b) < 1e-6
    loose = _grads(func, y0, t, adjoint_rtol=1e-4, adjoint_atol=1e-4, **TIGHT)
    assert _rel(loose[0], reference[0]) < 1e-2


@pytest.mark.parametrize("engine", [True, False])
def test_vjp_matches_autograd_grad(monkeypatch, engine: bool) -> None:
    from pyode.solver import vjp as vjp_module

    if not engine:
        monkeypatch.setattr(vjp_module, "_ENGINE", None)
    func = MLP().double()
    y = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    out = func(t, y)
    cot = torch.randn_like(out)
    inputs = (y, t, *func.parameters())
    expected = torch.autograd.grad(out, inputs, cot, retain_graph=True)
    for a, b in zip(vjp_module.vjp(out, inputs, cot), expected):
        assert torch.equal(a, b)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_augmented_derivative_reads_any_layout(shape) -> None:
    """The adjoint's augmented derivative [f, -a df/dz, -a df/dtheta] takes its z and a blocks
    as views of the flat state: a strided or grad-requiring state gives the same values."""
    from types import SimpleNamespace

    from pyode.solver.adjoint import AugmentedDynamics

    torch.manual_seed(0)
    weight = torch.randn(shape, dtype=torch.float64, requires_grad=True)

    def f(t, z):
        return torch.tanh(weight * z) + t

    like = torch.zeros(shape, dtype=torch.float64)
    dyn = AugmentedDynamics(SimpleNamespace(func=f, params=(weight,)), like, with_t=False)
    n = like.numel()
    aug = torch.randn(3 * n, dtype=torch.float64)
    z, a = aug[:n].view(shape), aug[n : 2 * n].view(shape)
    zl = z.clone().requires_grad_(True)
    fz = f(torch.tensor(0.5, dtype=torch.float64), zl)
    want_z, want_w = torch.autograd.grad(fz, (zl, weight), -a)
    want = torch.cat([fz.detach().reshape(-1), want_z.reshape(-1), want_w.reshape(-1)])
    strided = torch.zeros(6 * n, dtype=torch.float64)[::2].copy_(aug)  # stride 2
    for state in (aug, strided, aug.clone().requires_grad_(True)):
        with torch.no_grad():
            got = dyn(0.5, state)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-15)

"""pyode.compat.torchdiffeq: torchdiffeq's signatures and defaults, same answers."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from pyode.compat import torchdiffeq as compat

tdq = pytest.importorskip("torchdiffeq")
F64 = torch.float64


class Spiral(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2)).double()

    def forward(self, t, y):
        return self.net(y**3)


@pytest.mark.parametrize("name", ["odeint", "odeint_adjoint", "odeint_event"])
def test_signatures_and_defaults_are_torchdiffeq_s(name: str) -> None:
    ours = inspect.signature(getattr(compat, name)).parameters
    theirs = inspect.signature(getattr(tdq, name)).parameters
    assert list(ours) == list(theirs)
    for key, param in theirs.items():
        if key != "odeint_interface":
            assert ours[key].default == param.default, key
            assert ours[key].kind == param.kind, key


def test_same_solution_and_gradients_as_torchdiffeq() -> None:
    func = Spiral()
    y0 = torch.tensor([[2.0, 0.0]], dtype=F64, requires_grad=True)
    t = torch.linspace(0, 1, 5, dtype=F64)
    for ours, theirs in ((compat.odeint, tdq.odeint), (compat.odeint_adjoint, tdq.odeint_adjoint)):
        results = []
        for fn in (ours, theirs):
            out = fn(func, y0, t, options=dict(first_step=0.05))
            grads = torch.autograd.grad(out.pow(2).sum(), [y0, *func.parameters()])
            results.append((out, grads))
        assert torch.allclose(results[0][0], results[1][0], atol=1e-7)
        for a, b in zip(results[0][1], results[1][1]):
            assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)  # both adjoints are approximate


def test_seminorm_adjoint_option_and_tuple_state() -> None:
    func = Spiral()
    y0 = torch.tensor([[2.0, 0.0]], dtype=F64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=F64)

    def pair(t, state):
        return func(t, state[0]), -state[1]

    outs = [
        fn(pair, (y0, torch.ones(1, dtype=F64)), t, adjoint_params=tuple(func.parameters()),
           adjoint_options=dict(norm="seminorm"))[0][-1].sum()
        for fn in (compat.odeint_adjoint, tdq.odeint_adjoint)
    ]  # fmt: skip
    assert torch.allclose(outs[0], outs[1], atol=1e-7)
    g = [torch.autograd.grad(o, y0)[0] for o in outs]
    assert torch.allclose(g[0], g[1], rtol=1e-5)


def test_event_through_odeint_event_matches_torchdiffeq() -> None:
    y0 = torch.ones(1, dtype=F64)
    t0 = torch.tensor(0.0, dtype=F64)
    event = lambda t, y: y.sum() - 0.5  # noqa: E731
    ours, _ = compat.odeint_event(lambda t, y: -y, y0, t0, event_fn=event)
    theirs, _ = tdq.odeint_event(lambda t, y: -y, y0, t0, event_fn=event)
    assert abs(float(ours) - float(theirs)) < 1e-7


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(method="gl4"), "method 'gl4' is not in pyode: pyode's implicit methods are"),
    ],
)
def test_missing_torchdiffeq_features_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(NotImplementedError, match=match):
        compat.odeint(lambda t, y: -y, torch.ones(1), torch.tensor([0.0, 1.0]), **kwargs)


def test_an_option_neither_library_has_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'made_up'"):
        compat.odeint(lambda t, y: -y, torch.ones(1), torch.tensor([0.0, 1.0]),
                      options=dict(made_up=1))  # fmt: skip


def test_odeint_adjoint_wants_a_module_or_adjoint_params() -> None:
    with pytest.raises(ValueError, match="adjoint_params"):
        compat.odeint_adjoint(lambda t, y: -y, torch.ones(1), torch.tensor([0.0, 1.0]))
    assert set(compat.METHODS) >= {"dopri5", "tsit5", "dopri8", "rk4", "euler"}

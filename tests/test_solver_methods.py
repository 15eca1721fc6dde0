"""The methods: observed order on a problem with a known solution, dense output, jumps."""

from __future__ import annotations

import math

import pytest
import torch

from pyode import odeint
from pyode.solver import TABLEAUS, SolverStats
from pyode.solver.rk_step import rk_step
from pyode.solver.tableaus import ADAPTIVE

F64 = torch.float64


def _exact(t: float) -> float:
    return math.exp(math.sin(t))  # y' = y cos t, y(0) = 1


def _error(name: str, n: int, t_end: float = 1.0) -> float:
    """Global error after n equal steps of the method's own formula."""
    tableau = TABLEAUS[name]
    func = lambda t, y: y * math.cos(t)  # noqa: E731
    y = torch.ones(1, dtype=F64)
    h = t_end / n
    for j in range(n):
        y = rk_step(func, tableau, j * h, y, h, func(j * h, y))[0]
    return abs(float(y) - _exact(t_end))


@pytest.mark.parametrize("name", list(TABLEAUS))
def test_observed_order_within_point_three_of_nominal(name: str) -> None:
    order = TABLEAUS[name].order
    # Step counts where the error is far above rounding and in the asymptotic regime.
    n = {1: 64, 2: 32, 3: 16, 4: 16, 5: 32, 8: 4}[order]
    observed = math.log2(_error(name, n) / _error(name, 2 * n))
    assert abs(observed - order) < 0.3, (name, observed)


@pytest.mark.parametrize("name", list(ADAPTIVE))
def test_adaptive_methods_meet_tolerance_with_dense_output(name: str) -> None:
    t = torch.linspace(0, 3, 31, dtype=F64)
    out = odeint(lambda t, y: y * torch.cos(t), torch.ones(1, dtype=F64), t, method=name,
                 rtol=1e-7, atol=1e-7, adjoint=False)  # fmt: skip
    exact = torch.tensor([_exact(float(s)) for s in t], dtype=F64)
    assert (out[:, 0] - exact).abs().max() < 1e-4


def _switching(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.where(t < 0.5, 1.0, -1.0).to(y.dtype).expand_as(y)


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "adaptive_heun"])
def test_jump_t_ends_a_step_there_and_reevaluates(method: str) -> None:
    y0 = torch.zeros(1, dtype=F64)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    plain, jumped = SolverStats(), SolverStats()
    odeint(_switching, y0, t, method=method, rtol=1e-8, atol=1e-8, stats=plain)
    out = odeint(_switching, y0, t, method=method, rtol=1e-8, atol=1e-8, stats=jumped,
                 options=dict(jump_t=[0.5]))  # fmt: skip
    assert abs(float(out[-1])) < 1e-12  # exact: both pieces are linear
    assert jumped.n_rejected == 0 < plain.n_rejected
    assert jumped.nfe_forward < plain.nfe_forward


def test_step_t_ends_steps_exactly_there() -> None:
    seen: list[float] = []

    def func(t, y):
        seen.append(float(t))
        return -y

    odeint(func, torch.ones(1, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64),
           options=dict(step_t=torch.tensor([0.3, 0.7], dtype=F64)))  # fmt: skip
    assert 0.3 in seen and 0.7 in seen


def test_jump_t_through_the_adjoint_matches_direct() -> None:
    scale = torch.tensor(1.3, dtype=F64, requires_grad=True)
    y0 = torch.ones(2, dtype=F64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=F64)

    def func(t, y):
        return _switching(t, y) * scale * y

    grads = []
    for adjoint in (True, False):
        out = odeint(func, y0, t, adjoint=adjoint, adjoint_params=(scale,), rtol=1e-9,
                     atol=1e-9, options=dict(jump_t=[0.5]))  # fmt: skip
        grads.append(torch.autograd.grad(out[-1].sum(), (y0, scale)))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-7)

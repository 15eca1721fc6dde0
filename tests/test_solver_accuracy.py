"""Exact solutions and convergence orders of every method (float64, CPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pyode import odeint
from pyode.solver import SolverStats

F64 = torch.float64


def test_euler_unit_steps_double_exactly() -> None:
    t = torch.linspace(0, 4, 5, dtype=F64)
    ys = odeint(lambda t, y: y, torch.tensor(1.0, dtype=F64), t, method="euler",
                options=dict(step_size=1.0))  # fmt: skip
    assert ys.tolist() == [1.0, 2.0, 4.0, 8.0, 16.0]


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_fine_steps_approach_exponential(method: str) -> None:
    t = torch.tensor([0.0, 4.0], dtype=F64)
    ys = odeint(lambda t, y: y, torch.ones(1, dtype=F64), t, method=method,
                options=dict(n_steps=4000))  # fmt: skip
    assert ys[-1].item() == pytest.approx(math.exp(4), rel=2e-3 if method == "euler" else 1e-6)


@pytest.mark.parametrize("method", ["rk4", "dopri5", "bosh3"])
def test_linear_inhomogeneous(method: str) -> None:
    x = torch.linspace(0, 5, 11, dtype=F64)
    opts = dict(n_steps=20) if method == "rk4" else None
    ys = odeint(lambda t, y: 1.5 - y / 2, torch.tensor([2.0], dtype=F64), x, method=method,
                rtol=1e-9, atol=1e-9, options=opts)  # fmt: skip
    exact = 3 - torch.exp(-x / 2)
    assert torch.allclose(ys[:, 0], exact, atol=1e-7)


A = torch.tensor([[-0.1, -1.0], [1.0, -0.1]], dtype=F64)


def spiral(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return z @ A.T


def spiral_exact(t: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
    return torch.stack([z0 @ torch.linalg.matrix_exp(A * (ti - t[0])).T for ti in t])


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_spiral_adaptive_against_matrix_exponential(method: str, reverse: bool) -> None:
    t = torch.linspace(0, 10, 7, dtype=F64)
    if reverse:
        t = t.flip(0)
    z0 = torch.tensor([[2.0, 0.0], [0.5, -1.0]], dtype=F64)
    ys = odeint(spiral, z0, t, method=method, rtol=1e-8, atol=1e-8)
    assert ys.shape == (7, 2, 2)
    assert (ys - spiral_exact(t, z0)).abs().max().item() < 1e-6


@pytest.mark.parametrize("method,order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_convergence_order(method: str, order: int) -> None:
    t = torch.tensor([0.0, 2.0], dtype=F64)
    z0 = torch.tensor([1.0, 0.5], dtype=F64)
    exact = spiral_exact(t, z0)[-1]
    steps = [8, 16, 32, 64] if order < 4 else [4, 8, 16, 32]
    errors = [
        (odeint(spiral, z0, t, method=method, options=dict(n_steps=n))[-1] - exact).norm().item()
        for n in steps
    ]
    slope = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(slope - order) < 0.3, (errors, slope)


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_adaptive_error_tracks_tolerance(method: str) -> None:
    # Local error control: the global error grows with the span, so keep it short.
    t = torch.linspace(0, 3, 4, dtype=F64)
    z0 = torch.tensor([1.0, 0.5], dtype=F64)
    exact = spiral_exact(t, z0)
    errors, nfes = [], []
    for tol in (1e-3, 1e-5, 1e-7):
        stats = SolverStats()
        ys = odeint(spiral, z0, t, method=method, rtol=tol, atol=tol, stats=stats)
        err = (ys - exact).abs().max().item()
        assert err < 10 * tol, (tol, err)
        errors.append(err)
        nfes.append(stats.nfe_forward)
    assert errors[0] > errors[1] > errors[2]
    assert nfes[0] < nfes[1] < nfes[2]


def test_float32_and_step_size_grid_hits_outputs() -> None:
    t = torch.tensor([0.0, 0.25, 1.0])
    ys = odeint(lambda t, y: -y, torch.ones(3, 1), t, method="rk4", options=dict(step_size=0.1))
    assert ys.dtype == torch.float32
    assert torch.allclose(ys[:, 0, 0], torch.exp(-t), atol=1e-6)


def test_time_dependent_dynamics_and_dense_output() -> None:
    # dy/dt = cos(t): y = sin(t); many outputs inside single steps exercise the interpolant.
    t = torch.linspace(0, 3, 31, dtype=F64)
    ys = odeint(lambda t, y: torch.cos(t).expand_as(y), torch.zeros(1, dtype=F64), t,
                rtol=1e-6, atol=1e-6)  # fmt: skip
    assert (ys[:, 0] - torch.sin(t)).abs().max().item() < 1e-5


def test_adaptive_options_are_honoured() -> None:
    t = torch.tensor([0.0, 3.0], dtype=F64)
    z0 = torch.tensor([1.0, 0.5], dtype=F64)
    exact = spiral_exact(t, z0)[-1]
    plain, pi, fixed_first = SolverStats(), SolverStats(), SolverStats()
    for stats, opts in ((plain, {}), (pi, dict(beta=0.04)), (fixed_first, dict(first_step=1e-3))):
        ys = odeint(spiral, z0, t, rtol=1e-6, atol=1e-6, options=opts, stats=stats)
        assert (ys[-1] - exact).abs().max().item() < 1e-5
    # A tiny given first step skips the automatic choice (one evaluation fewer) but needs
    # more steps to grow out of it.
    assert fixed_first.n_accepted > plain.n_accepted
    assert pi.n_accepted + pi.n_rejected > 0

"""Inputs torchdiffeq users try: changing shapes, tiny fixed steps, float16, meta, one time,
float64 time with a float32 state, step bounds."""

from __future__ import annotations

import time

import pytest
import torch

from pyode import ODESolverError, odeint
from pyode.solver import SolverStats

T = torch.tensor([0.0, 1.0])


def test_output_shape_changing_later_names_the_expected_shape() -> None:
    calls = []

    def func(t, y):
        calls.append(t)
        return -y if len(calls) < 3 else -y[:1]

    with pytest.raises(ValueError, match=r"returned shape \(1,\) but y0 has shape \(2,\)"):
        odeint(func, torch.ones(2), T)


@pytest.mark.parametrize("adjoint", [True, False])
def test_fixed_grid_honours_max_num_steps(adjoint: bool) -> None:
    start = time.perf_counter()
    with pytest.raises(ODESolverError, match=r"max_num_steps=10000 exceeded.*t=1.*dt=1e-12"):
        odeint(lambda t, y: -y, torch.ones(2), T, method="rk4", adjoint=adjoint,
               options=dict(step_size=1e-12))  # fmt: skip
    assert time.perf_counter() - start < 5  # fails up front, before stepping
    out = odeint(lambda t, y: -y, torch.ones(2), T, method="euler",
                 options=dict(step_size=0.01, max_num_steps=100))  # fmt: skip
    assert out.shape == (2, 2)


def test_float16_state_uses_float32_error_control() -> None:
    y0 = torch.ones(3, dtype=torch.float16)
    out = odeint(lambda t, y: -y, y0, torch.tensor([0.0, 1.0], dtype=torch.float16))
    assert out.dtype == torch.float16
    assert torch.allclose(out[-1].float(), torch.full((3,), 0.36788), atol=3e-3)


def test_meta_device_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="'meta' device"):
        odeint(lambda t, y: -y, torch.ones(2, device="meta"), T)


@pytest.mark.parametrize("adjoint", [True, False])
def test_single_time_returns_y0(adjoint: bool) -> None:
    y0 = torch.randn(3, 2, requires_grad=True)
    out = odeint(lambda t, y: -y, y0, torch.tensor([0.5]), adjoint=adjoint, adjoint_params=())
    assert out.shape == (1, 3, 2) and torch.equal(out[0], y0)
    (g,) = torch.autograd.grad(out.sum(), y0)
    assert torch.equal(g, torch.ones(3, 2))


def test_float64_times_with_float32_state_keep_their_resolution() -> None:
    # 1 + 1e-9 is not a float32 number: held in float32 the two times would coincide.
    t = torch.tensor([1.0, 1.0 + 1e-9], dtype=torch.float64)
    out = odeint(lambda t, y: torch.ones_like(y), torch.zeros(2), t)
    assert out.dtype == torch.float32
    assert torch.allclose(out[-1], torch.full((2,), 1e-9), rtol=1e-4)


def test_max_step_bounds_every_step() -> None:
    times: list[float] = []

    def func(t, y):
        times.append(float(t))
        return -y

    stats = SolverStats()
    odeint(func, torch.ones(1, dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64),
           rtol=1e-2, atol=1e-2, options=dict(max_step=0.1), stats=stats)  # fmt: skip
    assert stats.n_accepted >= 10
    free = SolverStats()
    odeint(lambda t, y: -y, torch.ones(1), T, rtol=1e-2, atol=1e-2, stats=free)
    assert free.n_accepted < 10


def test_min_step_above_max_step_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'min_step'.*exceeds 'max_step'"):
        odeint(lambda t, y: -y, torch.ones(1), T, options=dict(min_step=0.5, max_step=0.1))

"""Every fault raises its own type with a message that says what and where."""

from __future__ import annotations

import re

import pytest
import torch

from pyode import ODESolverError, odeint
from pyode.solver import METHODS

T = torch.tensor([0.0, 1.0], dtype=torch.float64)
Y = torch.ones(2, dtype=torch.float64)


def test_step_size_underflow_names_t_and_dt() -> None:
    # y' = y^2 from y(0)=1 blows up at t=1.
    with pytest.raises(ODESolverError, match=r"step size underflow at t=(1|0\.99).*dt="):
        odeint(lambda t, y: y**2, Y, torch.tensor([0.0, 2.0], dtype=torch.float64),
               rtol=1e-6, atol=1e-6)  # fmt: skip


def test_min_step_accepts_and_stops_at_non_finite() -> None:
    # As in torchdiffeq a step of min_step is accepted whatever its error, so the blow-up is
    # reached and reported as non-finite, at the smallest step.
    with pytest.raises(ODESolverError, match=r"non-finite .*t=1\.0.*dt=0\.0001"):
        odeint(lambda t, y: y**2, Y, torch.tensor([0.0, 2.0], dtype=torch.float64),
               rtol=1e-6, atol=1e-6, options=dict(min_step=1e-4))  # fmt: skip


def test_non_finite_derivative_adaptive() -> None:
    with pytest.raises(ODESolverError, match=r"non-finite .* t=0"):
        odeint(lambda t, y: y * float("nan"), Y, T)


def test_non_finite_state_appearing_later() -> None:
    def func(t, y):
        return torch.where(t > 0.5, torch.full_like(y, float("inf")), y)

    with pytest.raises(ODESolverError, match=r"non-finite .*t=0\.[45]"):
        odeint(func, Y, T)
    with pytest.raises(ODESolverError, match=r"non-finite .*between t=0 and t=1"):
        odeint(func, Y, T, method="rk4", options=dict(n_steps=10))


def test_max_num_steps_names_t_reached() -> None:
    with pytest.raises(ODESolverError, match=r"max_num_steps=5 exceeded: reached t=0\.\d+"):
        odeint(lambda t, y: torch.cos(20 * t) * y, Y, 10 * T, rtol=1e-8, atol=1e-8,
               options=dict(max_num_steps=5))  # fmt: skip


@pytest.mark.parametrize(
    "t,match",
    [
        (torch.tensor([[0.0, 1.0]]), "1-D"),
        (torch.tensor([]), "empty"),
        (torch.tensor([0.0, 1.0, 0.5]), "strictly increasing or strictly decreasing"),
        (torch.tensor([0.0, 0.0]), "strictly"),
        ([0.0, 1.0], "1-D torch tensor"),
    ],
)
def test_bad_t(t, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        odeint(lambda t, y: y, torch.ones(2), t)


def test_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r"shape \(3,\) but y0 has shape \(2,\)"):
        odeint(lambda t, y: torch.ones(3), torch.ones(2), torch.tensor([0.0, 1.0]))


def test_unknown_method_lists_valid_ones() -> None:
    valid = re.escape("valid methods: " + ", ".join(METHODS))
    assert {"euler", "heun2", "rk4", "dopri5", "implicit_adams", "scipy_solver"} <= set(METHODS)
    with pytest.raises(ValueError, match=r"unknown method 'rk45'; " + valid):
        odeint(lambda t, y: y, torch.ones(2), torch.tensor([0.0, 1.0]), method="rk45")


def test_bad_options() -> None:
    t = torch.tensor([0.0, 1.0])
    with pytest.raises(ValueError, match=r"unknown option.*'stepsize'.*valid options: step_size"):
        odeint(lambda t, y: y, torch.ones(2), t, method="rk4", options=dict(stepsize=0.1))
    with pytest.raises(ValueError, match="'n_steps' must be a positive integer"):
        odeint(lambda t, y: y, torch.ones(2), t, method="rk4", options=dict(n_steps=0))
    with pytest.raises(ValueError, match=r"unknown argument.*'adjoint_foo'"):
        odeint(lambda t, y: y, torch.ones(2), t, adjoint_foo=1)
    with pytest.raises(ValueError, match="adjoint_norm"):
        odeint(lambda t, y: y, torch.ones(2), t, adjoint_norm="l2")

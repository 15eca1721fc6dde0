"""The step-size controller: first step, clamp, breakpoints and the PI factor, in one object."""

from __future__ import annotations

import math

import torch

from pyode.solver.config import make_config
from pyode.solver.controller import StepCarry
from pyode.solver.norms import RMS_NORM


def _controller(**options):
    return make_config("dopri5", 1e-6, 1e-6, options).controller(RMS_NORM)


def test_stops_are_the_breakpoints_inside_the_span_in_integration_order() -> None:
    c = _controller(step_t=[0.25, 2.0, 0.75], jump_t=[0.5, -1.0])
    assert c.stops(0.0, 1.0, 1.0) == [(0.25, False), (0.5, True), (0.75, False), (1.0, False)]
    assert c.stops(1.0, 0.0, -1.0) == [(0.75, False), (0.5, True), (0.25, False), (0.0, False)]


def test_first_step_prefers_the_carried_step_then_the_option_and_is_clamped() -> None:
    c = _controller(first_step=0.5, max_step=0.1, min_step=0.01)
    y0 = torch.ones(2, dtype=torch.float64)
    f = lambda t, y: -y  # noqa: E731
    assert c.first_step(f, 0.0, y0, -y0, 1.0, StepCarry(0.05)) == 0.05
    assert c.first_step(f, 0.0, y0, -y0, 1.0, StepCarry(1e-6)) == 0.01
    assert c.first_step(f, 0.0, y0, -y0, 1.0, None) == 0.1
    auto = _controller().first_step(f, 0.0, y0, -y0, 1.0, None)
    assert 0 < auto < 1


def test_next_step_grows_on_small_errors_and_shrinks_hard_on_non_finite_ones() -> None:
    c = _controller(ifactor=10.0, dfactor=0.2)
    assert c.next_step(0.1, 0.0, True) == 0.1 * 10.0
    assert c.next_step(0.1, 2.0, False) < 0.1
    assert c.next_step(0.1, math.inf, False) == 0.1 * 0.2
    assert c.clock(0.1) == 0.1
    c32 = make_config("dopri5", 1e-6, 1e-6, {"dtype": torch.float32}).controller()
    assert c32.clock(0.1) == float(torch.tensor(0.1, dtype=torch.float32))

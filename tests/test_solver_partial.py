"""on_failure="return": a failed solve gives back the outputs it reached, NaN after them, and its
stats say why and how far it got; gradients flow from the outputs reached only."""

from __future__ import annotations

import math
import pickle
import warnings

import pytest
import torch
from torch import nn

from pyode import ODEBlock, ODESolverError, odeint, odeint_event
from pyode.solver import SolverStats

F64 = torch.float64
T = torch.linspace(0.0, 2.0, 9, dtype=F64)  # outputs every 0.25
Y0 = torch.tensor([1.0, 0.5], dtype=F64)
NAN_AFTER = 1.31  # the field turns NaN past this time
T_BLOW_UP = torch.linspace(0.0, 2.1, 8, dtype=F64)  # outputs every 0.3, none at the blow-up


def blow_up(t, y):
    return y**2  # y(t) = y0 / (1 - y0 t): infinite at t = 1 for y0 = 1


def nan_late(t, y):
    return torch.where(t > NAN_AFTER, torch.full_like(y, math.nan), -y)


def oscillating(t, y):
    return torch.cos(20 * t) * y


def solve(func, t=T, **kw):
    stats = SolverStats()
    ys = odeint(func, Y0, t, adjoint=False, on_failure="return", stats=stats, **kw)
    return ys, stats


def reached_count(ys):
    """The leading rows that are not NaN; every row after them must be all NaN."""
    finite = [bool(torch.isfinite(row).all()) for row in ys]
    k = finite.index(False) if False in finite else len(finite)
    assert torch.isnan(ys[k:]).all()
    return k


def test_unknown_on_failure_names_it() -> None:
    for bad in ("ignore", None, True):
        with pytest.raises(ValueError, match="on_failure"):
            odeint(nan_late, Y0, T, on_failure=bad)
    with pytest.raises(ValueError, match="on_failure"):
        ODEBlock(nan_late, on_failure="skip")
    with pytest.raises(ValueError, match="on_failure"):
        odeint_event(nan_late, Y0, 0.0, event_fn=lambda t, y: y[0] - 0.5, on_failure="skip")


def test_methods_without_partial_results_refuse_it() -> None:
    with pytest.raises(ValueError, match=r"on_failure='return'.*scipy_solver"):
        odeint(nan_late, Y0, T, method="scipy_solver", on_failure="return")
    with pytest.raises(ValueError, match=r"on_failure='return'.*scipy_solver"):
        ODEBlock(nan_late, method="scipy_solver", on_failure="return")
    with pytest.raises(ValueError, match="odeint_event takes on_failure='raise' only"):
        odeint_event(nan_late, Y0, 0.0, event_fn=lambda t, y: y[0] - 0.5, on_failure="return",
                     adjoint_params=())  # fmt: skip
    # "raise" is today's behaviour, accepted everywhere.
    event_t, _ = odeint_event(lambda t, y: -y, Y0, 0.0, event_fn=lambda t, y: y[0] - 0.5,
                              on_failure="raise", adjoint_params=(), rtol=1e-8, atol=1e-8)
    assert abs(float(event_t) - math.log(2)) < 1e-3


def test_success_says_so() -> None:
    ys, stats = solve(lambda t, y: -y)
    assert reached_count(ys) == len(T)
    assert (stats.status, stats.t_reached) == ("success", 2.0)
    assert torch.equal(ys, odeint(lambda t, y: -y, Y0, T, adjoint=False))


def test_max_num_steps_adaptive() -> None:
    ys, stats = solve(oscillating, rtol=1e-8, atol=1e-8, options=dict(max_num_steps=40))
    assert stats.status == "max_num_steps"
    k = reached_count(ys)
    assert 1 < k < len(T)
    assert T[k - 1] <= stats.t_reached < T[k]
    # The steps before the limit are those of an unlimited solve: the same values exactly.
    full = odeint(oscillating, Y0, T, rtol=1e-8, atol=1e-8, adjoint=False)
    assert torch.equal(ys[:k], full[:k])


@pytest.mark.parametrize("grid", [dict(n_steps=4), "constructor"])
def test_max_num_steps_fixed_grid(grid) -> None:
    if grid == "constructor":
        grid = dict(grid_constructor=lambda f, y0, t: torch.linspace(0.0, 2.0, 41, dtype=F64))
    ys, stats = solve(oscillating, method="rk4", options=dict(max_num_steps=10, **grid))
    # 10 steps of 0.0625 (n_steps=4 per output interval) or 0.05: the grid walked to there.
    reached = 0.625 if "n_steps" in grid else 0.5
    assert stats.status == "max_num_steps"
    assert stats.n_accepted == 10
    assert stats.t_reached == pytest.approx(reached, abs=1e-12)
    k = reached_count(ys)
    assert k == int(reached / 0.25) + 1
    full = odeint(oscillating, Y0, T, method="rk4", adjoint=False, options=grid)
    assert torch.equal(ys[:k], full[:k])


def test_step_underflow_adaptive() -> None:
    y0 = torch.ones(2, dtype=F64)
    stats = SolverStats()
    ys = odeint(blow_up, y0, T_BLOW_UP, rtol=1e-8, atol=1e-8, adjoint=False,
                on_failure="return", stats=stats)  # fmt: skip
    assert stats.status == "step_underflow"
    assert abs(stats.t_reached - 1.0) < 1e-6  # the numerical blow-up, near the exact one
    k = reached_count(ys)
    assert k == 4  # 0, 0.3, 0.6, 0.9
    exact = 1 / (1 - T_BLOW_UP[:k, None]).expand(k, 2)
    assert torch.allclose(ys[:k], exact, rtol=1e-6)


def test_step_underflow_backwards_in_time() -> None:
    # y' = -y^2 from y(0) = 1 towards negative t: y = 1 / (1 + t), infinite at t = -1.
    y0 = torch.ones(2, dtype=F64)
    stats = SolverStats()
    ys = odeint(lambda t, y: -(y**2), y0, -T_BLOW_UP, rtol=1e-8, atol=1e-8, adjoint=False,
                on_failure="return", stats=stats)  # fmt: skip
    assert stats.status == "step_underflow"
    assert abs(stats.t_reached + 1.0) < 1e-6
    k = reached_count(ys)
    assert k == 4
    assert torch.allclose(ys[:k], 1 / (1 - T_BLOW_UP[:k, None]).expand(k, 2), rtol=1e-6)


def test_non_finite_adaptive() -> None:
    ys, stats = solve(nan_late, rtol=1e-8, atol=1e-8)
    assert stats.status == "non_finite"
    assert NAN_AFTER - 1e-6 < stats.t_reached <= NAN_AFTER
    k = reached_count(ys)
    assert k == 6  # up to t = 1.25
    assert torch.allclose(ys[:k], torch.exp(-T[:k, None]) * Y0, rtol=1e-7)


@pytest.mark.parametrize("method,reached", [("rk4", 1.3), ("implicit_adams", 1.3),
                                            ("explicit_adams", 1.35)])  # fmt: skip
def test_non_finite_fixed_grid(method, reached) -> None:
    # Steps of 0.05: the step from 1.30 to 1.35 evaluates the field past 1.31 (Adams-Bashforth
    # only at 1.35, from which it steps with past derivatives alone). The last finite grid
    # point is the time reached. A NaN Adams-Moulton iteration is no convergence failure: no
    # warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ys, stats = solve(nan_late, method=method, options=dict(n_steps=5))
    assert stats.status == "non_finite"
    assert stats.t_reached == pytest.approx(reached, abs=1e-12)
    k = reached_count(ys)
    assert k == 6
    full = odeint(lambda t, y: -y, Y0, T, method=method, adjoint=False, options=dict(n_steps=5))
    assert torch.equal(ys[:k], full[:k])


def test_non_finite_at_the_start() -> None:
    ys, stats = solve(lambda t, y: y * math.nan)
    assert (stats.status, stats.t_reached) == ("non_finite", 0.0)
    assert torch.equal(ys[0], Y0) and reached_count(ys) == 1


def test_tuple_state_pads_every_component() -> None:
    def func(t, state):
        return tuple(nan_late(t, s) for s in state)

    stats = SolverStats()
    a, b = odeint(func, (Y0, Y0[:1].clone()), T, adjoint=False, on_failure="return",
                  stats=stats)  # fmt: skip
    assert stats.status == "non_finite"
    assert reached_count(a) == reached_count(b) == 6


def test_raise_is_the_default_and_its_error_is_typed() -> None:
    cases = [
        (oscillating, dict(rtol=1e-8, atol=1e-8, options=dict(max_num_steps=40)),
         "max_num_steps", r"max_num_steps=40 exceeded: reached t="),
        (blow_up, dict(rtol=1e-8, atol=1e-8), "step_underflow", r"step size underflow at t="),
        (nan_late, dict(rtol=1e-8, atol=1e-8), "non_finite", r"non-finite state"),
        (oscillating, dict(method="rk4", options=dict(max_num_steps=10, n_steps=4)),
         "max_num_steps", r"max_num_steps=10 exceeded: the fixed grid needs"),
        (nan_late, dict(method="rk4", options=dict(n_steps=5)), "non_finite",
         r"non-finite state or derivative between t=1\.25 and t=1\.5"),
    ]  # fmt: skip
    for func, kw, reason, message in cases:
        returned = SolverStats()
        odeint(func, Y0, T, adjoint=False, on_failure="return", stats=returned, **kw)
        stats = SolverStats()
        with pytest.raises(ODESolverError, match=message) as caught:
            odeint(func, Y0, T, adjoint=False, stats=stats, **kw)
        error = caught.value
        assert error.reason == reason and stats.status == reason
        assert error.dt is not None and math.isfinite(error.dt)
        # The raised error and the returned result agree on where the solve got to (the fixed
        # grid's raised error, which watches no grid point, names its last finite output).
        assert error.t == stats.t_reached
        if kw.get("method") != "rk4" or reason == "max_num_steps":
            assert error.t == returned.t_reached
        copy = pickle.loads(pickle.dumps(error))
        assert (str(copy), copy.reason, copy.t, copy.dt) == (str(error), reason, error.t, error.dt)


def test_ode_block_returns_nan_and_says_why() -> None:
    block = ODEBlock(nan_late, t=(0.0, 2.0), on_failure="return", adjoint=False)
    out = block(Y0)
    assert torch.isnan(out).all()
    assert block.stats.status == "non_finite"
    assert block.stats.t_reached < NAN_AFTER + 1e-9


class Field(nn.Module):
    """A linear field that turns NaN past NAN_AFTER."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2).to(F64)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([[-0.5, 1.0], [-1.0, -0.3]]))
            self.lin.bias.copy_(torch.tensor([0.1, -0.2]))

    def forward(self, t, y):
        return torch.where(t > NAN_AFTER, torch.full_like(y, math.nan), self.lin(y))


def _gradients(times, n_loss, adjoint, method, options):
    """Gradients of a loss on the first n_loss outputs, for y0, t and the parameters."""
    torch.manual_seed(0)
    func = Field()
    y0 = Y0.clone().requires_grad_(True)
    t = times.clone().requires_grad_(True)
    stats = SolverStats()
    tol = dict(rtol=1e-10, atol=1e-10) if options is None else {}
    ys = odeint(func, y0, t, method=method, options=options, adjoint=adjoint,
                on_failure="return", stats=stats, **tol)  # fmt: skip
    weights = torch.linspace(1.0, 2.0, n_loss, dtype=F64)[:, None]
    # The NaN outputs enter the loss too, so NaN gradients arrive at them: ignored.
    loss = (ys[:n_loss] ** 2 * weights).sum() + 0 * (ys[n_loss:] ** 2).sum()
    loss.backward()
    return ys.detach(), [y0.grad, t.grad, *(p.grad for p in func.parameters())], stats


@pytest.mark.parametrize("adjoint", [False, True], ids=["direct", "adjoint"])
@pytest.mark.parametrize("method,options", [("dopri5", None), ("rk4", dict(n_steps=5))])
def test_gradients_of_reached_outputs(adjoint, method, options) -> None:
    k = 6  # the outputs up to t = 1.25 are reached
    ys, grads, stats = _gradients(T, k, adjoint, method, options)
    assert stats.status == "non_finite" and reached_count(ys) == k
    _, short, short_stats = _gradients(T[:k], k, adjoint, method, options)
    assert short_stats.status == "success"
    assert torch.all(grads[1][k:] == 0)  # a NaN output is a constant
    grads[1] = grads[1][:k]
    # The fixed grid walks the same grid either way; adaptive steps differ near the end.
    tol = dict(rtol=0, atol=0) if method == "rk4" and not adjoint else dict(rtol=1e-6, atol=1e-8)
    for got, want in zip(grads, short):
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, want, **tol)
    if adjoint:
        assert stats.nfe_backward > 0


def test_r_bridge_passes_on_failure_and_reports_the_status() -> None:
    from pyode.interop import rpackage

    times = [0.0, 0.3, 0.6, 0.9, 1.2]
    result = rpackage.solve(lambda t, y: [v * v for v in y], [1.0], times, on_failure="return")
    assert result["ok"] and result["status"] == "step_underflow"
    assert abs(result["t_reached"] - 1.0) < 1e-3
    assert math.isnan(result["states"][-1][0]) and math.isfinite(result["states"][-2][0])
    raised = rpackage.solve(lambda t, y: [v * v for v in y], [1.0], times)
    assert not raised["ok"] and raised["error"] == "ODESolverError"

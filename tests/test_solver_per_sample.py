"""odeint(..., per_sample=True): every row as if solved alone, its adjoint, its partial results."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from pyode import ODESolverError, odeint
from pyode.solver import SolverStats
from pyode.solver.controller import StepSizeController
from pyode.solver.per_sample_control import next_steps

F64 = torch.float64
TOL = {"rtol": 1e-7, "atol": 1e-7}


class VanDerPol(nn.Module):
    """One mu per row: the rows need very different steps. Records the t it is called with."""

    def __init__(self, mu: Tensor) -> None:
        super().__init__()
        self.register_buffer("mu", mu)
        self.seen: list[Tensor] = []

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        self.seen.append(t)
        x, v = y[..., 0], y[..., 1]
        return torch.stack([v, self.mu * (1 - x * x) * v - x], -1)


class Field(nn.Module):
    """A small MLP field with parameters and an explicit time dependence (t of shape (batch,)
    or 0-d: reshape(-1, 1) broadcasts both against the rows)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.l1, self.l2 = nn.Linear(2, 16), nn.Linear(16, 2)

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        return self.l2(torch.tanh(self.l1(y))) * (1 + 0.1 * t.reshape(-1, 1))


MU = torch.tensor([0.1, 1.0, 3.0, 6.0, 10.0], dtype=F64)
Y0 = torch.tensor([2.0, 0.0], dtype=F64).expand(len(MU), 2).contiguous()
T = torch.linspace(0.0, 6.0, 5, dtype=F64)


def _solo(mu: Tensor, y0: Tensor, t: Tensor, **kw) -> tuple[Tensor, SolverStats]:
    stats = SolverStats()
    ys = odeint(VanDerPol(mu), y0, t, adjoint=False, stats=stats, **kw)
    return ys, stats


@pytest.mark.parametrize("method", ["dopri5", "tsit5", "bosh3"])
def test_rows_take_the_steps_of_solo_solves(method: str) -> None:
    stats = SolverStats()
    func = VanDerPol(MU)
    ys = odeint(func, Y0, T, method=method, adjoint=False, per_sample=True, stats=stats, **TOL)
    assert ys.shape == (len(T), len(MU), 2)
    for i in range(len(MU)):
        solo, solo_stats = _solo(MU[i : i + 1], Y0[i : i + 1], T, method=method, **TOL)
        torch.testing.assert_close(ys[:, i], solo[:, 0], rtol=0, atol=1e-10)
        assert stats.n_accepted_per_sample[i] == solo_stats.n_accepted
        assert stats.n_rejected_per_sample[i] == solo_stats.n_rejected
        assert stats.nfe_per_sample[i] == solo_stats.nfe_forward
    assert len(set(stats.n_accepted_per_sample)) == len(MU)  # the rows differ
    assert stats.n_accepted == sum(stats.n_accepted_per_sample)
    # func is called on the whole batch every time (finished rows are masked), t per row
    assert stats.nfe_forward == len(func.seen) == max(stats.nfe_per_sample)
    assert all(t.shape == (len(MU),) and t.dtype == F64 for t in func.seen)
    assert stats.status_per_sample == ["success"] * len(MU)
    assert stats.t_reached_per_sample == [6.0] * len(MU)
    assert (stats.status, stats.t_reached) == ("success", 6.0)


@pytest.mark.parametrize("method", ["dopri8", "adaptive_heun"])
def test_other_adaptive_methods_count_the_solo_steps(method: str) -> None:
    """The same counts (values agree to rounding, amplified by these methods' step-size
    sequences; fehlberg2, rejecting almost every other step on these rows, can flip a decision
    whose error ratio is 1 to rounding, so it is left out)."""
    stats = SolverStats()
    t = T[:3]
    odeint(VanDerPol(MU), Y0, t, method=method, adjoint=False, per_sample=True, stats=stats,
           rtol=1e-5, atol=1e-5)  # fmt: skip
    for i in range(len(MU)):
        _, solo = _solo(MU[i : i + 1], Y0[i : i + 1], t, method=method, rtol=1e-5, atol=1e-5)
        assert (stats.n_accepted_per_sample[i], stats.n_rejected_per_sample[i]) == (
            solo.n_accepted, solo.n_rejected)  # fmt: skip


@pytest.mark.parametrize(
    "options",
    [{"first_step": 0.05, "max_step": 0.2}, {"min_step": 1e-3, "beta": 0.04},
     {"safety": 0.8, "ifactor": 5.0, "dfactor": 0.3}],
)  # fmt: skip
def test_step_size_options_apply_to_every_row(options: dict) -> None:
    stats = SolverStats()
    t = T[:3]
    ys = odeint(VanDerPol(MU), Y0, t, adjoint=False, per_sample=True, stats=stats,
                options=options, **TOL)  # fmt: skip
    for i in range(len(MU)):
        solo, solo_stats = _solo(MU[i : i + 1], Y0[i : i + 1], t, options=options, **TOL)
        torch.testing.assert_close(ys[:, i], solo[:, 0], rtol=0, atol=1e-10)
        assert (stats.n_accepted_per_sample[i], stats.n_rejected_per_sample[i]) == (
            solo_stats.n_accepted, solo_stats.n_rejected)  # fmt: skip


def test_per_row_times_and_tolerances() -> None:
    """t of shape (batch, n): each row its own output times, one of them backwards in time;
    a per-element rtol of y0's shape gives each row its own tolerance."""
    times = torch.stack([T * (1 + 0.2 * i) for i in range(len(MU))])
    times[2] = -times[2]
    rtol = torch.tensor([1e-6, 1e-7, 1e-8, 1e-7, 1e-6], dtype=F64)[:, None].expand(-1, 2)
    stats = SolverStats()
    ys = odeint(VanDerPol(MU), Y0, times, adjoint=False, per_sample=True, stats=stats,
                rtol=rtol, atol=1e-7)  # fmt: skip
    for i in range(len(MU)):
        solo, solo_stats = _solo(MU[i : i + 1], Y0[i : i + 1], times[i], rtol=rtol[i : i + 1],
                                 atol=1e-7)  # fmt: skip
        torch.testing.assert_close(ys[:, i], solo[:, 0], rtol=0, atol=1e-10)
        assert stats.n_accepted_per_sample[i] == solo_stats.n_accepted
    assert stats.t_reached_per_sample == times[:, -1].tolist()


def test_vectorised_controller_is_the_scalar_one() -> None:
    rng = np.random.default_rng(0)
    ratio = np.concatenate([rng.uniform(0, 3, 200), [0.0, 1.0, math.inf, math.nan, 1e-12]])
    h = rng.uniform(1e-3, 1.0, len(ratio))
    accepted = ratio <= 1.0
    for beta in (0.0, 0.04):
        prev = np.full(len(ratio), 1e-4)
        got = next_steps(StepSizeController(4, beta=beta), h, ratio, accepted, prev)
        for i in range(len(ratio)):
            scalar = StepSizeController(4, beta=beta)
            want = scalar.next_step(h[i], ratio[i], bool(accepted[i]))
            assert got[i] == pytest.approx(want, rel=1e-14)
            if beta and accepted[i]:
                assert prev[i] == scalar._prev_ratio


def test_vectorised_initial_step_is_the_scalar_one() -> None:
    from pyode.solver.dynamics import CountedDynamics
    from pyode.solver.initial_step import initial_step
    from pyode.solver.norms import RMS_NORM
    from pyode.solver.per_sample_control import initial_steps

    func = VanDerPol(MU)
    y0 = torch.tensor([[2.0, 0.0], [0.0, 0.0], [0.5, -3.0], [-1.0, 2.0], [3.0, 1.0]], dtype=F64)
    t0 = np.zeros(len(MU))
    with torch.no_grad():
        got = initial_steps(func, t0, y0, func(torch.zeros(len(MU), dtype=F64), y0),
                            np.ones(len(MU)), 5, 1e-6, 1e-7)  # fmt: skip
        for i in range(len(MU)):
            row = VanDerPol(MU[i : i + 1])
            y = y0[i : i + 1]
            solo = CountedDynamics(row, y)  # func as the scalar loop calls it
            want = initial_step(solo, 0.0, y, solo(0.0, y), 1.0, 5, 1e-6, 1e-7, RMS_NORM)
            assert got[i] == pytest.approx(want, rel=1e-12)


Y0_FIELD = torch.tensor([[0.3, -0.2], [1.0, 0.5], [-2.0, 1.5], [3.0, -3.0]], dtype=F64)
T_FIELD = torch.linspace(0.0, 2.0, 4, dtype=F64)
# The loss sum(ys * W): row i solved alone has the loss sum(ys_i * W[:, i]), so the batch's
# gradients are the solo gradients (y0, t per row) and their sum (parameters, shared t).
W = torch.linspace(-1.0, 2.0, 4 * 4 * 2, dtype=F64).view(4, 4, 2)


def _gradients(adjoint: bool, per_sample: bool, rows: slice = slice(None),
               t: Tensor = T_FIELD, stats: SolverStats | None = None, t_grad: bool = True,
               **kw) -> tuple[Tensor, list[Tensor], Tensor | None]:  # fmt: skip
    func = Field().double()
    y0 = Y0_FIELD[rows].clone().requires_grad_(True)
    t = t.clone().requires_grad_(t_grad)
    ys = odeint(func, y0, t, adjoint=adjoint, per_sample=per_sample, stats=stats, rtol=1e-8,
                atol=1e-8, **kw)  # fmt: skip
    (ys * W[:, rows]).sum().backward()
    return y0.grad, [p.grad for p in func.parameters()], t.grad


def _solo_rows(adjoint: bool, times: Tensor | None = None, **kw) -> list[tuple]:
    """(y0 grad, parameter grads, t grad, stats) of each row solved alone."""
    out = []
    for i in range(len(Y0_FIELD)):
        stats = SolverStats()
        t = T_FIELD if times is None else times[i]
        out.append((*_gradients(adjoint, False, slice(i, i + 1), t, stats, **kw), stats))
    return out


def test_adjoint_gradients_are_the_sum_of_solo_adjoints() -> None:
    """The per-sample adjoint (one parameter accumulator, one vjp per step) gives each row's
    adjoint solve exactly: y0 and t gradients per row, parameter gradients summed, and the
    same backward steps per row as the solo adjoint with the seminorm."""
    stats = SolverStats()
    gy, gp, gt = _gradients(True, True, stats=stats)
    solo = _solo_rows(True, adjoint_norm="seminorm")
    torch.testing.assert_close(gy, torch.cat([s[0] for s in solo]), rtol=0, atol=1e-12)
    for k, g in enumerate(gp):
        torch.testing.assert_close(g, sum(s[1][k] for s in solo), rtol=0, atol=1e-12)
    torch.testing.assert_close(gt, sum(s[2] for s in solo), rtol=0, atol=1e-12)
    assert stats.n_accepted_backward_per_sample == [s[3].n_accepted_backward for s in solo]
    assert stats.n_rejected_backward_per_sample == [s[3].n_rejected_backward for s in solo]
    assert stats.nfe_backward_per_sample == [s[3].nfe_backward for s in solo]
    assert stats.n_accepted_backward == sum(stats.n_accepted_backward_per_sample) > 0
    # batched calls: at least each row's; a row restarting at an inner output time needs a
    # fresh evaluation of its own, which the other rows sit out
    assert stats.nfe_backward >= max(stats.nfe_backward_per_sample)


def test_adjoint_time_gradients_per_row() -> None:
    times = torch.stack([T_FIELD * (1 + 0.3 * i) for i in range(len(Y0_FIELD))])
    gy, _, gt = _gradients(True, True, t=times)
    solo = _solo_rows(True, times, adjoint_norm="seminorm")
    assert gt.shape == times.shape
    torch.testing.assert_close(gt, torch.stack([s[2] for s in solo]), rtol=0, atol=1e-12)
    torch.testing.assert_close(gy, torch.cat([s[0] for s in solo]), rtol=0, atol=1e-12)


def test_direct_backpropagation_per_sample() -> None:
    gy, gp, _ = _gradients(False, True, t_grad=False)
    solo = _solo_rows(False, t_grad=False)
    torch.testing.assert_close(gy, torch.cat([s[0] for s in solo]), rtol=0, atol=1e-10)
    for k, g in enumerate(gp):
        torch.testing.assert_close(g, sum(s[1][k] for s in solo), rtol=0, atol=1e-10)
    # the adjoint agrees with backpropagation to the solver's accuracy
    gy_adj, gp_adj, _ = _gradients(True, True, t_grad=False)
    torch.testing.assert_close(gy_adj, gy, rtol=1e-5, atol=1e-6)
    for a, b in zip(gp_adj, gp):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _blow_up(t: Tensor, y: Tensor) -> Tensor:
    return y * y  # y(t) = y0 / (1 - y0 t): singular at t = 1 / y0


Y0_BLOW = torch.tensor([[0.2], [0.5], [2.0]], dtype=F64)
T_BLOW = torch.linspace(0.0, 1.0, 5, dtype=F64)


def test_partial_results_per_row() -> None:
    """The row that meets its singularity at t = 0.5 stops there; the others go on."""
    stats = SolverStats()
    ys = odeint(_blow_up, Y0_BLOW, T_BLOW, per_sample=True, on_failure="return", adjoint=False,
                stats=stats, rtol=1e-8, atol=1e-8)  # fmt: skip
    exact = Y0_BLOW[:2, 0] / (1 - Y0_BLOW[:2, 0] * T_BLOW[:, None])
    torch.testing.assert_close(ys[:, :2, 0], exact, rtol=1e-6, atol=0)
    assert stats.status_per_sample == ["success", "success", "step_underflow"]
    assert stats.t_reached_per_sample[:2] == [1.0, 1.0]
    assert 0.5 <= stats.t_reached_per_sample[2] < 0.51
    assert torch.isfinite(ys[:3, 2]).all() and torch.isnan(ys[3:, 2]).all()
    torch.testing.assert_close(ys[1, 2, 0], torch.tensor(4.0, dtype=F64), rtol=1e-6, atol=0)
    # the solve's own status is its first failing row's
    assert (stats.status, stats.t_reached) == ("step_underflow", stats.t_reached_per_sample[2])


def test_a_failing_row_raises_naming_it() -> None:
    stats = SolverStats()
    with pytest.raises(ODESolverError, match=r"row 2: step size underflow at t=0\.5.*dt=") as err:
        odeint(_blow_up, Y0_BLOW, T_BLOW, per_sample=True, adjoint=False, rtol=1e-8, atol=1e-8,
               stats=stats)  # fmt: skip
    assert err.value.reason == "step_underflow"
    assert err.value.t == pytest.approx(0.5, abs=1e-6) and 0 < err.value.dt < 1e-12
    # the stats are filled in before the error is raised (the easy rows had finished)
    assert stats.status_per_sample == ["success", "success", "step_underflow"]
    assert stats.status == "step_underflow" and stats.t_reached == err.value.t


def test_max_num_steps_per_row() -> None:
    stats = SolverStats()
    ys = odeint(_blow_up, Y0_BLOW, T_BLOW, per_sample=True, on_failure="return", adjoint=False,
                stats=stats, rtol=1e-8, atol=1e-8, options={"max_num_steps": 25})  # fmt: skip
    assert stats.status_per_sample == ["success", "success", "max_num_steps"]
    assert stats.n_accepted_per_sample[2] + stats.n_rejected_per_sample[2] == 25
    assert 0.25 < stats.t_reached_per_sample[2] < 0.5
    assert torch.isfinite(ys[:, :2]).all()
    assert torch.isfinite(ys[:2, 2]).all() and torch.isnan(ys[2:, 2]).all()
    with pytest.raises(ODESolverError, match=r"row 2: max_num_steps=25 exceeded at t=.*dt="):
        odeint(_blow_up, Y0_BLOW, T_BLOW, per_sample=True, adjoint=False, rtol=1e-8, atol=1e-8,
               options={"max_num_steps": 25})  # fmt: skip


def test_adjoint_after_a_returned_failure_per_row() -> None:
    """A row that failed starts its backward solve at the last output it reached, as the joint
    adjoint does with on_failure="return"; the other rows are unaffected."""
    options = {"max_num_steps": 6}
    backward = {"adjoint_options": {"max_num_steps": 1000}, "adjoint_norm": "seminorm"}

    def gradients(rows: slice, stats: SolverStats, **kw) -> tuple[Tensor, Tensor]:
        func = Field().double()
        y0 = (3 * Y0_FIELD[rows]).clone().requires_grad_(True)
        t = T_FIELD.clone().requires_grad_(True)
        ys = odeint(func, y0, t, on_failure="return", options=options, stats=stats, rtol=1e-8,
                    atol=1e-8, **kw)  # fmt: skip
        torch.nansum(ys * W[:, rows]).backward()
        return y0.grad, t.grad, func.l1.weight.grad

    stats = SolverStats()
    gy, gt, gw = gradients(slice(None), stats, per_sample=True, **backward)
    assert "max_num_steps" in stats.status_per_sample and "success" in stats.status_per_sample
    solo = []
    for i in range(len(Y0_FIELD)):
        solo_stats = SolverStats()
        solo.append(gradients(slice(i, i + 1), solo_stats, **backward))
        assert solo_stats.status == stats.status_per_sample[i]
        assert solo_stats.n_accepted_backward == stats.n_accepted_backward_per_sample[i]
    torch.testing.assert_close(gy, torch.cat([s[0] for s in solo]), rtol=0, atol=1e-11)
    torch.testing.assert_close(gt, sum(s[1] for s in solo), rtol=0, atol=1e-11)
    torch.testing.assert_close(gw, sum(s[2] for s in solo), rtol=0, atol=1e-11)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y0": torch.tensor(1.0, dtype=F64)}, "per_sample.*y0"),
        ({"t": torch.zeros(3, 4, dtype=F64)}, "^t has shape"),
        ({"method": "rk4"}, "per_sample.*rk4"),
        ({"method": "kvaerno5"}, "per_sample.*explicit.*kvaerno5"),
        ({"y0": (Y0, Y0)}, "per_sample.*one tensor"),
        ({"on_failure": "ignore"}, "on_failure"),
        ({"options": {"norm": lambda e: e.abs().max()}}, "'norm'"),
        ({"adjoint": True, "adjoint_norm": lambda x: x[1].abs().max()}, "adjoint_norm"),
        ({"options": {"jump_t": [1.0]}}, "jump_t"),
    ],
)
def test_bad_input(kwargs: dict, match: str) -> None:
    args = {"y0": Y0, "t": T, "per_sample": True, "adjoint": False, **kwargs}
    func = VanDerPol(MU)
    with pytest.raises(ValueError, match=match):
        odeint(func, args.pop("y0"), args.pop("t"), **args)


def test_direct_time_gradients_per_row() -> None:
    """adjoint=False: dL/dt as the solo direct path gives it, shared (summed) and per row."""
    stats = SolverStats()
    _, _, gt = _gradients(False, True, stats=stats)
    solo = _solo_rows(False)
    torch.testing.assert_close(gt, sum(s[2] for s in solo), rtol=0, atol=1e-10)
    assert stats.nfe_per_sample == [s[3].nfe_forward for s in solo]
    times = torch.stack([T_FIELD * (1 + 0.3 * i) for i in range(len(Y0_FIELD))])
    _, _, gt = _gradients(False, True, t=times)
    solo = _solo_rows(False, times)
    torch.testing.assert_close(gt, torch.stack([s[2] for s in solo]), rtol=0, atol=1e-10)


def _breaks_at_half(t: Tensor, y: Tensor) -> Tensor:
    """Row 1's field turns NaN from t = 0.5 on; the other rows decay."""
    bad = (t >= 0.5) & (torch.arange(len(y)) == 1)
    return torch.where(bad[:, None], torch.full_like(y, math.nan), -y)


def test_non_finite_rows_stop_where_they_broke() -> None:
    y0 = torch.ones(3, 2, dtype=F64)
    stats = SolverStats()
    ys = odeint(_breaks_at_half, y0, T_BLOW, per_sample=True, on_failure="return",
                adjoint=False, stats=stats, rtol=1e-8, atol=1e-8)  # fmt: skip
    assert stats.status_per_sample == ["success", "non_finite", "success"]
    assert 0.49 < stats.t_reached_per_sample[1] <= 0.5
    expected = torch.exp(-T_BLOW)[:, None].expand(-1, 2)
    for row in (0, 2):
        torch.testing.assert_close(ys[:, row], expected, rtol=1e-6, atol=0)
    torch.testing.assert_close(ys[:2, 1], expected[:2], rtol=1e-6, atol=0)
    assert torch.isnan(ys[2:, 1]).all()
    with pytest.raises(ODESolverError, match="row 1: non-finite"):
        odeint(_breaks_at_half, y0, T_BLOW, per_sample=True, adjoint=False)
    # a non-finite start fails at once
    y0[2, 0] = math.inf
    odeint(_breaks_at_half, y0, T_BLOW, per_sample=True, on_failure="return", adjoint=False,
           stats=stats)  # fmt: skip
    assert stats.status_per_sample[2] == "non_finite" and stats.t_reached_per_sample[2] == 0.0


def test_ode_block_per_sample() -> None:
    from pyode import ODEBlock

    func = Field().double()
    block = ODEBlock(func, t=(0.0, 2.0), per_sample=True, rtol=1e-8, atol=1e-8)
    y0 = Y0_FIELD.clone().requires_grad_(True)
    out = block(y0)
    want = odeint(func, Y0_FIELD, torch.tensor([0.0, 2.0], dtype=F64), per_sample=True,
                  rtol=1e-8, atol=1e-8)[-1]  # fmt: skip
    torch.testing.assert_close(out, want, rtol=0, atol=0)
    assert len(set(block.stats.n_accepted_per_sample)) > 1
    out.sum().backward()
    assert y0.grad is not None and block.stats.n_accepted_backward_per_sample
    with pytest.raises(ValueError, match=r"per_sample=True needs an adaptive explicit.*'rk4'"):
        ODEBlock(func, per_sample=True, method="rk4")

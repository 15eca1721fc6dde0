"""torchdiffeq features pyode's solver offers itself: scalar states, the time handed to func and
the `dtype` option, step callbacks, event functions with parameters, custom norms and
per-element / per-component tolerances."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from pyode.compat import torchdiffeq as compat
from pyode.solver import SolverStats, odeint, odeint_event

F64 = torch.float64
T01 = torch.tensor([0.0, 1.0], dtype=F64)


class Decay(nn.Module):
    """y' = -k y, so y(t) = y0 exp(-k t)."""

    def __init__(self, k: float = 0.8, dtype: torch.dtype = F64) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.tensor(k, dtype=dtype))

    def forward(self, t, y):
        return -self.k * y


# --- scalar (0-dim) states ------------------------------------------------------------------


@pytest.mark.parametrize("adjoint", [False, True])
def test_scalar_state_forward_and_gradients(adjoint: bool) -> None:
    func = Decay()
    y0 = torch.tensor(2.0, dtype=F64, requires_grad=True)
    ys = odeint(func, y0, T01, rtol=1e-9, atol=1e-9, adjoint=adjoint)
    assert ys.shape == (2,)
    e = math.exp(-0.8)
    assert abs(ys[-1].item() - 2 * e) < 1e-7
    g_y0, g_k = torch.autograd.grad(ys[-1], (y0, func.k))
    assert abs(float(g_y0) - e) < 1e-6
    assert abs(float(g_k) + 2 * e) < 1e-6  # d/dk 2 exp(-k) = -2 exp(-k)


def test_scalar_components_of_a_tuple_state_under_the_adjoint() -> None:
    func = Decay()
    a0 = torch.tensor(1.0, dtype=F64, requires_grad=True)
    b0 = torch.ones(2, 2, dtype=F64, requires_grad=True)

    def pair(t, state):
        a, b = state
        return func(t, a), -b

    a, b = odeint(pair, (a0, b0), T01, rtol=[1e-9, 1e-6], atol=[1e-9, 1e-6],
                  adjoint_params=tuple(func.parameters()))  # fmt: skip
    assert a.shape == (2,) and b.shape == (2, 2, 2)
    g_a0, g_k = torch.autograd.grad(a[-1] + b[-1].sum(), (a0, func.k))
    assert abs(float(g_a0) - math.exp(-0.8)) < 1e-6
    assert abs(float(g_k) + math.exp(-0.8)) < 1e-6


def test_event_with_a_scalar_state() -> None:
    y0 = torch.tensor(1.0, dtype=F64, requires_grad=True)
    t_hit, sol = odeint_event(lambda t, y: -y, y0, torch.tensor(0.0, dtype=F64),
                              event_fn=lambda t, y: y - 0.5, adjoint_params=(), rtol=1e-9,
                              atol=1e-9)  # fmt: skip
    assert abs(t_hit.item() - math.log(2)) < 1e-7
    assert sol.shape == (2,)
    (g,) = torch.autograd.grad(t_hit, y0)  # t* = log(2 y0): dt*/dy0 = 1 / y0
    assert abs(float(g) - 1.0) < 1e-6


# --- the time handed to func, and the `dtype` option ----------------------------------------


class Ramp(nn.Module):
    """a * t + y: with a float32 parameter, float64 times must not leak into the result."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.5))
        self.seen: set[torch.dtype] = set()

    def forward(self, t, y):
        self.seen.add(t.dtype)
        return self.a * t + y


@pytest.mark.parametrize("adjoint", [False, True])
def test_func_gets_t_in_the_state_dtype_with_float64_times_that_want_grad(adjoint: bool) -> None:
    func = Ramp()
    y0 = torch.ones(3, requires_grad=True)
    t = torch.linspace(0, 1, 4, dtype=F64, requires_grad=True)
    ys = odeint(func, y0, t, adjoint=adjoint)
    assert ys.dtype == torch.float32 and func.seen == {torch.float32}
    g_t, g_a = torch.autograd.grad(ys[-1].sum(), (t, func.a))
    assert g_t.dtype == F64 and g_a.dtype == torch.float32
    # dL/dt_end = sum f(t_end, y_end), the speed of the output at its time.
    assert abs(float(g_t[-1]) - float(func(t[-1].float(), ys[-1]).sum())) < 1e-3


def test_dtype_option_sets_the_clock_precision() -> None:
    t = torch.tensor([0.0, 0.1, 1.0], dtype=F64)
    func = lambda t, y: -y  # noqa: E731
    y64 = odeint(func, torch.ones(1, dtype=F64), t, rtol=1e-10, atol=1e-10)
    y32 = odeint(func, torch.ones(1, dtype=F64), t, rtol=1e-10, atol=1e-10,
                 options=dict(dtype=torch.float32))  # fmt: skip
    # The float32 clock ends the first interval at float32(0.1), not 0.1.
    t32 = float(torch.tensor(0.1, dtype=torch.float32))
    assert abs(float(y32[1]) - math.exp(-t32)) < 1e-9
    assert abs(float(y64[1]) - math.exp(-0.1)) < 1e-9 and t32 != 0.1
    with pytest.raises(ValueError, match="'dtype'"):
        odeint(func, torch.ones(1), t, options=dict(dtype=torch.float16))
    with pytest.raises(ValueError, match="coincide"):
        odeint(func, torch.ones(1), torch.tensor([1.0, 1.0 + 1e-9], dtype=F64),
               options=dict(dtype=torch.float32))  # fmt: skip


def test_a_jump_in_f_is_crossed_by_steps_finer_than_the_state_precision() -> None:
    # float32 state, f jumps at t = 0.5: the step across the jump must shrink below float32's
    # resolution of the state, which the float64 clock allows (torchdiffeq does the same).
    def jump(t, x):
        return -0.5 * x if t < 0.5 else x**2

    x0 = torch.tensor([1.0, 2.0], requires_grad=True)
    xs = odeint(jump, x0, T01, rtol=1e-7, atol=1e-6, method="adaptive_heun", adjoint_params=())
    xs.sum().backward()
    assert torch.isfinite(x0.grad).all()


# --- step callbacks -------------------------------------------------------------------------


class Counted(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2).double()
        self.calls: dict[str, list] = {}

    def forward(self, t, y):
        return torch.tanh(self.lin(y)) * torch.sin(20 * t)


def _record(func: Counted, *names: str) -> None:
    for name in names:
        func.calls[name] = []
        setattr(func, name, lambda t0, y0, dt, _n=name: func.calls[_n].append((t0, y0, dt)))


def test_step_callbacks_forward_and_backward_match_the_step_counts() -> None:
    func = Counted()
    names = ["callback_step", "callback_accept_step", "callback_reject_step"]
    _record(func, *names, *(f"{n}_adjoint" for n in names))
    stats = SolverStats()
    y0 = torch.ones(2, dtype=F64, requires_grad=True)
    ys = odeint(func, y0, T01, rtol=1e-6, atol=1e-6, stats=stats)
    c = {k: len(v) for k, v in func.calls.items()}
    assert c["callback_accept_step"] == stats.n_accepted > 0
    assert c["callback_reject_step"] == stats.n_rejected > 0
    assert c["callback_step"] == stats.n_accepted + stats.n_rejected
    assert c["callback_step_adjoint"] == 0
    t0, state, dt = func.calls["callback_step"][0]
    assert float(t0) == 0.0 and state.shape == (2,) and t0.dtype == dt.dtype == F64
    ys.sum().backward()
    c = {k: len(v) for k, v in func.calls.items()}
    assert c["callback_step_adjoint"] == stats.n_accepted_backward + stats.n_rejected_backward
    assert c["callback_accept_step_adjoint"] == stats.n_accepted_backward > 0
    t0, aug, dt = func.calls["callback_step_adjoint"][0]
    assert float(t0) == 1.0 and float(dt) < 0  # the backward solve runs from t_N down
    t_grad, y, adj_y, *adj_params = aug
    assert t_grad.shape == ()  # torchdiffeq's augmented state
    assert y.shape == adj_y.shape == (2,) and [p.shape for p in adj_params] == [
        p.shape for p in func.parameters()
    ]


def test_callbacks_see_a_tuple_state_as_a_tuple() -> None:
    seen = []

    def pair(t, s):
        return -s[0], -s[1]

    pair.callback_step = lambda t0, y0, dt: seen.append(y0)
    odeint(pair, (torch.ones(()), torch.ones(3)), torch.tensor([0.0, 1.0]))
    assert seen and isinstance(seen[0], tuple) and seen[0][1].shape == (3,)


def test_unsupported_and_misspelt_callbacks_warn() -> None:
    def func(t, y):
        return -y

    func.callback_accept_step = lambda t0, y0, dt: None
    with pytest.warns(UserWarning, match="does not support callbacks"):
        odeint(func, torch.ones(1), torch.tensor([0.0, 1.0]), method="rk4")
    del func.callback_accept_step
    func.callback_stepp = lambda t0, y0, dt: None
    with pytest.warns(UserWarning, match="callback_stepp"):
        odeint(func, torch.ones(1), torch.tensor([0.0, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        odeint(lambda t, y: -y, torch.ones(1), torch.tensor([0.0, 1.0]))


# --- event functions with parameters --------------------------------------------------------


class Threshold(nn.Module):
    """g(t, y) = y - h: a learnable height where the event happens."""

    def __init__(self, h: float) -> None:
        super().__init__()
        self.h = nn.Parameter(torch.tensor(h, dtype=F64))

    def forward(self, t, y):
        return y.sum() - self.h


@pytest.mark.parametrize("adjoint", [False, True])
def test_event_function_parameters_get_the_event_time_gradient(adjoint: bool) -> None:
    # y' = -y from 1: the event y = h happens at t* = -log h, so dt*/dh = -1/h.
    event = Threshold(0.5)
    t_hit, _ = odeint_event(lambda t, y: -y, torch.ones(1, dtype=F64),
                            torch.tensor(0.0, dtype=F64), event_fn=event, adjoint=adjoint,
                            adjoint_params=(), rtol=1e-9, atol=1e-9)  # fmt: skip
    assert abs(t_hit.item() - math.log(2)) < 1e-7
    (g,) = torch.autograd.grad(t_hit, event.h)
    assert abs(float(g) + 2.0) < 1e-5


# --- norms and tolerances -------------------------------------------------------------------


def test_custom_norm_is_called_on_the_users_view_and_controls_the_steps() -> None:
    views = []

    def max_norm(x):
        views.append(x)
        return x.abs().max()

    func = Counted()
    y0 = torch.ones(2, dtype=F64)
    loose, tight = SolverStats(), SolverStats()
    with torch.no_grad():
        odeint(func, y0, T01, options=dict(norm=max_norm), stats=loose)
        odeint(func, y0, T01, options=dict(norm=lambda x: 100 * x.abs().max()), stats=tight)
    assert views and views[0].shape == (2,)
    assert tight.n_accepted > loose.n_accepted

    views.clear()
    odeint(lambda t, s: (-s[0], -s[1]), (torch.ones(()), torch.ones(2, 2)), T01,
           options=dict(norm=lambda s: views.append(s) or s[1].abs().max()))  # fmt: skip
    assert isinstance(views[0], tuple) and views[0][0].shape == () and views[0][1].shape == (2, 2)
    with pytest.raises(ValueError, match="'norm'"):
        odeint(lambda t, y: -y, y0, T01, options=dict(norm="l2"))


def test_custom_adjoint_norm_sees_the_augmented_state() -> None:
    func = Decay()
    seen = []

    def adjoint_norm(state):
        seen.append(tuple(x.shape for x in state))
        return max(x.abs().max() for x in state)

    y0 = torch.ones((), dtype=F64, requires_grad=True)
    ys = odeint(func, y0, T01, rtol=1e-8, atol=1e-8, adjoint_options=dict(norm=adjoint_norm))
    ys[-1].backward()
    assert seen and seen[0] == ((), (), (), ())  # (t, y, adj_y, adj_k)
    assert abs(float(y0.grad) - math.exp(-0.8)) < 1e-5


def _steps(func, y0, t, **kw) -> tuple[int, object]:
    stats = SolverStats()
    ys = odeint(func, y0, t, stats=stats, **kw)
    return stats.n_accepted, ys


def test_per_element_tolerances() -> None:
    # Two decoupled oscillators: a loose tolerance on one cannot loosen the other.
    def two(t, y):
        return torch.stack([y[1], -y[0], y[3], -y[2]])

    y0 = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=F64)
    t = torch.tensor([0.0, 10.0], dtype=F64)
    mixed = torch.tensor([1e-10, 1e-10, 1e-2, 1e-2], dtype=F64)
    n_mixed, ys = _steps(two, y0, t, rtol=mixed, atol=mixed)
    n_loose, _ = _steps(two, y0, t, rtol=1e-2, atol=1e-2)
    assert abs(float(ys[-1, 0]) - math.cos(10.0)) < 1e-7
    assert n_mixed > 5 * n_loose
    # A tensor of equal tolerances is the number itself.
    same = torch.full((4,), 1e-6, dtype=F64)
    assert torch.equal(_steps(two, y0, t, rtol=same, atol=same)[1],
                       _steps(two, y0, t, rtol=1e-6, atol=1e-6)[1])  # fmt: skip
    with pytest.raises(ValueError, match="rtol has shape"):
        odeint(two, y0, t, rtol=torch.ones(3, dtype=F64))
    with pytest.raises(ValueError, match="rtol is a sequence"):
        odeint(two, y0, t, rtol=[1e-3, 1e-3])
    with pytest.raises(ValueError, match="atol"):
        odeint(two, y0, t, atol=-mixed)


def test_one_tolerance_per_tuple_component() -> None:
    def pair(t, s):
        return torch.stack([s[0][1], -s[0][0]]), torch.stack([s[1][1], -s[1][0]])

    y0 = (torch.tensor([1.0, 0.0], dtype=F64), torch.tensor([1.0, 0.0], dtype=F64))
    t = torch.tensor([0.0, 10.0], dtype=F64)
    n_mixed, (a, _) = _steps(pair, y0, t, rtol=[1e-10, 1e-2], atol=[1e-10, 1e-2])
    n_loose, _ = _steps(pair, y0, t, rtol=[1e-2, 1e-2], atol=[1e-2, 1e-2])
    assert abs(float(a[-1, 0]) - math.cos(10.0)) < 1e-7
    assert n_mixed > 5 * n_loose
    with pytest.raises(ValueError, match="one per component"):
        odeint(pair, y0, t, rtol=[1e-3])


# --- the compat layer passes these through --------------------------------------------------


def test_compat_passes_norm_dtype_and_callbacks_to_the_solver() -> None:
    func = Counted()
    _record(func, "callback_step")
    y0 = torch.ones(2, dtype=F64)
    ys = compat.odeint(func, y0, T01, options=dict(norm=lambda x: x.abs().max(),
                                                   dtype=torch.float32))  # fmt: skip
    assert ys.shape == (2, 2) and func.calls["callback_step"]

"""Adjoint sensitivity method (Chen et al. 2018, Algorithm 1) as a torch.autograd.Function.

Forward: solve without building a graph. Backward: integrate the augmented state
[z, a, dL/dtheta, dL/dt] from t_N down to t_0 one output interval at a time, adding the direct
gradient dL/dz(t_i) to the adjoint a at every output time. Memory is O(1) in the number of steps.
The augmented state is one flat vector, so each RK stage update is a single fused operation.

An implicit backward solve (a stiff problem: the backward solve uses the forward's method by
default) does not re-solve z backwards, which is unstable for a stiff problem; it reads z from
the forward's dense output (InterpolatedDynamics), at the price of memory O(steps).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor
from torch._utils import _flatten_dense_tensors as flatten_dense_tensors
from torch.autograd.function import once_differentiable

from pyode.solver.adaptive import Step
from pyode.solver.callbacks import find_callbacks
from pyode.solver.config import SolverConfig
from pyode.solver.controller import StepCarry
from pyode.solver.dynamics import CountedDynamics, check_output
from pyode.solver.initial_step import Norm
from pyode.solver.methods import METHOD_TABLE
from pyode.solver.norms import BlockRMSNorm, CallableNorm, Tolerance
from pyode.solver.partial import n_reached
from pyode.solver.stats import StepCounter
from pyode.solver.vjp import vjp


@dataclass
class AdjointProblem:
    """What the adjoint needs of the flattened problem (`flat`: odeint's FlatProblem)."""

    flat: Any
    times: list[float]
    forward_config: SolverConfig
    backward_config: SolverConfig
    params: tuple[Tensor, ...]
    counter: StepCounter  # the forward's (its stats also receive the backward's counts)
    carry: StepCarry = field(default_factory=StepCarry)  # the forward's last step size

    @property
    def func(self) -> Callable[[Tensor, Tensor], Tensor]:
        return self.flat.func


class AdjointNorm:
    """torchdiffeq's default adjoint norm on the augmented state (t, y, adj_y, *adj_params):
    max(|t|, state_norm(y), state_norm(adj_y), RMS of each adj_param unless `seminorm`).

    `state_norm` is the forward's norm on a flat state; None means the maximum of the
    components' RMS norms, which `blocks` then computes in one fused pass.
    """

    def __init__(
        self,
        seminorm: bool,
        components: Sequence[tuple[int, int]],
        state_norm: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        self.seminorm = seminorm
        self.components = list(components)
        self.state_norm = state_norm

    def _state(self, y: Tensor) -> Tensor:
        if self.state_norm is not None:
            return torch.as_tensor(self.state_norm(y), dtype=y.dtype, device=y.device).reshape(())
        flat = y.reshape(-1)
        return torch.stack([flat[a:b].square().mean() for a, b in self.components]).max().sqrt()

    def __call__(self, tensors: Sequence[Tensor]) -> Tensor:
        t, y, adj_y, *adj_params = tensors
        values = [t.abs().reshape(()), self._state(y), self._state(adj_y)]
        if not self.seminorm:
            values += [p.square().mean().sqrt() for p in adj_params if p.numel()]
        return torch.stack([v.to(y.dtype) for v in values]).max()

    def blocks(self, n: int, params: Sequence[Tensor], with_t: bool) -> BlockRMSNorm:
        """The same norm on the flat augmented state [z, a, params, t] (default state norm)."""
        blocks = [*self.components, *((a + n, b + n) for a, b in self.components)]
        offset = 2 * n
        for p in params:
            if not self.seminorm:
                blocks.append((offset, offset + p.numel()))
            offset += p.numel()
        if with_t:
            blocks.append((offset, offset + 1))
        return BlockRMSNorm(blocks)


class AugmentedDynamics:
    """d/dt [z, a, g_theta, g_t] = [f, -a df/dz, -a df/dtheta, -a df/dt] on a flat vector."""

    def __init__(self, problem: AdjointProblem, like: Tensor, with_t: bool) -> None:
        self.func = problem.func
        self.params = problem.params
        self.shape = like.shape
        self.n = like.numel()
        self.with_t = with_t
        self.dtype = like.dtype
        self.device = like.device
        self.sizes = (self.n, self.n, sum(p.numel() for p in self.params) + int(with_t))
        self.strides = torch.empty(like.shape, device="meta").stride()
        self.nfe = 0
        # Nothing depends on the parameter and time gradients (they are quadratures): the
        # implicit methods' Newton iterations solve for [z, a] only (newton.py).
        self.coupled = slice(0, 2 * self.n)

    def _z(self, t: float, z_flat: Tensor) -> Tensor:
        """The forward state at t: here the augmented state's own z, solved backwards."""
        return z_flat.view(self.shape)

    def _z_leaf(self, t: float, z: Tensor) -> Tensor:
        """The forward state at t as a leaf that requires grad, given aug's z block (a view
        of an augmented state that does not require grad)."""
        return z.requires_grad_(True)

    def _z_rate(self, fz: Tensor) -> Tensor:
        return fz

    def _blocks(self, aug: Tensor) -> tuple[Tensor, Tensor]:
        """The z and a blocks of the flat augmented state in the state's shape, one view each:
        for a small state, an evaluation's overhead is mostly per tensor it creates."""
        if aug.requires_grad or not aug.is_contiguous():
            aug = aug.detach().contiguous()
        at = aug.storage_offset()
        return (aug.as_strided(self.shape, self.strides, at),
                aug.as_strided(self.shape, self.strides, at + self.n))  # fmt: skip

    def __call__(self, t: float, aug: Tensor) -> Tensor:
        self.nfe += 1
        # Everything but f itself runs without grad mode: views and the cotangent then carry
        # no autograd bookkeeping (the vector-Jacobian product does not need grad mode).
        z, a = self._blocks(aug)
        z = self._z_leaf(t, z)
        t_in = torch.full((), t, dtype=self.dtype, device=self.device)
        inputs = (z, *self.params)
        if self.with_t:
            t_in.requires_grad_(True)
            inputs = (*inputs, t_in)
        with torch.enable_grad():
            fz = self.func(t_in, z)
        check_output(fz, self.shape, self.dtype)
        # A field with no graph (e.g. y' = cos t) depends on nothing: all its vjps are zero.
        vjps = vjp(fz, inputs, a.neg()) if fz.requires_grad else (None,) * len(inputs)
        return self._join(fz, vjps, inputs)

    def traced(self, t: float, aug: Tensor) -> Tensor:
        """The same derivative with a graph back to aug (for the implicit methods' Jacobian,
        which needs the derivative of the vector-Jacobian product itself)."""
        self.nfe += 1
        z_flat, a, _ = aug.split_with_sizes(self.sizes)
        z = self._z(t, z_flat)
        t_in = torch.full((), t, dtype=self.dtype, device=self.device)
        inputs = (z, *self.params)
        if self.with_t:
            inputs = (*inputs, t_in.requires_grad_(True))
        fz = self.func(t_in, z)
        check_output(fz, self.shape, self.dtype)
        vjps: tuple[Tensor | None, ...] = (None,) * len(inputs)
        if fz.requires_grad:
            vjps = torch.autograd.grad(fz, inputs, a.view(self.shape).neg(),
                                       create_graph=True, allow_unused=True)  # fmt: skip
        return self._join(fz, vjps, inputs)

    def _join(self, fz: Tensor, vjps: Sequence[Tensor | None], inputs: Sequence[Tensor]
              ) -> Tensor:  # fmt: skip
        """[z rate, vjps] as one flat vector (zeros for an input f does not depend on)."""
        if any(v is None for v in vjps):
            vjps = [torch.zeros_like(x) if v is None else v for v, x in zip(vjps, inputs)]
        return flatten_dense_tensors([self._z_rate(fz), *vjps])


@dataclass(frozen=True)
class GridStep:
    """One step of a fixed-grid forward solve, linear in between (its grid points are those
    the backward solve steps to, so its implicit stages land on them)."""

    t: float
    y: Tensor
    t_new: float
    y_new: Tensor

    def at(self, tableau: Any, tau: float) -> Tensor:
        return torch.lerp(self.y, self.y_new, (tau - self.t) / (self.t_new - self.t))


class Trajectory:
    """The forward solve's steps: its state anywhere in the solved span from their dense
    output (a stage beyond either end extrapolates the end step's polynomial)."""

    def __init__(self, steps: Sequence[Step | GridStep], tableau: Any) -> None:
        self.steps = sorted(steps, key=lambda s: min(s.t, s.t_new))
        self.lows = [min(s.t, s.t_new) for s in self.steps]
        self.tableau = tableau

    def __call__(self, t: float) -> Tensor:
        i = min(max(bisect.bisect_right(self.lows, t) - 1, 0), len(self.steps) - 1)
        return self.steps[i].at(self.tableau, t)


class InterpolatedDynamics(AugmentedDynamics):
    """The augmented dynamics with z(t) read from the forward solve's dense output instead of
    re-solved backwards, which a stiff problem forbids: backwards, its fast decaying modes grow
    like exp(|lambda| t) and amplify every error. The z block stays constant; the adjoint and
    the quadratures are as before, and Newton solves for the adjoint only."""

    def __init__(self, problem: AdjointProblem, like: Tensor, with_t: bool,
                 trajectory: Trajectory) -> None:  # fmt: skip
        super().__init__(problem, like, with_t)
        self.trajectory = trajectory
        self.coupled = slice(self.n, 2 * self.n)

    def _z(self, t: float, z_flat: Tensor) -> Tensor:
        return self.trajectory(t).detach().view(self.shape).requires_grad_(True)

    def _z_leaf(self, t: float, z: Tensor) -> Tensor:
        return self._z(t, z)

    def _z_rate(self, fz: Tensor) -> Tensor:
        return torch.zeros(self.n, dtype=self.dtype, device=self.device)

    def forward_rate(self, t: float, z: Tensor) -> Tensor:
        """f(t, z) of the forward problem (for the gradient in the output times)."""
        self.nfe += 1
        with torch.no_grad():
            return self.func(torch.full((), t, dtype=self.dtype, device=self.device), z)


def adjoint_norm(problem: AdjointProblem) -> Callable[[Sequence[Tensor]], Tensor]:
    """The backward solve's norm as a callable on (t, y, adj_y, *adj_params), as torchdiffeq
    exposes it (`grad_fn.adjoint_options["norm"]`, which may be replaced before backward)."""
    flat = problem.flat
    chosen = problem.backward_config.norm
    if callable(chosen):
        if flat.tuple_state is None:
            return chosen
        view = flat.view

        def per_component(tensors: Sequence[Tensor]) -> Any:
            t, y, adj_y, *adj_params = tensors
            return chosen((t, *view(y), *view(adj_y), *adj_params))

        return per_component
    forward_norm = problem.forward_config.norm
    state_norm = None
    if forward_norm is not None:

        def state_norm(y: Tensor) -> Any:
            return forward_norm(flat.view(y))

    return AdjointNorm(chosen == "seminorm", flat.blocks, state_norm)


class AdjointSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, problem: AdjointProblem, y0: Tensor, t: Tensor, *params: Tensor) -> Tensor:  # type: ignore[override]
        dyn = CountedDynamics(problem.func, y0)
        # An implicit (stiff) backward solve reads z from the forward's dense output.
        record: list | None = None
        if problem.backward_config.newton is not None and problem.forward_config.scipy is None:
            record = []
        with torch.no_grad():
            f0 = dyn(problem.times[0], y0) if problem.forward_config.uses_start_derivative else None
            ys = problem.forward_config.run(
                dyn, y0, problem.times, f0, problem.counter,
                norm=problem.flat.norm_for(problem.forward_config), carry=problem.carry,
                record=record,
            )  # fmt: skip
            ys = torch.stack(ys)
        ctx.trajectory = None
        if record is not None:
            if problem.forward_config.fixed is not None:  # record: the grid's (t, y)
                record = [GridStep(*a, *b) for a, b in itertools.pairwise(record)]
            ctx.trajectory = Trajectory(record, problem.forward_config.tableau)
        problem.counter.stats.nfe_forward += dyn.nfe
        ctx.problem = problem
        ctx.t_dtype = t.dtype
        # After a returned failure the outputs from here on are NaN constants (on_failure).
        ctx.n_reached = max(1, n_reached(problem.times, problem.counter.stats.t_reached))
        # torchdiffeq's interface: the backward reads its norm from here, so it can be swapped.
        ctx.adjoint_options = {"norm": adjoint_norm(problem)}
        ctx.save_for_backward(ys)
        return ys

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_ys: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        problem: AdjointProblem = ctx.problem
        (ys,) = ctx.saved_tensors
        times = problem.times
        need_t = bool(ctx.needs_input_grad[2])
        y_like = ys[0]
        n = y_like.numel()
        n_params = sum(p.numel() for p in problem.params)
        if ctx.trajectory is None:
            dyn = AugmentedDynamics(problem, y_like, need_t)
        else:
            dyn = InterpolatedDynamics(problem, y_like, need_t, ctx.trajectory)
        view = _augmented_view(y_like, problem.params, need_t)
        chosen = ctx.adjoint_options["norm"]
        if isinstance(chosen, AdjointNorm) and chosen.state_norm is None:
            norm: Norm = chosen.blocks(n, problem.params, need_t)
        else:
            norm = CallableNorm(chosen, view)
        config = problem.backward_config
        tail_size = n_params + need_t
        config = replace(config, rtol=_augmented_tol(config.rtol, tail_size),
                         atol=_augmented_tol(config.atol, tail_size))  # fmt: skip
        supported = METHOD_TABLE[config.method].callbacks
        callbacks = find_callbacks(problem.flat.user_func, config.method, supported,
                                   adjoint=True, state=view)  # fmt: skip
        counter = StepCounter(problem.counter.stats, backward=True, callbacks=callbacks)

        grads = grad_ys.reshape(len(times), -1)
        # The backward solve starts at the last output reached: the gradients arriving at the
        # NaN outputs after a returned failure are ignored (they belong to no solution).
        last = ctx.n_reached - 1
        adj = grads[last].clone()
        tail = torch.zeros(n_params + need_t, dtype=y_like.dtype, device=y_like.device)
        t_grads = [] if need_t else None
        # The last step size of one output interval starts the next: no new initial-step search.
        # The forward's last step starts the backward when both use the same method and
        # tolerances (its size fits the same dynamics); otherwise one initial-step search.
        same = problem.forward_config.tableau == problem.backward_config.tableau and all(
            a is b or (isinstance(a, float) and a == b)
            for a, b in ((problem.forward_config.rtol, problem.backward_config.rtol),
                         (problem.forward_config.atol, problem.backward_config.atol))
        )  # fmt: skip
        # (Not after a returned failure: the backward starts elsewhere, and that step may be tiny.)
        carry = StepCarry(problem.carry.h if same and last == len(times) - 1 else None)
        for i in range(last, 0, -1):
            aug = torch.cat([ys[i].reshape(-1), adj, tail])
            f_aug = None
            if need_t or problem.backward_config.uses_start_derivative:
                f_aug = dyn(times[i], aug)
            if need_t:
                # dL/dt_i = dL/dz(t_i) . f(t_i, z_i); the t channel starts from minus its sum.
                f_z = f_aug[:n] if ctx.trajectory is None else dyn.forward_rate(times[i], ys[i])
                dldt = torch.dot(grads[i], f_z.reshape(-1))
                t_grads.append(dldt)
                aug[-1] -= dldt
            aug = config.run(
                dyn, aug, [times[i], times[i - 1]], f_aug, counter, norm=norm, carry=carry
            )[-1]
            adj = aug[n : 2 * n] + grads[i - 1]
            tail = aug[2 * n :]
        counter.stats.nfe_backward += dyn.nfe

        grad_y0 = adj.view(y_like.shape)
        grad_t = None
        if need_t:
            t_grads.append(tail[-1])
            t_grads = t_grads[::-1] + [tail.new_zeros(())] * (len(times) - 1 - last)
            grad_t = torch.stack(t_grads).to(ctx.t_dtype)
        grad_params = []
        offset = 0
        for p in problem.params:
            grad_params.append(tail[offset : offset + p.numel()].view_as(p).to(p.dtype))
            offset += p.numel()
        return (None, grad_y0, grad_t, *grad_params)


def _augmented_view(like: Tensor, params: Sequence[Tensor], with_t: bool) -> Callable:
    """Flat augmented state [z, a, params, t] -> torchdiffeq's (t, y, adj_y, *adj_params)."""
    n = like.numel()

    def view(aug: Tensor) -> tuple[Tensor, ...]:
        t = aug[-1] if with_t else aug.new_zeros(())
        parts, offset = [], 2 * n
        for p in params:
            parts.append(aug[offset : offset + p.numel()].view(p.shape))
            offset += p.numel()
        return (t, aug[:n].view(like.shape), aug[n : 2 * n].view(like.shape), *parts)

    return view


def _augmented_tol(tol: Tolerance, tail: int) -> Tolerance:
    """A per-element tolerance of the state serves the state and its adjoint; the parameter
    and time gradients get its strictest value."""
    if isinstance(tol, float) or tol.dim() == 0:
        return tol
    flat = tol.reshape(-1)
    return torch.cat([flat, flat, flat.min().expand(tail)])

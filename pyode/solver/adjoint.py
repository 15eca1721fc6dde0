"""Adjoint sensitivity method (Chen et al. 2018, Algorithm 1) as a torch.autograd.Function.

Forward: solve without building a graph. Backward: integrate the augmented state
[z, a, dL/dtheta, dL/dt] from t_N down to t_0 one output interval at a time, adding the direct
gradient dL/dz(t_i) to the adjoint a at every output time. Memory is O(1) in the number of steps.
The augmented state is one flat vector, so each RK stage update is a single fused operation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from pyode.solver.adaptive import StepCarry
from pyode.solver.config import SolverConfig
from pyode.solver.dynamics import CountedDynamics, check_output
from pyode.solver.norms import BlockRMSNorm
from pyode.solver.stats import SolverStats
from pyode.solver.vjp import vjp


@dataclass
class AdjointProblem:
    func: Callable[[Tensor, Tensor], Tensor]
    times: list[float]
    forward_config: SolverConfig
    backward_config: SolverConfig
    params: tuple[Tensor, ...]
    stats: SolverStats
    seminorm: bool
    components: list[tuple[int, int]]  # blocks of the flat state (one per tuple component)
    carry: StepCarry = field(default_factory=StepCarry)  # the forward's last step size


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
        self.tail = sum(p.numel() for p in self.params) + int(with_t)
        self.nfe = 0

    def __call__(self, t: float, aug: Tensor) -> Tensor:
        self.nfe += 1
        n = self.n
        z_flat, neg_a, _ = aug.split_with_sizes((n, n, self.tail))
        with torch.enable_grad():
            z = z_flat.view(self.shape).detach().requires_grad_(True)
            t_in = torch.full((), t, dtype=self.dtype, device=self.device)
            inputs = (z, *self.params)
            if self.with_t:
                t_in.requires_grad_(True)
                inputs = (*inputs, t_in)
            fz = self.func(t_in, z)
            check_output(fz, self.shape, self.dtype)
            # A field with no graph (e.g. y' = cos t) depends on nothing: all its vjps are zero.
            if fz.requires_grad:
                vjps = vjp(fz, inputs, neg_a.view(self.shape).neg())
            else:
                vjps = (None,) * len(inputs)
        parts = [fz.reshape(-1)]
        for v, x in zip(vjps, inputs):
            parts.append(torch.zeros(x.numel(), dtype=self.dtype, device=self.device)
                         if v is None else v.reshape(-1))  # fmt: skip
        return torch.cat(parts)


class AdjointSolve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, problem: AdjointProblem, y0: Tensor, t: Tensor, *params: Tensor) -> Tensor:  # type: ignore[override]
        dyn = CountedDynamics(problem.func, y0)
        norm = BlockRMSNorm(problem.components)
        with torch.no_grad():
            f0 = dyn(problem.times[0], y0) if problem.forward_config.uses_start_derivative else None
            ys = problem.forward_config.run(
                dyn, y0, problem.times, f0, problem.stats, norm=norm, carry=problem.carry
            )
            ys = torch.stack(ys)
        problem.stats.nfe_forward += dyn.nfe
        ctx.problem = problem
        ctx.t_dtype = t.dtype
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
        dyn = AugmentedDynamics(problem, y_like, need_t)
        # The state and the adjoint are measured per component (tuple states), like the forward.
        blocks = [*problem.components, *((a + n, b + n) for a, b in problem.components)]
        if not problem.seminorm:
            blocks += [(2 * n, 2 * n + n_params), (2 * n + n_params, 2 * n + n_params + need_t)]
        norm = BlockRMSNorm(blocks)

        grads = grad_ys.reshape(len(times), -1)
        adj = grads[-1].clone()
        tail = torch.zeros(n_params + need_t, dtype=y_like.dtype, device=y_like.device)
        t_grads = [] if need_t else None
        # The last step size of one output interval starts the next: no new initial-step search.
        # The forward's last step starts the backward when both use the same method and
        # tolerances (its size fits the same dynamics); otherwise one initial-step search.
        same = problem.forward_config.tableau == problem.backward_config.tableau and (
            problem.forward_config.rtol, problem.forward_config.atol
        ) == (problem.backward_config.rtol, problem.backward_config.atol)
        carry = StepCarry(problem.carry.h if same else None)
        for i in range(len(times) - 1, 0, -1):
            aug = torch.cat([ys[i].reshape(-1), adj, tail])
            f_aug = None
            if need_t or problem.backward_config.uses_start_derivative:
                f_aug = dyn(times[i], aug)
            if need_t:
                # dL/dt_i = dL/dz(t_i) . f(t_i, z_i); the t channel starts from minus its sum.
                dldt = torch.dot(grads[i], f_aug[:n])
                t_grads.append(dldt)
                aug[-1] -= dldt
            aug = problem.backward_config.run(
                dyn, aug, [times[i], times[i - 1]], f_aug, problem.stats, norm=norm,
                backward=True, carry=carry,
            )[-1]  # fmt: skip
            adj = aug[n : 2 * n] + grads[i - 1]
            tail = aug[2 * n :]
        problem.stats.nfe_backward += dyn.nfe

        grad_y0 = adj.view(y_like.shape)
        grad_t = None
        if need_t:
            t_grads.append(tail[-1])
            grad_t = torch.stack(t_grads[::-1]).to(ctx.t_dtype)
        grad_params = []
        offset = 0
        for p in problem.params:
            grad_params.append(tail[offset : offset + p.numel()].view_as(p).to(p.dtype))
            offset += p.numel()
        return (None, grad_y0, grad_t, *grad_params)

"""odeint(..., per_sample=True): the checks, the direct path and the per-sample adjoint.

The adjoint's backward pass is per-sample too: row i integrates its own augmented state
[z_i, a_i] (and dL/dt_i's channel when t requires grad) with its own steps and error test, as
the adjoint of that row alone would, from its last output time down to its first. The parameter
gradient is the sum over rows of each row's quadrature sum_steps dt_i sum_j b_j (-a_ij df/dtheta);
rather than carry it per row (batch x n_params numbers, what makes torchode's per-sample
adjoint slow) each accepted step adds all rows' terms with ONE vector-Jacobian product over the
batch, row i's cotangent scaled by dt_i * b_j (zero for rows whose step was rejected), into one
accumulator. Each stage's graph is therefore kept until its step's acceptance is known. The
parameters' gradient does not enter the error test (a seminorm on the parameters, as Kidger,
Chen and Lyons 2021 and torchdiffeq's adjoint_options={"norm": "seminorm"}). After a returned
failure (on_failure="return") a failed row starts at the last output it reached.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from pyode.solver.callbacks import find_callbacks
from pyode.solver.config import SolverConfig
from pyode.solver.dynamics import check_output
from pyode.solver.norms import Tolerance
from pyode.solver.per_sample import Stages, row_times, solve_rows
from pyode.solver.per_sample_control import (
    SUCCESS,
    RowClock,
    block_means,
    initial_steps,
    row_clock,
    row_column,
    row_mask,
    row_norm,
    to_array,
)
from pyode.solver.stats import SolverStats
from pyode.solver.tableaus import ButcherTableau
from pyode.solver.vjp import vjp, vjp_kept

BACKWARD_NORMS = (None, "seminorm")


class RowDynamics:
    """func on the batch with t of shape (batch,): output checked, batched calls counted."""

    def __init__(self, func: Callable[[Tensor, Tensor], Tensor], like: Tensor) -> None:
        self.func = func
        self.shape = like.shape
        self.dtype = like.dtype
        self.nfe = 0

    def __call__(self, t: Tensor, y: Tensor) -> Tensor:
        self.nfe += 1
        out = self.func(t, y)
        check_output(out, self.shape, self.dtype)
        return out


def check_per_sample(y0: Any, forward: SolverConfig, backward: SolverConfig | None) -> None:
    """What per_sample=True needs of y0 and of the methods; ValueError naming what does not fit."""
    if not isinstance(y0, Tensor):
        raise ValueError("per_sample=True needs y0 to be one tensor of shape (batch, ...), got "
                         f"{type(y0).__name__}")  # fmt: skip
    if y0.dim() == 0:
        raise ValueError("per_sample=True needs y0 with a batch dimension (shape (batch, ...)); "
                         "y0 is 0-d")  # fmt: skip
    check_per_sample_methods(forward, backward)


def check_per_sample_methods(forward: SolverConfig, backward: SolverConfig | None) -> None:
    """The methods and options per_sample=True can use (backward None: no adjoint)."""
    for which, config in (("method", forward), ("adjoint_method", backward)):
        if config is None:
            continue
        if config.adaptive is None or not isinstance(config.tableau, ButcherTableau):
            raise ValueError(f"per_sample=True needs an adaptive explicit Runge-Kutta {which} "
                             f"(dopri5, tsit5, bosh3, ...), got {config.method!r}")  # fmt: skip
        unsupported = [name for name in ("jump_t", "step_t") if getattr(config.adaptive, name)]
        if unsupported:
            raise ValueError(f"option(s) {', '.join(map(repr, unsupported))} are not supported "
                             "with per_sample=True")  # fmt: skip
        if config.time_dtype != torch.float64:
            raise ValueError("option 'dtype' (the clock's dtype) must be torch.float64 with "
                             "per_sample=True")  # fmt: skip
    if forward.norm is not None:
        raise ValueError("option 'norm' is not supported with per_sample=True: each row's error "
                         "is the RMS norm over its own elements")  # fmt: skip
    if backward is not None and backward.norm not in BACKWARD_NORMS:
        raise ValueError("adjoint_norm must be None or 'seminorm' with per_sample=True: each "
                         "row's backward error is the maximum of the RMS norms of its state and "
                         "its adjoint (a seminorm on the parameters)")  # fmt: skip


def odeint_per_sample(
    func: Callable[[Tensor, Tensor], Tensor],
    y0: Tensor,
    t: Tensor,
    forward: SolverConfig,
    backward: SolverConfig,
    *,
    adjoint: bool,
    params: tuple[Tensor, ...],
    stats: SolverStats,
    on_failure: str,
) -> Tensor:
    """odeint's per_sample=True path; `forward`/`backward` are fitted to y0 (odeint's checks)."""
    check_per_sample(y0, forward, backward if adjoint else None)
    batch = y0.shape[0]
    times = row_times(t, batch)
    find_callbacks(func, f"{forward.method} with per_sample=True", frozenset())  # none called
    if times.shape[1] == 1:
        return y0[None]
    problem = RowProblem(RowDynamics(func, y0), times, forward, backward, params, stats,
                         on_failure)  # fmt: skip
    if adjoint:
        return RowAdjoint.apply(problem, y0, t, *params)
    if t.requires_grad and torch.is_grad_enabled():
        return _direct_with_time_gradients(problem, y0, t)
    return problem.solve(y0)


def _direct_with_time_gradients(problem: RowProblem, y0: Tensor, t: Tensor) -> Tensor:
    """Backpropagation through the solver, with dL/dt as odeint's direct path gives it, per row:
    moving t_0 moves the trajectory like moving y0 by -f(t_0, y0) dt, and y(t_k) moves with t_k
    at speed f(t_k, y_k) (zero-valued corrections whose derivatives carry the t gradients)."""
    times, dyn = problem.times, problem.dyn
    rows = t if t.dim() == 2 else t.expand(len(times), -1)
    moved = (rows - rows.detach()).to(y0.dtype)  # zero, with t's gradient
    column = (-1, *(1,) * (y0.dim() - 1))
    f0 = dyn(row_clock(times[:, 0].copy(), y0), y0.detach()).detach()
    ys = problem.solve(y0 - moved[:, 0].view(column) * f0)
    out = [y0]
    for k in range(1, times.shape[1]):
        fk = dyn(row_clock(times[:, k].copy(), y0), ys[k].detach()).detach()
        out.append(ys[k] + moved[:, k].view(column) * fk)
    extra = times.shape[1]  # f at t_0 and at every later output time, for every row
    problem.stats.nfe_forward += extra
    problem.stats.nfe_per_sample = [n + extra for n in problem.stats.nfe_per_sample]
    return torch.stack(out)


@dataclass
class RowProblem:
    """One per-sample solve: the forward's configuration, the backward's, and what it found."""

    dyn: RowDynamics
    times: np.ndarray  # (batch, n)
    forward: SolverConfig
    backward: SolverConfig
    params: tuple[Tensor, ...]
    stats: SolverStats
    on_failure: str
    clock: RowClock | None = None

    def solve(self, y0: Tensor) -> Tensor:
        """The states at every row's output times, (n, batch, ...); the stats filled in."""
        config = self.forward
        assert config.tableau is not None and config.adaptive is not None
        nfe = self.dyn.nfe
        try:
            solution = solve_rows(
                self.dyn, y0, self.times, config.tableau, config.controller(), config.adaptive,
                config.rtol, config.atol, self.on_failure, self.stats,
            )  # fmt: skip
        finally:
            self.stats.nfe_forward += self.dyn.nfe - nfe
        solution.clock.record(self.stats)
        self.clock = solution.clock
        return solution.ys


class RowAdjoint(torch.autograd.Function):
    """Forward without a graph; backward by RowBacksolve, each row on its own steps."""

    @staticmethod
    def forward(ctx, problem: RowProblem, y0: Tensor, t: Tensor, *params: Tensor) -> Tensor:  # type: ignore[override]
        with torch.no_grad():
            ys = problem.solve(y0)
        ctx.problem = problem
        ctx.t_shape, ctx.t_dtype = t.shape, t.dtype
        ctx.save_for_backward(ys)
        return ys

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_ys: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        problem: RowProblem = ctx.problem
        (ys,) = ctx.saved_tensors
        clock = problem.clock
        assert clock is not None
        need_t = bool(ctx.needs_input_grad[2])
        backsolve = RowBacksolve(problem, ys, need_t)
        grad_y0, grad_params, t_grads = backsolve.run(grad_ys, clock)
        grad_t = None
        if need_t:
            grad_t = t_grads if len(ctx.t_shape) == 2 else t_grads.sum(0)
            grad_t = grad_t.to(ctx.t_dtype)
        return (None, grad_y0, grad_t, *grad_params)


def reached_outputs(times: np.ndarray, t_reached: np.ndarray) -> np.ndarray:
    """How many of each row's output times lie at or before the time it reached (at least 1)."""
    direction = np.where(times[:, -1] >= times[:, 0], 1.0, -1.0)[:, None]
    return np.maximum((direction * (times - t_reached[:, None]) <= 0).sum(1), 1)


def _last_column(values: Tensor, like: Tensor) -> Tensor:
    """(batch,) values placed in the last column of a zero tensor shaped like `like`."""
    return torch.nn.functional.pad(values[:, None], (like.shape[1] - 1, 0))


class RowBacksolve:
    """The per-sample backward solve of one RowAdjoint (see the module's docstring).

    As the joint adjoint does per output interval, a row that reaches an inner output time
    restarts there: z from the forward, dL/dz added to a, a fresh f, a fresh controller memory
    and step count. Rows reach their output times at different iterations, so such a restart
    costs one more batched evaluation in the iterations where some row restarts (the other rows
    sit it out). The parameters' quadrature needs each step's acceptance, known only after all
    its stages, so it is one vjp per step through the step's kept stage graphs (with 64 rows
    almost every step has some rejected row: weighting the stages' own vjps and correcting for
    rejected rows would cost as much)."""

    def __init__(self, problem: RowProblem, ys: Tensor, need_t: bool) -> None:
        config = problem.backward
        assert config.tableau is not None and config.adaptive is not None
        self.problem = problem
        self.config = config
        self.tableau = config.tableau
        self.ys = ys
        self.batch = ys.shape[1]
        self.shape = ys.shape[1:]
        self.dims = tuple(self.shape)  # reshape parses a tuple faster than a torch.Size
        self.m = ys[0, 0].numel()
        self.need_t = need_t
        self.params = tuple(p for p in problem.params)
        m = self.m
        blocks = [(0, m), (m, 2 * m)] + ([(2 * m, 2 * m + 1)] if need_t else [])
        self.blocks = block_means(blocks, 2 * m + need_t, ys)
        self.rtol = self._tolerance(config.rtol)
        self.atol = self._tolerance(config.atol)
        self.nfe = 0
        # FSAL stage graphs kept for the parameters' quadrature: id -> (f(z), -a) of one call.
        self.graphs: dict[int, tuple[Tensor, Tensor]] = {}
        self.ids = itertools.count()

    def _tolerance(self, tol: Tolerance) -> Tolerance:
        """A per-element tolerance (y0's shape) serves z and a; dL/dt gets its strictest value."""
        if isinstance(tol, float) or tol.dim() == 0:
            return tol
        rows = tol.expand(self.shape).reshape(self.batch, self.m)
        parts = [rows, rows] + ([rows.amin(1, keepdim=True)] if self.need_t else [])
        return torch.cat(parts, 1)

    def dynamics(self, t: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """d/dt [z, a, g_t] = [f, -a df/dz, -a df/dt] per row; also returns f(z) and -a for the
        parameters' vjp (the graph is kept)."""
        self.nfe += 1
        m = self.m
        with torch.enable_grad():
            z = x[:, :m].reshape(self.dims).detach().requires_grad_(True)
            t_in = t.detach().requires_grad_(True) if self.need_t else t
            fz = self.problem.dyn(t_in, z)
            cot = x[:, m : 2 * m].reshape(self.dims).neg()
            inputs = (z, t_in) if self.need_t else (z,)
            # A field with no graph (e.g. y' = cos t) depends on nothing: its vjps are zero.
            if not fz.requires_grad:
                grads: tuple[Tensor | None, ...] = (None,) * len(inputs)
            elif self.params:  # the graph is kept for the parameters' vjp once steps settle
                grads = vjp_kept((fz,), inputs, (cot,))
            else:
                grads = vjp(fz, inputs, cot)
        parts = [fz.detach().reshape(self.batch, m)]
        for g, x_in in zip(grads, inputs):
            parts.append(torch.zeros_like(x_in).reshape(self.batch, -1) if g is None
                         else g.reshape(self.batch, -1))  # fmt: skip
        return torch.cat(parts, 1), fz, cot

    def run(self, grad_ys: Tensor, forward: RowClock) -> tuple[Tensor, list, Tensor | None]:
        """(dL/dy0, dL/dparams, dL/dt per row or None) from dL/dys; `forward`: the forward's
        clock (each row's last step size, status and the time it reached)."""
        problem, config, times = self.problem, self.config, self.problem.times
        batch, m, n = self.batch, self.m, times.shape[1]
        ys = self.ys.reshape(n, batch, m)
        grads = grad_ys.reshape(n, batch, m)
        rows = np.arange(batch)
        # Each row starts at the last output it reached: all of them, or after a returned
        # failure the last before it (the gradients at its NaN outputs belong to no solution,
        # as in the joint adjoint); a row that reached none past t_0 has nothing to integrate.
        last = reached_outputs(times, forward.t) - 1
        start = torch.from_numpy(last).to(ys.device)
        index = torch.from_numpy(rows).to(ys.device)
        idle = last == 0
        a_start = grads[start, index].masked_fill(row_mask(idle, grads[0]), 0.0)
        t_grads = torch.zeros(batch, n, dtype=ys.dtype, device=ys.device) if self.need_t else None
        x = torch.cat([ys[start, index], a_start] + ([ys.new_zeros(batch, 1)] if self.need_t
                                                     else []), 1)  # fmt: skip
        t_start = times[rows, last]
        f, fz, cot = self.dynamics(row_clock(t_start, ys), x)
        if self.need_t:
            dldt = (a_start * f[:, :m]).sum(1)  # dL/dt_k = dL/dz(t_k) . f(t_k, z_k)
            t_grads[index, start] = dldt
            x = x - _last_column(dldt, x)  # a new tensor: x's graph keeps its z
        origin = np.full(batch, self._keep(fz, cot))
        # As the joint adjoint: the forward's last step starts the backward when both use the
        # same method and tolerances (not after a returned failure: the backward starts
        # elsewhere and that step may be tiny), otherwise an initial-step search (seminorm).
        same = problem.forward.tableau == config.tableau and all(
            a is b or (isinstance(a, float) and a == b)
            for a, b in ((problem.forward.rtol, config.rtol), (problem.forward.atol, config.atol))
        )
        carried = same & (last == n - 1)
        h = forward.h.copy()
        if not carried.all():
            with torch.no_grad():
                found = initial_steps(lambda t_, x_: self.dynamics(t_, x_)[0], t_start, x, f,
                                      np.sign(times[:, 0] - times[:, -1]), self.tableau.order,
                                      self.rtol, self.atol, self.blocks)  # fmt: skip
            h = np.where(carried, h, found)
        stop = times[rows, np.maximum(last - 1, 0)]
        clock = RowClock(self.tableau, config.controller(), config.adaptive, t_start.copy(),
                         stop, times[:, 0].copy(), np.where(idle, 1.0, h), "raise")  # fmt: skip
        clock.nfe += np.where(idle, 0, 1 + ~carried)  # f at the start, an initial step
        if idle.any():
            clock.end(idle, SUCCESS)
        interval = last.copy()  # row i integrates from times[i, interval] down
        stages = Stages(self.tableau, x)
        b = [float(v) for v in self.tableau.b]
        gp = [torch.zeros_like(p) for p in self.params]
        while clock.running.any():
            dt, t_new, lands = clock.propose()
            t = clock.t
            x_new, f_new, err, kept = self._step(stages, t, x, dt, t_new, f)
            with torch.no_grad():
                ratio = to_array(row_norm(err, x, x_new, self.rtol, self.atol, self.blocks))
            accepted, landed = clock.settle(dt, t_new, lands, ratio)
            if not accepted.any():
                continue
            if self.params:
                self._quadrature(gp, accepted, dt, b, origin, kept)
            mask = row_mask(accepted, x)
            x = torch.where(mask, x_new, x)
            f = torch.where(mask, f_new, f)
            last = self._keep(kept[-1][0], kept[-1][1])
            origin = np.where(accepted, last, origin)
            jumped = landed & (clock.status != SUCCESS)
            if jumped.any():
                x, f, origin = self._jump(jumped, interval, clock, x, f, origin, ys, grads,
                                          t_grads)  # fmt: skip
            live = set(origin.tolist())
            self.graphs = {k: v for k, v in self.graphs.items() if k in live}
        a0 = x[:, m : 2 * m] + grads[0]
        if self.need_t:
            t_grads[:, 0] = x[:, -1]
        problem.stats.nfe_backward += self.nfe
        clock.record(problem.stats, backward=True)
        grad_params = [g.to(p.dtype) for g, p in zip(gp, self.params)]
        return a0.reshape(self.shape), grad_params, t_grads

    def _keep(self, fz: Tensor, cot: Tensor) -> int:
        """Keep one evaluation's graph for the parameters' quadrature; returns its key."""
        key = next(self.ids)
        if self.params:
            self.graphs[key] = (fz, cot)
        return key

    def _step(
        self, stages: Stages, t: np.ndarray, x: Tensor, dt: np.ndarray, t_new: np.ndarray,
        f: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor, list[tuple[Tensor, Tensor]]]:  # fmt: skip
        kept: list[tuple[Tensor, Tensor]] = []

        def func(tt: Tensor, xx: Tensor) -> Tensor:
            k, fz, cot = self.dynamics(tt, xx)
            kept.append((fz, cot))
            return k

        x_new, f_new, err, _ = stages.step(func, t, x, dt, t_new, f)
        if f_new is None:  # not FSAL: the next step's first stage is evaluated now
            f_new = func(row_clock(t_new, x), x_new)
        return x_new, f_new, err, kept

    def _quadrature(
        self, gp: list[Tensor], accepted: np.ndarray, dt: np.ndarray, b: list[float],
        origin: np.ndarray, kept: list[tuple[Tensor, Tensor]],
    ) -> None:  # fmt: skip
        """Add every accepted row's dt_i * sum_j b_j (-a_ij df/dtheta) with one vjp."""
        weight = np.where(accepted, dt, 0.0)
        outputs, cots = [], []
        # Stage 0 is the previous step's last evaluation of each row (FSAL), or a fresh one.
        if b[0]:
            keys = set(origin[accepted].tolist())
            for key in keys:
                fz, cot = self.graphs[key]
                w = weight if len(keys) == 1 else np.where(origin == key, weight, 0.0)
                outputs.append(fz)
                cots.append(cot * row_column(torch.from_numpy(w * b[0]), cot))
        column = None
        for j, (fz, cot) in enumerate(kept[: len(b) - 1], start=1):
            if b[j] and fz.requires_grad:
                if column is None:
                    column = row_column(torch.from_numpy(weight), cot)
                outputs.append(fz)
                cots.append(torch.mul(cot, column).mul_(b[j]))
        live = [(o, c) for o, c in zip(outputs, cots) if o.requires_grad]
        if not live:
            return
        vjps = vjp_kept([o for o, _ in live], self.params, [c for _, c in live])
        for g, v in zip(gp, vjps):
            if v is not None:
                g.add_(v)

    def _jump(
        self, jumped: np.ndarray, interval: np.ndarray, clock: RowClock, x: Tensor, f: Tensor,
        origin: np.ndarray, ys: Tensor, grads: Tensor, t_grads: Tensor | None,
    ) -> tuple[Tensor, Tensor, np.ndarray]:  # fmt: skip
        """Rows that landed on an inner output time: reset z to the forward's value there, add
        dL/dz to a, start their next interval (fresh f, controller memory and step count)."""
        m = self.m
        interval[jumped] -= 1
        rows = torch.from_numpy(np.flatnonzero(jumped)).to(x.device)
        k = torch.from_numpy(interval[jumped]).to(x.device)
        x = x.clone()
        x[rows, :m] = ys[k, rows]
        x[rows, m : 2 * m] += grads[k, rows]
        tt = row_clock(clock.t.copy(), x)
        f_fresh, fz, cot = self.dynamics(tt, x)
        clock.nfe += jumped
        if self.need_t:
            dldt = (grads[k, rows] * f_fresh[rows, :m]).sum(1)
            t_grads[rows, k] = dldt
            change = x.new_zeros(x.shape[0]).index_copy(0, rows, dldt)
            x = x - _last_column(change, x)  # a new tensor: x's graph keeps its z
        f = torch.where(row_mask(jumped, f), f_fresh, f)
        origin = np.where(jumped, self._keep(fz, cot), origin)
        idx = np.flatnonzero(jumped)
        clock.stop[idx] = self.problem.times[idx, interval[idx] - 1]
        clock.prev[idx] = 1e-4
        clock.n_tried[idx] = 0
        return x, f, origin

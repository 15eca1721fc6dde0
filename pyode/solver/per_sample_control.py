"""Per-row step-size control for per-sample solves (pyode.solver.per_sample).

RowClock holds, on the host in numpy, each row's time, step size, stop, counts and status, and
makes the scalar loop's decisions (adaptive.adaptive_steps) for all rows at once: propose a
trial step, accept or reject it from the row's error ratio, choose the next step, end the row
or fail it. The helpers move row data between the host arrays and the batch's tensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from pyode.solver.controller import AdaptiveOptions, StepSizeController
from pyode.solver.errors import ODESolverError
from pyode.solver.host_sync import HOST_SYNCS
from pyode.solver.norms import Tolerance, scaled_error
from pyode.solver.stats import SolverStats
from pyode.solver.tableaus import ButcherTableau

RowFunc = Callable[[Tensor, Tensor], Tensor]

# Row status codes; their names are the values of stats.status_per_sample.
RUNNING, SUCCESS, MAX_NUM_STEPS, STEP_UNDERFLOW, NON_FINITE = range(5)
STATUS_NAMES = {SUCCESS: "success", MAX_NUM_STEPS: "max_num_steps",
                STEP_UNDERFLOW: "step_underflow", NON_FINITE: "non_finite"}  # fmt: skip



def to_array(x: Tensor) -> np.ndarray:
    """A tensor's values on the host as a float64 array (one counted host synchronisation)."""
    HOST_SYNCS.count += 1
    if x.dtype != torch.float64 or x.device.type != "cpu":
        x = x.to("cpu", torch.float64)
    return x.detach().numpy()


def next_steps(
    control: StepSizeController, h: np.ndarray, ratio: np.ndarray, accepted: np.ndarray,
    prev: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """StepSizeController.next_step on arrays of rows (its formula and its coefficients);
    updates `prev` (each row's previous accepted ratio) in place where a step was accepted.

    The scalar code's special cases fall out of IEEE arithmetic here: ratio 0 gives an infinite
    factor and a non-finite ratio a NaN or zero one, which the clip (fmax/fmin ignore NaN)
    turns into ifactor and dfactor; a rejected step has ratio > 1, so its factor is below
    safety <= 1 already (prev^beta <= 1 too, prev being an accepted ratio)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        factor = control.safety * np.power(ratio, -control.exponent)
        if control.beta:
            factor *= prev**control.beta
            ok = accepted & np.isfinite(ratio)
            prev[ok] = np.maximum(ratio[ok], 1e-4)
    factor = np.fmin(control.ifactor, np.fmax(control.dfactor, factor))
    return h * factor


def row_norm(
    err: Tensor, y0: Tensor, y1: Tensor, rtol: Tolerance, atol: Tolerance,
    blocks: Tensor | None = None,
) -> Tensor:  # fmt: skip
    """Each row's RMS error ratio, shape (batch,); with `blocks` (block_means' matrix on the
    rows flattened), the maximum of the blocks' RMS norms (a seminorm where blocks leave columns
    out)."""
    sq = scaled_error(err, y0, y1, rtol, atol).reshape(err.shape[0], -1)
    if blocks is None:
        return torch.linalg.vector_norm(sq, dim=1).div_(math.sqrt(sq.shape[1]))
    return torch.mm(sq.square_(), blocks).amax(1).sqrt_()


def block_means(blocks: Sequence[tuple[int, int]], width: int, like: Tensor) -> Tensor:
    """The (width, len(blocks)) matrix whose product with a row gives its blocks' means (one
    matrix product for all blocks; the terms are squares, so nothing cancels)."""
    out = torch.zeros(width, len(blocks), dtype=like.dtype, device=like.device)
    for j, (a, b) in enumerate(blocks):
        out[a:b, j] = 1.0 / (b - a)
    return out


def row_ratios(err: Tensor, y0: Tensor, y1: Tensor, rtol: Tolerance, atol: Tolerance) -> np.ndarray:
    """row_norm on the host (its one synchronisation), the mean's division done there."""
    with torch.no_grad():
        scaled = scaled_error(err, y0, y1, rtol, atol)
        norms = to_array(torch.linalg.vector_norm(scaled.view(scaled.shape[0], -1), dim=1))
    return norms / math.sqrt(scaled[0].numel())


def initial_steps(
    func: RowFunc, t0: np.ndarray, y0: Tensor, f0: Tensor, direction: np.ndarray, order: int,
    rtol: Tolerance, atol: Tolerance, blocks: Tensor | None = None,
) -> np.ndarray:  # fmt: skip
    """initial_step (Hairer, Norsett & Wanner, II.4) for every row at once: one evaluation.
    Rows whose state or derivative is not finite get NaN (they fail as non-finite)."""
    d = to_array(torch.stack([row_norm(y0, y0, y0, rtol, atol, blocks),
                              row_norm(f0, y0, y0, rtol, atol, blocks)]))  # fmt: skip
    d0, d1 = d[0], d[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
        h0 = np.where(np.isfinite(d0) & np.isfinite(d1), h0, np.nan)
        step = row_column(torch.from_numpy(direction * np.nan_to_num(h0)), y0)
        f1 = func(row_clock(t0 + direction * np.nan_to_num(h0), y0), y0 + step * f0)
        d2 = to_array(row_norm(f1 - f0, y0, y0, rtol, atol, blocks)) / h0
        dmax = np.maximum(d1, d2)
        h1 = np.where(dmax <= 1e-15, np.maximum(1e-6, h0 * 1e-3),
                      (0.01 / dmax) ** (1.0 / (order + 1)))  # fmt: skip
        return np.minimum(100.0 * h0, h1)


def row_clock(t: np.ndarray, like: Tensor) -> Tensor:
    """Row times as func receives them: a (batch,) tensor in the state's dtype and device."""
    return torch.from_numpy(t).to(device=like.device, dtype=like.dtype)


def row_column(x: Tensor, like: Tensor) -> Tensor:
    """A (batch,) tensor shaped to broadcast against the rows of `like`, in its dtype/device."""
    return x.to(device=like.device, dtype=like.dtype).view(-1, *(1,) * (like.dim() - 1))


def row_mask(rows: np.ndarray, like: Tensor) -> Tensor:
    """A boolean row mask shaped to broadcast against the rows of `like`."""
    return torch.from_numpy(rows).to(like.device).view(-1, *(1,) * (like.dim() - 1))


@dataclass
class RowClock:
    """Each row's time, step size, stop and counts, and the decisions of one batched step.

    `stop` is the time where each row's current run must end exactly (its last output time, or
    for the adjoint the next output time); `finish` is the end of the whole solve.
    """

    tableau: ButcherTableau
    control: StepSizeController
    options: AdaptiveOptions
    t: np.ndarray
    stop: np.ndarray
    finish: np.ndarray
    h: np.ndarray
    on_failure: str
    stats: SolverStats | None = None  # the forward's: filled in before a failure is raised
    time_eps: float = float(np.finfo(np.float64).eps)
    start: np.ndarray = field(init=False)
    direction: np.ndarray = field(init=False)
    status: np.ndarray = field(init=False)
    running: np.ndarray = field(init=False)
    prev: np.ndarray = field(init=False)
    n_tried: np.ndarray = field(init=False)  # since the row's current run began
    tries: np.ndarray = field(init=False)  # in all
    n_accepted: np.ndarray = field(init=False)
    nfe: np.ndarray = field(init=False)  # evaluations beyond those of the tried steps
    span: np.ndarray = field(init=False)
    floor: np.ndarray = field(init=False)
    iterations: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        batch = len(self.t)
        self.start = self.t.copy()
        self.direction = np.where(self.finish >= self.t, 1.0, -1.0)
        self.span = np.abs(self.finish - self.t)
        self.status = np.full(batch, RUNNING)
        self.running = np.ones(batch, dtype=bool)
        self.prev = np.full(batch, 1e-4)
        self.n_tried = np.zeros(batch, dtype=np.int64)
        self.tries = np.zeros(batch, dtype=np.int64)
        self.n_accepted = np.zeros(batch, dtype=np.int64)
        self.nfe = np.zeros(batch, dtype=np.int64)
        # The underflow test's bound 4 eps max(|t|, span) never exceeds this (t stays between
        # start and finish), so rows above it need no closer look.
        reach = np.maximum(np.abs(self.start), np.abs(self.finish))
        self.floor = 4 * self.time_eps * np.maximum(reach, self.span)
        self.h = self.clamp(self.h)
        bad = ~np.isfinite(self.h)
        if bad.any():
            self.fail(bad, NON_FINITE, "non-finite initial state or derivative")

    def clamp(self, h: np.ndarray) -> np.ndarray:
        if self.options.min_step > 0 or self.options.max_step < math.inf:
            return np.minimum(np.maximum(h, self.options.min_step), self.options.max_step)
        return h

    def end(self, rows: np.ndarray, code: int) -> None:
        self.status[rows] = code
        self.running = self.running & ~rows  # a new array: callers keep their snapshot

    def fail(self, rows: np.ndarray, code: int, what: str, dt: np.ndarray | None = None) -> None:
        """Mark `rows` failed; with on_failure='raise', raise for the first of them."""
        self.end(rows, code)
        if self.on_failure == "raise":
            i = int(np.flatnonzero(rows)[0])
            step = float(self.direction[i] * self.h[i] if dt is None else dt[i])
            if self.stats is not None:
                self.record(self.stats)
            raise ODESolverError(
                f"row {i}: {what} at t={self.t[i]:.6g} of [{self.start[i]:.6g}, "
                f"{self.finish[i]:.6g}] (dt={step:.3g})",
                reason=STATUS_NAMES[code], t=float(self.t[i]), dt=step,
            )

    def propose(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(dt, t_new, lands) of every row's trial step; rows not running get dt = 0."""
        limit = self.options.max_num_steps
        if self.iterations >= limit:  # no row can have tried more steps than that
            over = self.running & (self.n_tried >= limit)
            if over.any():
                self.fail(over, MAX_NUM_STEPS, f"max_num_steps={limit} exceeded")
        self.iterations += 1
        running = self.running
        remaining = np.abs(self.stop - self.t)
        lands = (self.h >= remaining) & running
        h_try = np.where(lands, remaining, self.h) * running
        dt = self.direction * h_try
        t_new = np.where(lands, self.stop, self.t + dt)
        self.n_tried += running
        self.tries += running
        return dt, t_new, lands

    def settle(
        self, dt: np.ndarray, t_new: np.ndarray, lands: np.ndarray, ratio: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Accept or reject each running row's trial step (ratio: its error ratio) and choose
        its next step size, as the scalar loop does. Returns (accepted, landed)."""
        running = self.running
        h_try = np.abs(dt)
        min_step = self.options.min_step
        accepted = running & (ratio <= 1.0)  # NaN compares False
        if min_step > 0:
            finite = np.isfinite(ratio)
            at_min = running & (h_try <= min_step)
            accepted |= at_min & finite
            blown = at_min & ~finite
            if blown.any():
                self.fail(blown, NON_FINITE, "non-finite state or derivative at the smallest "
                          "step", dt)  # fmt: skip
        self.n_accepted += accepted
        h_next = next_steps(self.control, h_try, ratio, accepted, self.prev)
        landed = accepted & lands
        if landed.any():
            h_next = np.where(landed, np.maximum(h_next, self.h), h_next)
        self.h = np.where(running, self.clamp(h_next), self.h)
        self.t = np.where(accepted, t_new, self.t)
        if landed.any():
            self.end(landed & (self.stop == self.finish), SUCCESS)
        small = self.h < self.floor
        if small.any():
            limit = 4 * self.time_eps * np.maximum(np.abs(self.t), self.span)
            small = (self.h < limit) & self.running & ~landed
        if small.any():
            finite = np.isfinite(ratio)
            if (small & ~finite).any():
                self.fail(small & ~finite, NON_FINITE, "non-finite state or derivative "
                          "(step size shrank to dt)", self.direction * self.h)  # fmt: skip
            rest = small & finite
            if rest.any():
                self.fail(rest, STEP_UNDERFLOW, "step size underflow", self.direction * self.h)
        return accepted, landed

    def record(self, stats: SolverStats, backward: bool = False) -> None:
        """Per-row counts into stats (the totals are sums over rows). A row's evaluations: the
        stages of its tried steps (the first is the last step's, FSAL), plus f at each accepted
        step's end for other tableaus, plus those counted in `nfe` (start, first step)."""
        rejected = self.tries - self.n_accepted
        nfe = self.nfe + (self.tableau.stages - 1) * self.tries
        if not self.tableau.fsal:
            nfe += self.n_accepted
        if backward:
            stats.n_accepted_backward += int(self.n_accepted.sum())
            stats.n_rejected_backward += int(rejected.sum())
            stats.n_accepted_backward_per_sample = self.n_accepted.tolist()
            stats.n_rejected_backward_per_sample = rejected.tolist()
            stats.nfe_backward_per_sample = nfe.tolist()
            return
        stats.n_accepted += int(self.n_accepted.sum())
        stats.n_rejected += int(rejected.sum())
        stats.n_accepted_per_sample = self.n_accepted.tolist()
        stats.n_rejected_per_sample = rejected.tolist()
        stats.nfe_per_sample = nfe.tolist()
        stats.status_per_sample = [STATUS_NAMES.get(int(s), "running") for s in self.status]
        stats.t_reached_per_sample = self.t.tolist()
        failed = np.flatnonzero((self.status != SUCCESS) & (self.status != RUNNING))
        if len(failed):
            stats.status = stats.status_per_sample[failed[0]]
            stats.t_reached = float(self.t[failed[0]])
        else:  # as the joint solve: its last output time (NaN where the rows' ends differ)
            same_end = (self.finish == self.finish[0]).all()
            stats.status = "success"
            stats.t_reached = float(self.finish[0]) if same_end else math.nan

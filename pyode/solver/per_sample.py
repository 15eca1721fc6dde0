"""Per-sample adaptive solves: every batch row takes its own steps, in one batched computation.

Row i of y0 (shape (batch, ...)) gets its own step size, error test (the RMS norm over its own
elements), acceptance and end, so it takes the same accepted steps as `odeint` on that row
alone. All rows are stepped together: every stage is one call of func on the whole batch, with
t a tensor of shape (batch,) holding each row's time. Rows that have finished (or failed) are
masked, not dropped: they stay in the batch with a zero step, so func always sees the full
batch in its original row order (it may use per-row data such as a vector of parameters).

The step-size bookkeeping (times, step sizes, counts, status) lives on the host in numpy, like
the scalar loop's python floats; the one host synchronisation per step is the rows' error ratios.
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
from pyode.solver.interpolation import _QUARTIC, hermite_weights
from pyode.solver.norms import Tolerance, scaled_error
from pyode.solver.stats import SolverStats
from pyode.solver.tableaus import ButcherTableau

ON_FAILURE = ("raise", "return")
# Row status codes; their names are the values of stats.status_per_sample.
RUNNING, SUCCESS, MAX_NUM_STEPS, STEP_UNDERFLOW, NON_FINITE = range(5)
STATUS_NAMES = {SUCCESS: "success", MAX_NUM_STEPS: "max_num_steps",
                STEP_UNDERFLOW: "step_underflow", NON_FINITE: "non_finite"}  # fmt: skip

RowFunc = Callable[[Tensor, Tensor], Tensor]


def to_array(x: Tensor) -> np.ndarray:
    """A tensor's values on the host as a float64 array (one counted host synchronisation)."""
    HOST_SYNCS.count += 1
    if x.dtype != torch.float64 or x.device.type != "cpu":
        x = x.to("cpu", torch.float64)
    return x.detach().numpy()


def check_on_failure(on_failure: object) -> str:
    if on_failure not in ON_FAILURE:
        raise ValueError(f"on_failure must be 'raise' or 'return', got {on_failure!r}")
    return str(on_failure)


def row_times(t: Tensor, batch: int) -> np.ndarray:
    """Validate t, shared (n,) or per row (batch, n), and return it as a (batch, n) array."""
    if not isinstance(t, Tensor):
        raise ValueError(f"t must be a torch tensor, got {type(t).__name__}")
    if t.dim() not in (1, 2):
        raise ValueError(f"t must have shape (n,) or (batch, n) with per_sample=True, got "
                         f"shape {tuple(t.shape)}")  # fmt: skip
    if t.dim() == 2 and t.shape[0] != batch:
        raise ValueError(f"t has shape {tuple(t.shape)}: per-row times need one row per row "
                         f"of y0 (batch {batch})")  # fmt: skip
    if t.shape[-1] < 1:
        raise ValueError("t is empty; give at least one time")
    if not t.is_floating_point():
        raise ValueError(f"t must be a floating point tensor, got dtype {t.dtype}")
    if t.device.type == "meta":
        raise ValueError("t is on the 'meta' device, which holds no values; give real times")
    times = to_array(t).reshape(-1, t.shape[-1])
    if not np.isfinite(times).all():
        raise ValueError("t must be finite")
    steps = np.diff(times, axis=1)
    if steps.size and not ((steps > 0).all(axis=1) | (steps < 0).all(axis=1)).all():
        raise ValueError("t must be strictly increasing or strictly decreasing (in every row)")
    return np.broadcast_to(times, (batch, times.shape[1])).copy()


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
    blocks: Sequence[tuple[int, int]] | None = None,
) -> Tensor:  # fmt: skip
    """Each row's RMS error ratio, shape (batch,); with `blocks` (column ranges of the rows
    flattened), the maximum of the blocks' RMS norms (a seminorm where blocks leave columns out)."""
    sq = scaled_error(err, y0, y1, rtol, atol).reshape(err.shape[0], -1)
    if blocks is None:
        return torch.linalg.vector_norm(sq, dim=1).div_(math.sqrt(sq.shape[1]))
    sq = sq.square_()
    return torch.stack([sq[:, a:b].mean(1) for a, b in blocks], 1).amax(1).sqrt()


def row_ratios(err: Tensor, y0: Tensor, y1: Tensor, rtol: Tolerance, atol: Tolerance) -> np.ndarray:
    """row_norm on the host (its one synchronisation), the mean's division done there."""
    with torch.no_grad():
        scaled = scaled_error(err, y0, y1, rtol, atol)
        norms = to_array(torch.linalg.vector_norm(scaled.view(scaled.shape[0], -1), dim=1))
    return norms / math.sqrt(scaled[0].numel())


def initial_steps(
    func: RowFunc, t0: np.ndarray, y0: Tensor, f0: Tensor, direction: np.ndarray, order: int,
    rtol: Tolerance, atol: Tolerance, blocks: Sequence[tuple[int, int]] | None = None,
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
            step = self.direction[i] * self.h[i] if dt is None else dt[i]
            raise ODESolverError(
                f"row {i}: {what} at t={self.t[i]:.6g} of [{self.start[i]:.6g}, "
                f"{self.finish[i]:.6g}] (dt={step:.3g})"
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
        stats.status_per_sample = [STATUS_NAMES[int(s)] for s in self.status]
        stats.t_reached_per_sample = self.t.tolist()


class Stages:
    """The stages of one batched explicit Runge-Kutta step with a step size per row."""

    def __init__(self, tableau: ButcherTableau, like: Tensor) -> None:
        self.tableau = tableau
        n = tableau.stages

        def padded(row: Sequence[float]) -> Tensor:  # weights on all n stages
            return torch.tensor([*row, *[0.0] * (n - len(row))], dtype=like.dtype,
                                device=like.device)  # fmt: skip

        self.a = [padded(row) for row in tableau.a]
        self.b = padded(tableau.b)
        self.b_err = padded(tableau.b_err or ())
        c = np.array(tableau.c)
        self.c_column, self.c_one = c[:, None], c == 1.0
        # host arrays become tensors without a cast on the CPU in float64
        self.cast = like.device.type != "cpu" or like.dtype != torch.float64
        self.like = like
        self.column_shape = (-1, *(1,) * (like.dim() - 1))

    def tensor(self, x: np.ndarray) -> Tensor:
        """A host float64 array as a tensor in the state's dtype and device."""
        out = torch.from_numpy(x)
        return out.to(device=self.like.device, dtype=self.like.dtype) if self.cast else out

    def step(
        self, func: RowFunc, t: np.ndarray, y: Tensor, dt: np.ndarray, t_new: np.ndarray,
        f0: Tensor,
    ) -> tuple[Tensor, Tensor | None, Tensor, list[Tensor]]:  # fmt: skip
        """(y_new, f_new (FSAL) or None, error estimate, dt-scaled stages dt_i * k_ij).

        The stages are kept scaled by each row's dt, so every stage state y + sum_j a_j dt k_j
        is one matrix-vector product added to y. Without autograd they go into one zeroed
        buffer (the weights cover all stages, zero on those not computed yet); with autograd
        they are stacked afresh (no in-place writes)."""
        stages = self.tableau.stages
        h = self.tensor(dt).view(self.column_shape)
        clocks = t + self.c_column * dt
        clocks[self.c_one] = t_new
        times = self.tensor(clocks).unbind(0)
        graph = torch.is_grad_enabled() and (y.requires_grad or f0.requires_grad)
        y_flat = y.reshape(-1)
        if graph:
            hks = [f0 * h]
        else:
            buffer = torch.zeros((stages, *y.shape), dtype=y.dtype, device=y.device)
            hks = list(buffer.unbind(0))
            torch.mul(f0, h, out=hks[0])
            columns = buffer.view(stages, -1).t()

        def plus(w: Tensor, base: Tensor | None = y_flat) -> Tensor:  # base + sum_j w_j dt k_j
            if graph:
                n = len(hks)
                ks = torch.stack(hks).view(n, -1).t()
                out = torch.mv(ks, w[:n]) if base is None else torch.addmv(base, ks, w[:n])
            else:
                out = torch.mv(columns, w) if base is None else torch.addmv(base, columns, w)
            return out.view_as(y)

        y_stage, k = y, f0
        for i in range(1, stages):
            y_stage = plus(self.a[i - 1])
            k = func(times[i], y_stage)
            if graph:
                hks.append(k * h)
            else:
                torch.mul(k, h, out=hks[i])
        y_new, f_new = (y_stage, k) if self.tableau.fsal else (plus(self.b), None)
        return y_new, f_new, plus(self.b_err, None), hks


def interpolate_rows(
    tableau: ButcherTableau, s: np.ndarray, y0: Tensor, y1: Tensor, hks: Sequence[Tensor],
    hf1: Tensor,
) -> Tensor:  # fmt: skip
    """interpolation.interpolate for rows with their own position s, from the dt-scaled stages
    hks and dt-scaled derivative hf1 at the step's end."""
    col = lambda w: row_column(torch.from_numpy(np.ascontiguousarray(w)), y0)  # noqa: E731
    if tableau.c_mid is not None:
        w = np.stack([np.ones_like(s), s, s**2, s**3, s**4], 1) @ _QUARTIC
        coeffs = [w[:, 2] * c for c in tableau.c_mid]
        coeffs[0] = coeffs[0] + w[:, 3]
        out = col(w[:, 0] + w[:, 2]) * y0 + col(w[:, 1]) * y1
        for c, k in zip([*coeffs, w[:, 4]], [*hks, hf1]):
            out = out + col(c) * k
        return out
    w00, w01, w10, w11 = hermite_weights(s)
    return col(w00) * y0 + col(w01) * y1 + col(w10) * hks[0] + col(w11) * hf1


@dataclass
class RowSolution:
    ys: Tensor  # (n, batch, ...): NaN where a row did not reach an output time
    clock: RowClock


def solve_rows(
    func: RowFunc,
    y0: Tensor,
    times: np.ndarray,
    tableau: ButcherTableau,
    control: StepSizeController,
    options: AdaptiveOptions,
    rtol: Tolerance,
    atol: Tolerance,
    on_failure: str,
) -> RowSolution:
    """Integrate every row of y0 over its own output times (times: (batch, n), monotone rows)."""
    batch, n = times.shape
    t0, t_end = times[:, 0].copy(), times[:, -1].copy()
    direction = np.where(t_end >= t0, 1.0, -1.0)
    f = func(row_clock(t0, y0), y0)
    nfe0 = 1
    if options.first_step is not None:
        h = np.full(batch, abs(options.first_step))
    else:
        with torch.no_grad():
            h = initial_steps(func, t0, y0.detach(), f.detach(), direction, tableau.order,
                              rtol, atol)  # fmt: skip
        nfe0 = 2
    clock = RowClock(tableau, control, options, t0, t_end.copy(), t_end, h, on_failure)
    clock.nfe += nfe0
    stages = Stages(tableau, y0)
    ys: list[Tensor | None] = [y0, *[None] * (n - 1)]
    out = Outputs(times)
    y = y0
    while clock.running.any():
        dt, t_new, lands = clock.propose()
        running = clock.running
        if not running.any():
            break
        t = clock.t
        y_new, f_new, err, ks = stages.step(func, t, y, dt, t_new, f)
        ratio = row_ratios(err, y, y_new, rtol, atol)
        accepted, _ = clock.settle(dt, t_new, lands, ratio)
        if not accepted.any():
            continue
        if f_new is None:
            f_new = func(row_clock(t_new, y0), y_new)
        out.record(tableau, accepted, t, t_new, dt, y, y_new, ks, f_new)
        if (accepted == running).all():  # rows not running are never read again
            y, f = y_new, f_new
        else:
            mask = row_mask(accepted, y)
            y = torch.where(mask, y_new, y)
            f = torch.where(mask, f_new, f)
    for k in range(1, n):
        ys[k] = _stitch(out.pieces[k], y0)
    return RowSolution(torch.stack(ys), clock)


class Outputs:
    """The output times of each row still ahead of it, and the values recorded so far."""

    def __init__(self, times: np.ndarray) -> None:
        self.times = times
        batch, n = times.shape
        self.nxt = np.ones(batch, dtype=np.int64)
        self.rows = np.arange(batch)
        # Past the last output: an infinite time in the row's direction, never due.
        self.direction = np.where(times[:, -1] >= times[:, 0], 1.0, -1.0)
        beyond = (self.direction * np.inf)[:, None]
        self.padded = np.concatenate([times, beyond], 1)
        self.upcoming = self.padded[:, 1].copy()
        # pieces[k]: (rows, values) of output k, stitched together at the end.
        self.pieces: list[list[tuple[np.ndarray, Tensor]]] = [[] for _ in range(n)]

    def record(
        self, tableau: ButcherTableau, accepted: np.ndarray, t: np.ndarray, t_new: np.ndarray,
        dt: np.ndarray, y: Tensor, y_new: Tensor, ks: list[Tensor], f_new: Tensor,
    ) -> None:  # fmt: skip
        """The outputs the accepted steps passed (dense output, as the scalar loop)."""
        while True:
            due = accepted & (self.direction * (self.upcoming - t_new) <= 0)
            if not due.any():
                return
            tau = self.upcoming
            exact = due & (tau == t_new)
            inner = due & ~exact
            for k in sorted(set(self.nxt[due].tolist())):
                at_k = self.nxt == k
                if (exact & at_k).any():
                    rows = np.flatnonzero(exact & at_k)
                    self.pieces[k].append((rows, y_new[torch.from_numpy(rows).to(y.device)]))
                if (inner & at_k).any():
                    rows = np.flatnonzero(inner & at_k)
                    index = torch.from_numpy(rows).to(y.device)
                    s = (tau[rows] - t[rows]) / dt[rows]
                    hf1 = f_new[index] * row_column(torch.from_numpy(dt[rows]), y)
                    values = interpolate_rows(tableau, s, y[index], y_new[index],
                                              [k_[index] for k_ in ks], hf1)  # fmt: skip
                    self.pieces[k].append((rows, values))
            self.nxt += due
            self.upcoming = self.padded[self.rows, self.nxt]


def _stitch(parts: list[tuple[np.ndarray, Tensor]], like: Tensor) -> Tensor:
    """One output time's values for all rows from the pieces recorded; NaN for rows missing."""
    if len(parts) == 1 and len(parts[0][0]) == like.shape[0]:
        rows, values = parts[0]
        if (rows == np.arange(len(rows))).all():
            return values
    out = torch.full_like(like, math.nan)
    for rows, values in parts:
        out = out.index_copy(0, torch.from_numpy(rows).to(like.device), values)
    return out

"""Per-sample adaptive solves: every batch row takes its own steps, in one batched computation.

Row i of y0 (shape (batch, ...)) gets its own step size, error test (the RMS norm over its own
elements), acceptance and end, so it takes the same accepted steps as `odeint` on that row
alone (its states agree to rounding: the batched sums round differently in the last bits, which
can only flip a step whose error ratio is 1 to rounding). All rows are stepped together: every
stage is one call of func on the whole batch, with t a tensor of shape (batch,) holding each
row's time. Rows that have finished (or failed) are
masked, not dropped: they stay in the batch with a zero step, so func always sees the full
batch in its original row order (it may use per-row data such as a vector of parameters).

The step-size bookkeeping (per_sample_control.RowClock: times, step sizes, counts, status) lives
on the host in numpy, like the scalar loop's python floats; the one host synchronisation per
step is the rows' error ratios.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from pyode.solver.controller import AdaptiveOptions, StepSizeController
from pyode.solver.interpolation import _QUARTIC, hermite_weights
from pyode.solver.norms import Tolerance
from pyode.solver.per_sample_control import (
    RowClock,
    RowFunc,
    initial_steps,
    row_clock,
    row_column,
    row_mask,
    row_ratios,
    to_array,
)
from pyode.solver.stats import SolverStats
from pyode.solver.tableaus import ButcherTableau


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
        self._buffer: Tensor | None = None
        self._stages: list[Tensor] = []
        self._columns: Tensor | None = None

    def buffer(self, y: Tensor) -> tuple[list[Tensor], Tensor]:
        """The stages' buffer, zeroed (a stale non-finite stage times a zero weight would be
        NaN): its stages and its columns (one per stage). One buffer serves every step; what a
        step returns from it is read before the next step begins."""
        if self._buffer is None or self._buffer.shape[1:] != y.shape:
            self._buffer = torch.empty((self.tableau.stages, *y.shape), dtype=y.dtype,
                                       device=y.device)  # fmt: skip
            self._stages = list(self._buffer.unbind(0))
            self._columns = self._buffer.view(self.tableau.stages, -1).t()
        self._buffer.zero_()
        return self._stages, self._columns

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
        buffer (the weights cover all stages, zero on those not computed yet), whose stages are
        returned: valid until the next step; with autograd they are stacked afresh (no in-place
        writes)."""
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
            hks, columns = self.buffer(y)
            torch.mul(f0, h, out=hks[0])

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
    stats: SolverStats | None = None,
) -> RowSolution:
    """Integrate every row of y0 over its own output times (times: (batch, n), monotone rows);
    `stats` receives the rows' counts before a failure is raised."""
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
    clock = RowClock(tableau, control, options, t0, t_end.copy(), t_end, h, on_failure, stats)
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

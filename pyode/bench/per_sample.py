"""Per-sample steps: pyode's odeint(per_sample=True) beside torchode and pyode's joint solve.

Workload: 64 Van der Pol oscillators x'' = mu (1 - x^2) x' - x with mu = linspace(0.1, 10), from
(x, x') = (2, 0) over [0, 10], dopri5 at rtol = atol = 1e-6. T = 10 covers more than one period
of the mild rows (about 2 pi) and, for mu = 10, the whole slow phase (about mu (3/2 - ln 2) = 8)
and the fast jump that ends it: rows need from tens to over a hundred steps, so per-row step
sizes matter. Two timings, each library alternating per repeat in one process:

* solve: the forward solve without gradients (torchode's AutoDiffAdjoint, per-row steps);
* adjoint: one training step (final-state loss, backward) of a parametrised Van der Pol field
  (the oscillator plus a small MLP 2-16-2 correction), pyode's per-sample adjoint against
  torchode's BacksolveAdjoint (per-row steps backwards too), with mu = linspace(0.1, 1): solving
  the state backwards along an attracting limit cycle amplifies errors like exp(mu t), and from
  mu of about 2 on [0, 10] (mu of 9 already on [0, 1]) the backward solve's step size
  underflows, in pyode's joint adjoint as in its per-sample one (torchode's BacksolveAdjoint,
  on 8 rows with mu up to 10, returned NaN parameter gradients after 37 s). torchode's adjoint
  calls the field on one row at a time (vmapped), so mu travels in the state as a third,
  constant component in both libraries.

    python -m pyode.bench per_sample [--repeats 10] [--rows 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from pyode.atomic import write_csv
from pyode.solver import SolverStats, odeint
from pyode.threads import set_torch_threads

COLUMNS = ["case", "library", "median_seconds", "nfe", "max_row_steps", "ratio_to_torchode"]
T_END = 10.0
TOL = 1e-6
ADJOINT_MU = 1.0  # the largest mu of the adjoint workload (see above)


class VanDerPol(nn.Module):
    """(x, v) -> (v, mu (1 - x^2) v - x), mu one value per row (a buffer)."""

    def __init__(self, mu: Tensor) -> None:
        super().__init__()
        self.register_buffer("mu", mu)

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        x, v = y[..., 0], y[..., 1]
        return torch.stack([v, self.mu * (1 - x * x) * v - x], -1)


class LearnedVanDerPol(nn.Module):
    """(x, v, mu) -> Van der Pol plus an MLP correction on (x, v); mu constant in time."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
        # batched (in torchode's vmapped adjoint: vmapped) calls; a list, as setting an
        # attribute of an nn.Module is slow enough to show in these timings
        self.calls = [0]
        with torch.no_grad():
            for p in self.net.parameters():
                p.mul_(0.1)

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        self.calls[0] += 1
        x, v, mu = y[..., 0], y[..., 1], y[..., 2]
        base = torch.stack([v, mu * (1 - x * x) * v - x, torch.zeros_like(mu)], -1)
        return base + nn.functional.pad(self.net(y[..., :2]), (0, 1))


def _mu(rows: int, largest: float = 10.0) -> Tensor:
    return torch.linspace(0.1, largest, rows, dtype=torch.float64)


def _y0(rows: int) -> Tensor:
    return torch.tensor([2.0, 0.0], dtype=torch.float64).expand(rows, 2).contiguous()


def _times() -> Tensor:
    return torch.tensor([0.0, T_END], dtype=torch.float64)


def _torchode_problem(to: Any, y0: Tensor, t: Tensor) -> Any:
    """The same problem for torchode: its per-row start, end and output times."""
    rows = y0.shape[0]
    return to.InitialValueProblem(y0=y0, t_start=t[0].expand(rows), t_end=t[-1].expand(rows),
                                  t_eval=t.expand(rows, -1))  # fmt: skip


def solve_cases(rows: int) -> dict[str, Callable[[], tuple[int, int]]]:
    """Forward solves, no gradients: each returns (batched func calls, most steps of a row)."""
    func, y0, t = VanDerPol(_mu(rows)), _y0(rows), _times()

    def pyode_rows() -> tuple[int, int]:
        stats = SolverStats()
        with torch.no_grad():
            odeint(func, y0, t, method="dopri5", rtol=TOL, atol=TOL, adjoint=False,
                   per_sample=True, stats=stats)  # fmt: skip
        steps = max(a + r for a, r in zip(stats.n_accepted_per_sample, stats.n_rejected_per_sample))
        return stats.nfe_forward, steps

    def pyode_joint() -> tuple[int, int]:
        stats = SolverStats()
        with torch.no_grad():
            odeint(func, y0, t, method="dopri5", rtol=TOL, atol=TOL, adjoint=False, stats=stats)
        return stats.nfe_forward, stats.n_accepted + stats.n_rejected

    cases = {"pyode_per_sample": pyode_rows, "pyode_joint": pyode_joint}
    if importlib.util.find_spec("torchode") is not None:
        import torchode as to

        term = to.ODETerm(func)
        control = to.IntegralController(atol=TOL, rtol=TOL, term=term)
        solver = to.AutoDiffAdjoint(to.Dopri5(term=term), control)
        problem = _torchode_problem(to, y0, t)

        def torchode() -> tuple[int, int]:
            with torch.no_grad():
                solution = solver.solve(problem)
            return int(solution.stats["n_f_evals"].max()), int(solution.stats["n_steps"].max())

        cases["torchode"] = torchode
    return cases


def adjoint_cases(rows: int) -> dict[str, Callable[[], tuple[int, int]]]:
    """One training step each: forward, final-state loss, backward (parameter gradients)."""
    torch.manual_seed(0)
    func = LearnedVanDerPol().double()
    y0 = torch.cat([_y0(rows), _mu(rows, ADJOINT_MU)[:, None]], 1)
    t = _times()

    def pyode_rows() -> tuple[int, int]:
        stats = SolverStats()
        ys = odeint(func, y0, t, method="dopri5", rtol=TOL, atol=TOL, per_sample=True,
                    stats=stats)  # fmt: skip
        ys[-1, :, :2].square().mean().backward()
        forward = zip(stats.n_accepted_per_sample, stats.n_rejected_per_sample)
        backward = zip(stats.n_accepted_backward_per_sample, stats.n_rejected_backward_per_sample)
        steps = max(a + r + ab + rb for (a, r), (ab, rb) in zip(forward, backward))
        return stats.nfe_forward + stats.nfe_backward, steps

    cases = {"pyode_per_sample": pyode_rows}
    if importlib.util.find_spec("torchode") is not None:
        import torchode as to

        term = to.ODETerm(func)
        control = to.IntegralController(atol=TOL, rtol=TOL, term=term)
        solver = to.BacksolveAdjoint(term, to.Dopri5(term=term), control)
        problem = _torchode_problem(to, y0, t)

        def torchode() -> tuple[int, int]:
            calls = func.calls[0]
            solution = solver.solve(problem)
            solution.ys[:, -1, :2].square().mean().backward()  # ys: (rows, times, features)
            steps = solution.stats["n_steps"]  # forward; the backward's are added to the stats
            for backward in solution.stats.get("backsolve", []):
                steps = steps + backward["n_steps"]
            return func.calls[0] - calls, int(steps.max())

        cases["torchode"] = torchode
    return cases


def _timed(step: Callable[[], tuple[int, int]]) -> tuple[float, Any]:
    start = time.perf_counter()
    counts = step()
    return time.perf_counter() - start, counts


def run(repeats: int, rows: int) -> list[dict[str, Any]]:
    """One row per (case, library): the median over `repeats`, libraries alternating."""
    out: list[dict[str, Any]] = []
    for case, cases in (("solve", solve_cases(rows)), ("adjoint", adjoint_cases(rows))):
        seconds: dict[str, list[float]] = {name: [] for name in cases}
        counts: dict[str, Any] = {}
        for step in cases.values():  # warm-up, untimed
            step()
        for r in range(repeats):
            order = list(cases) if r % 2 == 0 else list(cases)[::-1]
            for name in order:
                elapsed, counts[name] = _timed(cases[name])
                seconds[name].append(elapsed)
        medians = {name: statistics.median(s) for name, s in seconds.items()}
        for name in cases:
            out.append({
                "case": case, "library": name, "median_seconds": medians[name],
                "nfe": counts[name][0] or None, "max_row_steps": counts[name][1] or None,
                "ratio_to_torchode": medians[name] / medians["torchode"]
                if "torchode" in medians else None,
            })  # fmt: skip
    return out


def report(repeats: int, rows: int, out: str | None) -> None:
    """Run, print the table and every ratio, write the CSV (when `out` is given)."""
    import pandas as pd

    frame = pd.DataFrame(run(repeats, rows), columns=COLUMNS)
    print(f"per-sample steps: {rows} Van der Pol rows, mu 0.1..10 (adjoint: 0.1..{ADJOINT_MU:g}), "
          f"t in [0, {T_END:g}], dopri5 rtol = atol = {TOL:g}, repeats {repeats}, "
          f"threads {torch.get_num_threads()}")  # fmt: skip
    print(frame.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    pivot = frame.pivot(index="case", columns="library", values="median_seconds")
    if "torchode" in pivot:
        print(f"solve: pyode per_sample / torchode = "
              f"{pivot.loc['solve', 'pyode_per_sample'] / pivot.loc['solve', 'torchode']:.3g} "
              "(target <= 0.7)")  # fmt: skip
        print(f"adjoint step: pyode per_sample / torchode BacksolveAdjoint = "
              f"{pivot.loc['adjoint', 'pyode_per_sample'] / pivot.loc['adjoint', 'torchode']:.3g}"
              " (target <= 0.5)")  # fmt: skip
    joint = pivot.loc["solve", "pyode_per_sample"] / pivot.loc["solve", "pyode_joint"]
    print(f"solve: pyode per_sample / pyode joint = {joint:.3g}")
    if out:
        write_csv(out, frame)
        print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pyode.bench per_sample",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="results/bench/per_sample.csv")
    args = parser.parse_args(argv)  # fmt: skip
    if args.repeats < 1 or args.rows < 1 or args.threads < 1:
        parser.error("--repeats, --rows and --threads must be >= 1")
    set_torch_threads(args.threads)
    report(args.repeats, args.rows, args.out)
    return 0

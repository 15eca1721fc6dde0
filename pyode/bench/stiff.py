"""Stiff problems: pyode's kvaerno5 beside scipy's Radau and BDF, all in float64.

Workloads: Van der Pol with mu = 1000 on [0, 3000] from (2, 0) at rtol = atol = 1e-6, and the
Robertson chemical kinetics (k1 = 0.04, k2 = 3e7, k3 = 1e4, y0 = (1, 0, 0)) to t = 1e5 at
rtol = 1e-6, atol = 1e-10. The error is the largest deviation at the final time from scipy's
Radau at rtol = 1e-12 (Robertson: relative to each component). scipy estimates its Jacobians
by finite differences, pyode's come from autograd; the evaluations counted include both. Van
der Pol also tries dopri5 with max_num_steps = 20000, which does not finish. Timings are
medians over `--repeats` runs; ratio = pyode's time / scipy's.

    python -m pyode.bench stiff [--repeats 3] [--out results/bench/stiff.csv]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.integrate import solve_ivp
from torch import Tensor

from pyode.atomic import write_csv
from pyode.solver import ODESolverError, SolverStats, odeint
from pyode.threads import set_torch_threads

# jacobians / factorizations: pyode's SolverStats, scipy's njev / nlu.
COLUMNS = ["case", "solver", "median_seconds", "steps", "rejected", "nfe", "jacobians",
           "factorizations", "error", "ratio_radau", "ratio_bdf"]  # fmt: skip
MAX_STEPS_TARGET = 5000  # kvaerno5's accepted steps on Van der Pol (the target)
ERROR_TARGET = 1e-3
DOPRI5_STEPS = 20_000


@dataclass(frozen=True)
class Problem:
    name: str
    torch_f: Callable[[Tensor, Tensor], Tensor]
    numpy_f: Callable[[float, np.ndarray], list[float]]
    y0: tuple[float, ...]
    t_end: float
    rtol: float
    atol: float
    relative_error: bool


def _vdp_torch(t: Tensor, y: Tensor, mu: float = 1000.0) -> Tensor:
    return torch.stack([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])


def _vdp_numpy(t: float, y: np.ndarray, mu: float = 1000.0) -> list[float]:
    return [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]]


def _robertson_torch(t: Tensor, y: Tensor) -> Tensor:
    a, b, c = y
    return torch.stack([-0.04 * a + 1e4 * b * c, 0.04 * a - 1e4 * b * c - 3e7 * b * b,
                        3e7 * b * b])  # fmt: skip


def _robertson_numpy(t: float, y: np.ndarray) -> list[float]:
    a, b, c = y
    return [-0.04 * a + 1e4 * b * c, 0.04 * a - 1e4 * b * c - 3e7 * b * b, 3e7 * b * b]


VDP_END = 3000.0
ROBERTSON_END = 1e5


def problems(vdp_end: float = VDP_END, robertson_end: float = ROBERTSON_END) -> tuple[Problem, ...]:
    return (
        Problem("vdp_mu1000", _vdp_torch, _vdp_numpy, (2.0, 0.0), vdp_end, 1e-6, 1e-6, False),
        Problem("robertson", _robertson_torch, _robertson_numpy, (1.0, 0.0, 0.0), robertson_end,
                1e-6, 1e-10, True),
    )


PROBLEMS = problems()


def reference(problem: Problem) -> np.ndarray:
    """The state at t_end from scipy's Radau at rtol = 1e-12 (atol 1e-12, Robertson 1e-16)."""
    atol = 1e-16 if problem.relative_error else 1e-12
    sol = solve_ivp(problem.numpy_f, (0.0, problem.t_end), problem.y0, method="Radau",
                    rtol=1e-12, atol=atol)  # fmt: skip
    return sol.y[:, -1]


def _error(y: np.ndarray, ref: np.ndarray, relative: bool) -> float:
    diff = np.abs(y - ref)
    return float((diff / np.maximum(np.abs(ref), 1e-300)).max() if relative else diff.max())


def run_pyode(problem: Problem, method: str = "kvaerno5", **options: Any) -> dict[str, Any]:
    stats = SolverStats()
    y0 = torch.tensor(problem.y0, dtype=torch.float64)
    t = torch.tensor([0.0, problem.t_end], dtype=torch.float64)
    start = time.perf_counter()
    ys = odeint(problem.torch_f, y0, t, method=method, rtol=problem.rtol, atol=problem.atol,
                adjoint=False, options=options or None, stats=stats)  # fmt: skip
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "y": ys[-1].numpy(), "steps": stats.n_accepted,
            "rejected": stats.n_rejected, "nfe": stats.nfe_forward,
            "jacobians": stats.n_jacobians, "factorizations": stats.n_factorizations}  # fmt: skip


def run_scipy(problem: Problem, method: str) -> dict[str, Any]:
    start = time.perf_counter()
    sol = solve_ivp(problem.numpy_f, (0.0, problem.t_end), problem.y0, method=method,
                    rtol=problem.rtol, atol=problem.atol)  # fmt: skip
    seconds = time.perf_counter() - start
    if not sol.success:
        raise RuntimeError(f"scipy {method} failed on {problem.name}: {sol.message}")
    return {"seconds": seconds, "y": sol.y[:, -1], "steps": sol.t.size - 1, "rejected": None,
            "nfe": sol.nfev, "jacobians": sol.njev, "factorizations": sol.nlu}  # fmt: skip


SOLVERS: dict[str, Callable[[Problem], dict[str, Any]]] = {
    "pyode kvaerno5": run_pyode,
    "scipy Radau": lambda p: run_scipy(p, "Radau"),
    "scipy BDF": lambda p: run_scipy(p, "BDF"),
}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per (problem, solver): median time over the repeats, counts of the last run,
    error against the tight reference. The solvers alternate within each repeat."""
    rows: list[dict[str, Any]] = []
    for problem in problems(args.vdp_end, args.robertson_end):
        ref = reference(problem)
        times: dict[str, list[float]] = {name: [] for name in SOLVERS}
        last: dict[str, dict[str, Any]] = {}
        for r in range(args.repeats):
            order = list(SOLVERS) if r % 2 == 0 else list(SOLVERS)[::-1]
            for name in order:
                last[name] = SOLVERS[name](problem)
                times[name].append(last[name]["seconds"])
        medians = {name: statistics.median(v) for name, v in times.items()}
        for name, out in last.items():
            rows.append({
                "case": problem.name,
                "solver": name,
                "median_seconds": medians[name],
                "steps": out["steps"],
                "rejected": out["rejected"],
                "nfe": out["nfe"],
                "jacobians": out["jacobians"],
                "factorizations": out["factorizations"],
                "error": _error(out["y"], ref, problem.relative_error),
                "ratio_radau": medians[name] / medians["scipy Radau"],
                "ratio_bdf": medians[name] / medians["scipy BDF"],
            })  # fmt: skip
    return rows


def dopri5_on_vdp() -> str:
    """What dopri5 does with Van der Pol (mu = 1000) and max_num_steps = 20000."""
    try:
        run_pyode(PROBLEMS[0], "dopri5", max_num_steps=DOPRI5_STEPS)
    except ODESolverError as exc:
        return f"dopri5 does not finish: {exc}"
    return "dopri5 finished"


def report(args: argparse.Namespace) -> None:
    """Run, print the table, the target and dopri5's outcome, write the CSV (`args.out`)."""
    import pandas as pd

    frame = pd.DataFrame(run(args), columns=COLUMNS)
    print(f"stiff problems: float64, threads {torch.get_num_threads()}, repeats {args.repeats}; "
          "error at the final time against scipy Radau at rtol 1e-12 (Robertson: relative); "
          "ratio = solver / scipy")  # fmt: skip
    print(frame.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    vdp = frame[(frame["case"] == "vdp_mu1000") & (frame["solver"] == "pyode kvaerno5")].iloc[0]
    met = vdp["steps"] <= MAX_STEPS_TARGET and vdp["error"] <= ERROR_TARGET
    span = "" if args.vdp_end == VDP_END else f", on [0, {args.vdp_end:g}] instead of the target's"
    print(f"Van der Pol target (<= {MAX_STEPS_TARGET} accepted steps, error <= {ERROR_TARGET:g}): "
          f"{'met' if met else 'NOT met'} ({vdp['steps']} steps, error {vdp['error']:.3g}{span})")
    if not args.skip_dopri5:
        print(dopri5_on_vdp())
    write_csv(args.out, frame)
    print(f"wrote {args.out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyode.bench stiff", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="results/bench/stiff.csv")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: stable timings on a shared machine)")
    parser.add_argument("--skip-dopri5", action="store_true",
                        help="do not try dopri5 on Van der Pol (it takes 20000 steps)")
    parser.add_argument("--vdp-end", type=float, default=VDP_END,
                        help="end of Van der Pol's span (the target is for the default)")
    parser.add_argument("--robertson-end", type=float, default=ROBERTSON_END)
    args = parser.parse_args(argv)  # fmt: skip
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if not (args.vdp_end > 0 and args.robertson_end > 0):
        parser.error("--vdp-end and --robertson-end must be positive")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    set_torch_threads(args.threads)
    report(args)
    return 0

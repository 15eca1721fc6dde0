"""Time one training step (forward + backward) of three workloads: pyode vs torchdiffeq
(and torchode where it is installed).

Workloads: the MNIST ODE block (conv dynamics on 64x7x7, rk4 and dopri5), torchdiffeq's spiral
demo (2-d state, 20 windows of 10 times, MLP 2-50-2 on y^3, dopri5 1e-6, adjoint) and a
512x64 MLP (64 -> 256 -> 64, dopri5 1e-5, adjoint). All libraries integrate the same module in
one process, alternating per repeat so machine load affects them alike. pyode's rows also give
steps per second and host synchronisations per solver step. torchdiffeq (and torchode) are
development dependencies imported only here.

Then the per-sample workload (pyode.bench.per_sample): per_sample=True against torchode and the
joint solve, and a per-sample adjoint training step against torchode's BacksolveAdjoint; and the
stiff workloads (pyode.bench.stiff): kvaerno5 beside scipy's Radau and BDF. Both run on the CPU
in float64.

    python -m pyode.bench solver [--repeats 10] [--device cpu|cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pyode.atomic import write_csv
from pyode.bench import per_sample, stiff
from pyode.models.layers import ConvODEFunc
from pyode.solver import SolverStats, odeint
from pyode.solver.host_sync import HOST_SYNCS
from pyode.threads import set_torch_threads

COLUMNS = ["case", "library", "median_seconds", "nfe_forward", "nfe_backward", "steps",
           "steps_per_second", "syncs_per_step", "ratio"]  # fmt: skip


class Counted(nn.Module):
    """Wraps dynamics func(t, y) and counts its calls (every library calls the same module)."""

    def __init__(self, func: nn.Module) -> None:
        super().__init__()
        self.func = func
        self.calls = 0

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        self.calls += 1
        return self.func(t, y)


class CubeMLP(nn.Module):
    """torchdiffeq's spiral demo dynamics: Linear(2, 50) -> tanh -> Linear(50, 2) on y^3."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2))

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        return self.net(y**3)


class WideMLP(nn.Module):
    """dim -> 4 dim -> dim with tanh, time-independent."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, 4 * dim), nn.Tanh(), nn.Linear(4 * dim, dim))

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        return self.net(y)


class RowFlat(nn.Module):
    """func on states flattened per batch row, with torchode's per-row times (all equal here);
    torchode's adjoint calls it on one row at a time (vmapped), with a 0-d t."""

    def __init__(self, func: nn.Module, shape: torch.Size) -> None:
        super().__init__()
        self.func = func
        self.shape = shape

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        time = t if t.dim() == 0 else t[0]
        return self.func(time, y.reshape(*y.shape[:-1], *self.shape[1:])).reshape(y.shape)


@dataclass(frozen=True)
class Case:
    name: str
    workload: str
    method: str
    adjoint: bool
    rtol: float = 1e-3
    atol: float = 1e-3
    seminorm: bool = False
    steps: int = 4


CASES = (
    Case("rk4_adjoint", "mnist", "rk4", True),
    Case("rk4_direct", "mnist", "rk4", False),
    Case("dopri5_adjoint", "mnist", "dopri5", True),
    Case("dopri5_seminorm", "mnist", "dopri5", True, seminorm=True),
    Case("spiral_dopri5_adjoint", "spiral", "dopri5", True, rtol=1e-6, atol=1e-6),
    Case("mlp_dopri5_adjoint", "mlp", "dopri5", True, rtol=1e-5, atol=1e-5),
)


@dataclass
class Workload:
    func: Counted
    y0: Tensor
    t: Tensor
    target: Tensor | None  # the spiral's observed windows; None: loss is mean(y^2)

    def loss(self, ys: Tensor) -> Tensor:
        if self.target is None:
            return ys[-1].square().mean()
        return (ys - self.target).abs().mean()


def _spiral(dev: torch.device, windows: int = 20, length: int = 10) -> Workload:
    """torchdiffeq's ode_demo: windows of the true spiral dy/dt = y^3 A as targets."""
    true_a = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], device=dev)
    t_all = torch.linspace(0.0, 25.0, 1000, device=dev)
    with torch.no_grad():
        true_y = odeint(lambda t, y: (y**3) @ true_a, torch.tensor([[2.0, 0.0]], device=dev),
                        t_all, adjoint=False, rtol=1e-7, atol=1e-9)  # fmt: skip
    starts = torch.randperm(1000 - length)[:windows]
    y0 = true_y[starts]  # (windows, 1, 2)
    target = torch.stack([true_y[starts + i] for i in range(length)])  # (length, windows, 1, 2)
    return Workload(Counted(CubeMLP().to(dev)), y0, t_all[:length], target)


def build(workload: str, dev: torch.device, args: argparse.Namespace) -> Workload:
    t = torch.tensor([0.0, 1.0], device=dev)
    if workload == "mnist":
        y0 = torch.randn(args.batch, args.dim, args.size, args.size, device=dev)
        return Workload(Counted(ConvODEFunc(args.dim).to(dev)), y0.requires_grad_(True), t, None)
    if workload == "mlp":
        y0 = torch.randn(args.mlp_batch, args.mlp_dim, device=dev, requires_grad=True)
        return Workload(Counted(WideMLP(args.mlp_dim).to(dev)), y0, t, None)
    return _spiral(dev)


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)
    nfe_forward: int = 0
    nfe_backward: int = 0
    steps: int = 0
    syncs: int = 0


def _pyode_step(w: Workload, case: Case) -> tuple[int, int, int, int]:
    stats = SolverStats()
    kw: dict[str, Any] = {"adjoint_norm": "seminorm"} if case.seminorm else {}
    options = {"n_steps": case.steps} if case.method == "rk4" else None
    syncs = HOST_SYNCS.count
    out = odeint(w.func, w.y0, w.t, method=case.method, rtol=case.rtol, atol=case.atol,
                 adjoint=case.adjoint, options=options, stats=stats, **kw)  # fmt: skip
    w.loss(out).backward()
    steps = (stats.n_accepted + stats.n_rejected + stats.n_accepted_backward
             + stats.n_rejected_backward)  # fmt: skip
    return stats.nfe_forward, stats.nfe_backward, steps, HOST_SYNCS.count - syncs


def _torchdiffeq_step(w: Workload, case: Case) -> tuple[int, int, int, int]:
    import torchdiffeq

    options = None
    if case.method == "rk4":
        options = {"step_size": (float(w.t[-1]) - float(w.t[0])) / case.steps}
    start = w.func.calls
    if case.adjoint:
        kw: dict[str, Any] = {"adjoint_options": {"norm": "seminorm"}} if case.seminorm else {}
        out = torchdiffeq.odeint_adjoint(w.func, w.y0, w.t, method=case.method, rtol=case.rtol,
                                         atol=case.atol, options=options, **kw)  # fmt: skip
    else:
        out = torchdiffeq.odeint(w.func, w.y0, w.t, method=case.method, rtol=case.rtol,
                                 atol=case.atol, options=options)  # fmt: skip
    forward = w.func.calls - start
    w.loss(out).backward()
    backward = w.func.calls - start - forward
    return forward, backward if case.adjoint else forward, 0, 0


def _torchode_step(w: Workload, case: Case) -> tuple[int, int, int, int]:
    """torchode solves each batch row on its own clock: the state is flattened per row."""
    import torchode as to

    rows = w.y0.shape[0]
    term = to.ODETerm(RowFlat(w.func, w.y0.shape))
    controller = to.IntegralController(atol=case.atol, rtol=case.rtol, term=term)
    solver = to.BacksolveAdjoint(term, to.Dopri5(term=term), controller)
    problem = to.InitialValueProblem(y0=w.y0.reshape(rows, -1),
                                     t_eval=w.t.expand(rows, -1).contiguous())  # fmt: skip
    start = w.func.calls
    ys = solver.solve(problem).ys  # (rows, times, features)
    forward = w.func.calls - start
    w.loss(ys.transpose(0, 1).reshape(len(w.t), *w.y0.shape)).backward()
    return forward, w.func.calls - start - forward, 0, 0


def libraries(case: Case) -> dict[str, Callable[[Workload, Case], tuple[int, int, int, int]]]:
    libs = {"pyode": _pyode_step, "torchdiffeq": _torchdiffeq_step}
    if case.workload != "mnist" and importlib.util.find_spec("torchode") is not None:
        libs["torchode"] = _torchode_step
    return libs


def _timed(step: Callable[[], tuple], func: nn.Module, device: torch.device) -> tuple:
    func.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    counts = step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, counts


def run(args: argparse.Namespace, cases: tuple[Case, ...], seed: int = 0) -> list[dict[str, Any]]:
    """Return one row per (case, library) with the median time over `args.repeats` steps."""
    import torchdiffeq  # noqa: F401  (fail early with a clear ImportError)

    dev = torch.device(args.device)
    rows: list[dict[str, Any]] = []
    for case in cases:
        torch.manual_seed(seed)
        w = build(case.workload, dev, args)
        libs = libraries(case)
        timings = {name: Timing() for name in libs}
        for step in libs.values():  # warm-up, untimed
            _timed(functools.partial(step, w, case), w.func, dev)
        for r in range(args.repeats):
            order = list(libs) if r % 2 == 0 else list(libs)[::-1]
            for name in order:
                seconds, counts = _timed(functools.partial(libs[name], w, case), w.func, dev)
                timing = timings[name]
                timing.seconds.append(seconds)
                timing.nfe_forward, timing.nfe_backward, timing.steps, timing.syncs = counts
        medians = {name: statistics.median(tm.seconds) for name, tm in timings.items()}
        for name, tm in timings.items():
            rows.append({
                "case": case.name,
                "library": name,
                "median_seconds": medians[name],
                "nfe_forward": tm.nfe_forward,
                "nfe_backward": tm.nfe_backward,
                "steps": tm.steps if name == "pyode" else None,
                "steps_per_second": tm.steps / medians[name] if name == "pyode" else None,
                "syncs_per_step": tm.syncs / tm.steps if name == "pyode" and tm.steps else None,
                "ratio": medians[name] / medians["torchdiffeq"],
            })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyode.bench solver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", default="results/bench/solver.csv")
    parser.add_argument("--batch", type=int, default=128, help="MNIST block batch")
    parser.add_argument("--dim", type=int, default=64, help="MNIST block channels")
    parser.add_argument("--size", type=int, default=7, help="MNIST block height and width")
    parser.add_argument("--mlp-batch", type=int, default=512)
    parser.add_argument("--mlp-dim", type=int, default=64)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: stable timings on a shared machine)")
    parser.add_argument("--per-sample-rows", type=int, default=64,
                        help="rows of the per-sample workload (pyode.bench.per_sample; CPU, "
                             "float64), written beside --out as per_sample.csv; 0 skips it")
    parser.add_argument("--stiff-repeats", type=int, default=3,
                        help="repeats of the stiff workloads (pyode.bench.stiff; CPU, float64), "
                             "written beside --out as stiff.csv; 0 skips them")
    parser.add_argument("--cases", default=",".join(c.name for c in CASES),
                        help="comma-separated subset of: " + ", ".join(c.name for c in CASES))
    args = parser.parse_args(argv)  # fmt: skip
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.stiff_repeats < 0:
        parser.error("--stiff-repeats must be >= 0 (0 skips the stiff workloads)")
    if args.per_sample_rows < 0:
        parser.error("--per-sample-rows must be >= 0 (0 skips the per-sample workload)")
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        parser.error(f"--device must be cpu or cuda, got {args.device!r}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device} was asked for but torch sees no CUDA GPU "
                     f"(torch {torch.__version__}, CUDA {torch.version.cuda})")  # fmt: skip
    set_torch_threads(args.threads)
    by_name = {c.name: c for c in CASES}
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in by_name]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; valid: {', '.join(by_name)}")
    rows = run(args, tuple(by_name[c] for c in wanted))
    import pandas as pd

    frame = pd.DataFrame(rows, columns=COLUMNS)
    print(f"device: {args.device}, threads {args.threads}, MNIST batch {args.batch} state "
          f"{args.dim}x{args.size}x{args.size}, MLP {args.mlp_batch}x{args.mlp_dim}, "
          f"repeats {args.repeats}; ratio = library / torchdiffeq")  # fmt: skip
    print(frame.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    pivot = frame.pivot(index="case", columns="library", values="median_seconds")
    if "torchode" in pivot:
        for case, row in pivot.dropna(subset=["torchode"]).iterrows():
            print(f"{case}: pyode/torchode = {row['pyode'] / row['torchode']:.3g}")
    write_csv(args.out, frame)
    print(f"wrote {args.out}")
    if args.per_sample_rows:
        out = str(Path(args.out).with_name("per_sample.csv"))
        per_sample.report(args.repeats, args.per_sample_rows, out)
    if args.stiff_repeats:
        stiff.report(argparse.Namespace(
            repeats=args.stiff_repeats, out=str(Path(args.out).with_name("stiff.csv")),
            skip_dopri5=False, vdp_end=stiff.VDP_END, robertson_end=stiff.ROBERTSON_END,
        ))  # fmt: skip
    return 0

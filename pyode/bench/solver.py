"""Time one training step (forward + backward) of the MNIST ODE block: pyode vs torchdiffeq.

Both libraries integrate the same dynamics module in one process, alternating per repeat so
machine load affects them alike. torchdiffeq is a development dependency imported only here.

    python -m pyode.bench solver [--repeats 10] [--out results/bench/solver.csv] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from pyode.atomic import write_csv
from pyode.solver import SolverStats, odeint
from pyode.threads import set_torch_threads

COLUMNS = ["case", "library", "median_seconds", "nfe_forward", "nfe_backward", "ratio"]


class ConcatConv2d(nn.Module):
    """3x3 convolution whose input gets an extra channel filled with t."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim + 1, dim, 3, padding=1)

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        tt = torch.ones_like(x[:, :1]) * t
        return self.conv(torch.cat([tt, x], dim=1))


class MNISTDynamics(nn.Module):
    """GroupNorm -> ReLU -> conv(t) -> GroupNorm -> ReLU -> conv(t) -> GroupNorm; counts calls."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        groups = min(32, dim)
        self.norm1, self.norm2, self.norm3 = (nn.GroupNorm(groups, dim) for _ in range(3))
        self.conv1, self.conv2 = ConcatConv2d(dim), ConcatConv2d(dim)
        self.calls = 0

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        self.calls += 1
        out = self.conv1(t, torch.relu(self.norm1(x)))
        out = self.conv2(t, torch.relu(self.norm2(out)))
        return self.norm3(out)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    adjoint: bool
    rtol: float = 1e-3
    atol: float = 1e-3
    seminorm: bool = False
    steps: int = 4


CASES = (
    Case("rk4_adjoint", "rk4", True),
    Case("rk4_direct", "rk4", False),
    Case("dopri5_adjoint", "dopri5", True),
    Case("dopri5_seminorm", "dopri5", True, seminorm=True),
)


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)
    nfe_forward: int = 0
    nfe_backward: int = 0


def _pyode_step(func: MNISTDynamics, y0: Tensor, t: Tensor, case: Case) -> tuple[int, int]:
    stats = SolverStats()
    kw: dict[str, Any] = {"adjoint_norm": "seminorm"} if case.seminorm else {}
    options = {"n_steps": case.steps} if case.method == "rk4" else None
    out = odeint(func, y0, t, method=case.method, rtol=case.rtol, atol=case.atol,
                 adjoint=case.adjoint, options=options, stats=stats, **kw)  # fmt: skip
    out[-1].square().mean().backward()
    return stats.nfe_forward, stats.nfe_backward


def _torchdiffeq_step(func: MNISTDynamics, y0: Tensor, t: Tensor, case: Case) -> tuple[int, int]:
    import torchdiffeq

    options = None
    if case.method == "rk4":
        options = {"step_size": (float(t[-1]) - float(t[0])) / case.steps}
    start = func.calls
    if case.adjoint:
        kw: dict[str, Any] = {"adjoint_options": {"norm": "seminorm"}} if case.seminorm else {}
        out = torchdiffeq.odeint_adjoint(func, y0, t, method=case.method, rtol=case.rtol,
                                         atol=case.atol, options=options, **kw)  # fmt: skip
    else:
        out = torchdiffeq.odeint(func, y0, t, method=case.method, rtol=case.rtol,
                                 atol=case.atol, options=options)  # fmt: skip
    forward = func.calls - start
    out[-1].square().mean().backward()
    backward = func.calls - start - forward
    return forward, backward if case.adjoint else forward


def _timed(step: Callable[[], tuple[int, int]], func: nn.Module, device: torch.device) -> tuple:
    func.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    nfe = step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, nfe


def run(
    repeats: int = 10,
    batch: int = 128,
    dim: int = 64,
    size: int = 7,
    device: str = "cpu",
    cases: tuple[Case, ...] = CASES,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Return one row per (case, library) with the median time over `repeats` steps."""
    import torchdiffeq  # noqa: F401  (fail early with a clear ImportError)

    torch.manual_seed(seed)
    dev = torch.device(device)
    func = MNISTDynamics(dim).to(dev)
    y0 = torch.randn(batch, dim, size, size, device=dev, requires_grad=True)
    t = torch.tensor([0.0, 1.0], device=dev)
    libraries = {"pyode": _pyode_step, "torchdiffeq": _torchdiffeq_step}
    rows: list[dict[str, Any]] = []
    for case in cases:
        timings = {name: Timing() for name in libraries}
        for step in libraries.values():  # warm-up, untimed
            _timed(lambda step=step, case=case: step(func, y0, t, case), func, dev)
        for r in range(repeats):
            order = list(libraries) if r % 2 == 0 else list(libraries)[::-1]
            for name in order:
                seconds, (nfe_f, nfe_b) = _timed(
                    lambda name=name, case=case: libraries[name](func, y0, t, case), func, dev
                )
                timing = timings[name]
                timing.seconds.append(seconds)
                timing.nfe_forward, timing.nfe_backward = nfe_f, nfe_b
        medians = {name: statistics.median(tm.seconds) for name, tm in timings.items()}
        for name, tm in timings.items():
            rows.append({
                "case": case.name,
                "library": name,
                "median_seconds": medians[name],
                "nfe_forward": tm.nfe_forward,
                "nfe_backward": tm.nfe_backward,
                "ratio": medians["pyode"] / medians["torchdiffeq"],
            })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyode.bench solver", description=__doc__)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", default="results/bench/solver.csv")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--size", type=int, default=7)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: stable timings on a shared machine)")
    parser.add_argument("--cases", default=",".join(c.name for c in CASES),
                        help="comma-separated subset of: " + ", ".join(c.name for c in CASES))
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    set_torch_threads(args.threads)
    by_name = {c.name: c for c in CASES}
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in by_name]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; valid: {', '.join(by_name)}")
    rows = run(args.repeats, args.batch, args.dim, args.size, args.device,
               tuple(by_name[c] for c in wanted))  # fmt: skip
    import pandas as pd

    frame = pd.DataFrame(rows, columns=COLUMNS)
    print(f"device: {args.device}, threads {args.threads}, batch {args.batch}, "
          f"state {args.dim}x{args.size}x{args.size}, repeats {args.repeats}")  # fmt: skip
    print(frame.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    write_csv(args.out, frame)
    print(f"wrote {args.out}")
    return 0

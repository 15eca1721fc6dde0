"""Pieces shared by the experiments: seeding, devices, evaluation counting, summaries."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pyode.atomic import write_json
from pyode.provenance import git_commit, versions


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator for explicit sampling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from pyode.experiments.settings import ExperimentConfigError

        raise ExperimentConfigError("setting 'device' is 'cuda' but no CUDA device is available")
    return torch.device(name)


class CountedDynamics(nn.Module):
    """Wraps f(t, y) and counts its evaluations (forward and adjoint passes alike)."""

    def __init__(self, func: nn.Module) -> None:
        super().__init__()
        self.func = func
        self.calls = 0

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.func(t, y)


def rk4_reference(
    f: Callable[[torch.Tensor], torch.Tensor], y0: torch.Tensor, t: torch.Tensor, substeps: int
) -> torch.Tensor:
    """Classical RK4 with `substeps` steps between consecutive output times (ground-truth data).

    Deliberately independent of pyode's solvers so that the data never depends on the code under
    test.
    """
    out = [y0]
    y = y0
    for t0, t1 in itertools.pairwise(t):
        h = (t1 - t0) / substeps
        for _ in range(substeps):
            k1 = f(y)
            k2 = f(y + h / 2 * k1)
            k3 = f(y + h / 2 * k2)
            k4 = f(y + h * k3)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(y)
    return torch.stack(out)


class Stopwatch:
    """Seconds since construction (monotonic)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


def write_summary(
    out_dir: Path,
    name: str,
    settings: dict[str, Any],
    results: dict[str, Any],
    *,
    data_source: str = "synthetic",
    seconds: float | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Write `summary.json` with provenance around `results`; returns the written object."""
    summary = {
        "experiment": name,
        "data_source": data_source,
        "seed": settings.get("seed"),
        "settings": settings,
        **results,
        "device": device,
        "seconds": seconds,
        "versions": versions(),
        "git_commit": git_commit(),
    }
    write_json(out_dir / "summary.json", summary)
    return summary


class ExperimentError(RuntimeError):
    """An experiment could not run on its inputs (a failed measurement, an unusable run folder)."""

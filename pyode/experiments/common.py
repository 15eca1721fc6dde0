"""Pieces shared by the experiments: reference solutions, timing, summaries, their error."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from pyode.atomic import write_json
from pyode.provenance import git_commit, versions
from pyode.solver.errors import ODESolverError


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


@contextlib.contextmanager
def training_iteration(subject: str, iteration: int) -> Iterator[None]:
    """One optimiser iteration of `subject` (e.g. "cnf: the planar_1"): a solver failure inside it
    becomes an ExperimentError naming the iteration."""
    try:
        yield
    except ODESolverError as exc:
        raise ExperimentError(f"{subject} solver failed at iteration {iteration} ({exc}); "
                              "lower 'lr' or the tolerances") from exc


def check_finite_loss(loss: torch.Tensor, subject: str, iteration: int) -> None:
    """Stop training at the first non-finite loss, naming the iteration."""
    if not torch.isfinite(loss):
        raise ExperimentError(f"{subject} loss is {loss.item()} at iteration {iteration}; "
                              "lower 'lr'")

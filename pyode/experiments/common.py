"""Pieces shared by the experiments: a run's start and end (`ExperimentRun`: seeding, clocks, the
declared CSVs, summary.json), the one training loop (`train`), reference solutions, their error."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from pyode import registry
from pyode.atomic import write_csv, write_json
from pyode.provenance import git_commit, versions
from pyode.runtime import seed_everything
from pyode.solver.errors import ODESolverError
from pyode.solver.stats import SolverStats


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


def declared_outputs(name: str) -> dict[str, Any]:
    """What summary.json says about an experiment's files: its registry entry's CSVs with their
    columns and its figure size, so that readers (the R package) check the files against it."""
    entry = registry.experiment(name)
    width, height = entry.figure
    return {"outputs": {file: list(columns) for file, columns in entry.outputs.items()},
            "figure": {"width": width, "height": height}}


class ExperimentRun:
    """One run of experiment `name`: how every `run()` starts (python, numpy and torch seeded from
    the settings' seed; `generator` for explicit sampling; wall and CPU clocks) and ends (`write`
    each CSV its registry entry declares, then `finish` with summary.json)."""

    def __init__(self, name: str, settings: Mapping[str, Any], out_dir: Path) -> None:
        self.name = name
        self.settings = dict(settings)
        self.out_dir = out_dir
        self.generator = seed_everything(settings["seed"])
        self.clock = Stopwatch()
        # beside the wall time: other processes may share the cores
        self._cpu_start = time.process_time()
        self._declared = registry.experiment(name).outputs
        self._written: set[str] = set()

    def write(self, file: str, table: pd.DataFrame | Iterable[Mapping[str, Any]]) -> None:
        """Write `file` (a DataFrame, or rows as mappings) with exactly its declared columns, in
        their declared order; ExperimentError for an undeclared file, a missing or an extra
        column."""
        if file not in self._declared:
            raise ExperimentError(f"experiment '{self.name}' writes {file}, which its registry "
                                  f"entry does not declare (it declares "
                                  f"{', '.join(self._declared)})")
        columns = list(self._declared[file])
        if isinstance(table, pd.DataFrame):
            self._check_columns(file, list(table.columns), columns, "")
            frame = table[columns]
        else:
            rows = list(table)
            for number, row in enumerate(rows, start=1):
                self._check_columns(file, list(row), columns, f" in row {number}")
            frame = pd.DataFrame(rows, columns=columns)
        write_csv(self.out_dir / file, frame)
        self._written.add(file)

    def _check_columns(self, file: str, got: list[str], declared: list[str], where: str) -> None:
        if set(got) != set(declared) or len(got) != len(declared):
            missing = [c for c in declared if c not in got]
            extra = [c for c in got if c not in declared]
            raise ExperimentError(
                f"experiment '{self.name}' {file}{where}: columns differ from its registry "
                f"entry (missing: {', '.join(missing) or 'none'}; undeclared: "
                f"{', '.join(extra) or 'none'})")

    def finish(self, results: dict[str, Any], *, data_source: str = "synthetic",
               device: str = "cpu") -> dict[str, Any]:
        """Write summary.json (after every declared CSV, which it requires) and return it."""
        missing = [f for f in self._declared if f not in self._written]
        if missing:
            raise ExperimentError(f"experiment '{self.name}' did not write "
                                  f"{', '.join(missing)}, which its registry entry declares")
        results = {**results, "cpu_seconds": time.process_time() - self._cpu_start,
                   **declared_outputs(self.name)}
        return write_summary(self.out_dir, self.name, self.settings, results,
                             data_source=data_source, seconds=self.clock(), device=device)


# One optimiser iteration: the loss of `iteration` and the further columns of its row; the solver
# calls it makes count their evaluations into the SolverStats it is given.
Step = Callable[[int, SolverStats], tuple[torch.Tensor, dict[str, Any]]]


@dataclass(frozen=True)
class Training:
    rows: list[dict[str, Any]]  # one per iteration: the step's columns, loss, NFEs, seconds
    seconds: float


def train(
    subject: str,
    parameters: Iterable[torch.nn.Parameter],
    step: Step,
    *,
    lr: float,
    n_iters: int,
    counts: Callable[[], SolverStats] | None = None,
    solved: bool = True,
    loss_column: str = "loss",
) -> Training:
    """Adam at `lr` on `step`'s loss for `n_iters` iterations: the loop of every experiment that
    trains.

    Each row holds the step's columns, `iteration`, the loss (as `loss_column`), the solver's
    evaluations of the forward and the backward pass (`nfe_forward`, `nfe_backward`: those counted
    into the step's SolverStats, or `counts()` after the backward pass for models whose ODE blocks
    keep their own; missing values when the model is not `solved` by an ODE solver) and the
    seconds since training began. A solver failure or a non-finite loss stops training with an
    ExperimentError naming `subject` (e.g. "cnf: the planar_1") and the iteration.
    """
    optimizer = torch.optim.Adam(parameters, lr=lr)
    clock = Stopwatch()
    rows: list[dict[str, Any]] = []
    for iteration in range(1, n_iters + 1):
        stats = SolverStats()
        optimizer.zero_grad()
        with training_iteration(subject, iteration):
            loss, columns = step(iteration, stats)
            check_finite_loss(loss, subject, iteration)
            loss.backward()
        optimizer.step()
        if counts is not None:
            stats = counts()
        rows.append({**columns, "iteration": iteration, loss_column: loss.item(),
                     "nfe_forward": stats.nfe_forward if solved else pd.NA,
                     "nfe_backward": stats.nfe_backward if solved else pd.NA,
                     "seconds": clock()})
    return Training(rows, clock())


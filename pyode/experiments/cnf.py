"""Continuous vs planar normalizing flows on a 2-D density by maximum likelihood (Chen et al. 2018,
section 4.1, Fig. 6).

One toy target (`pyode.experiments.flows.TARGETS`) is sampled into a training and a held-out test
set. A continuous normalizing flow (CNF: Chen's time-dependent planar field with `cnf_width` units,
[z, log p] integrated together with the exact trace, gradients from pyode's adjoint) and planar
flows of each depth in `planar_layers` get the same data, batches, optimiser and number of
iterations. Reported: the test negative log-likelihood in nats of each, and of the standard normal
base every flow starts from; for the figures, log-densities on a grid and samples at several stages
from noise to data (CNF times, planar layers).

Outputs (CSV): `training.csv` model, iteration, loss (batch NLL, nats), nfe_forward, nfe_backward
(CNF only), seconds; `densities.csv` model, stage, t, layers, x1, x2, log_density: the density at
`n_stages` stages from the base (stage 0, t = 0) to the model (t = 1) on a grid of cell centres,
t being the CNF's time or, for a planar flow, the share k / K of its layers applied (layers = k);
`samples.csv` model, stage, t, layers, sample, x1, x2: the same base points at those stages;
`models.csv` model, test_nll, test_nll_se, grid_mass (the density's sum over the grid, about 1
when the grid holds the mass), parameters, train_seconds (and the CNF's mean NFEs);
`test_points.csv` x1, x2. summary.json: nll_base, nll_cnf, nll_planar_<K> for each K, and
nll_target, the NLL of the target's own density on the test points (the floor, up to sampling);
cpu_seconds (process CPU time; "seconds" is wall time).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pyode.experiments.common import ExperimentRun, Training, train
from pyode.experiments.flows import (
    CNF,
    T_DATA,
    T_NOISE,
    HyperPlanarField,
    PlanarFlow,
    sample_target,
    standard_normal_log_prob,
    target_log_prob,
)
from pyode.solver.stats import SolverStats


def _train(name: str, model: torch.nn.Module, nll, data: torch.Tensor, s: dict[str, Any],
           generator: torch.Generator, *, solved: bool = False) -> Training:
    """Adam on the batch NLL; `nll(batch, stats)` returns the mean NLL in nats and, when the model
    is `solved` by an ODE solver, fills `stats` with its evaluation counts."""

    def step(iteration: int, stats: SolverStats) -> tuple[torch.Tensor, dict[str, Any]]:
        batch = data[torch.randint(0, len(data), (s["batch_size"],), generator=generator)]
        return nll(batch, stats), {"model": name}

    return train(f"cnf: the {name}", model.parameters(), step, lr=s["lr"], n_iters=s["n_iters"],
                 solved=solved)


def _grid(s: dict[str, Any]) -> tuple[torch.Tensor, float]:
    """Cell centres of the evaluation grid (row-major, x1 fastest) and the cell area."""
    n, lim = s["grid_size"], s["grid_limit"]
    step = 2 * lim / n
    axis = -lim + step * (torch.arange(n, dtype=torch.float32) + 0.5)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x1.reshape(-1), x2.reshape(-1)], 1), step * step


def _stage_frame(kind: str, model: str, stage: int, t: float, layers: Any, points: np.ndarray,
                 values: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame({"model": model, "stage": stage, "t": t, "layers": layers,
                          "x1": points[:, 0], "x2": points[:, 1], **values})
    if kind == "samples":
        frame.insert(4, "sample", np.arange(len(points)))
    return frame


def run(settings: dict[str, Any], out_dir: Path, run_dir: Path | None = None) -> dict[str, Any]:
    s = settings
    experiment = ExperimentRun("cnf", s, out_dir)
    generator = experiment.generator
    train = sample_target(s["target"], s["n_train"], generator)
    test = sample_target(s["target"], s["n_test"], generator)
    base_noise = torch.randn(s["n_samples"], 2, generator=generator)  # shared by every flow
    grid, cell_area = _grid(s)
    fractions = np.linspace(0.0, 1.0, s["n_stages"]).tolist()
    train_solver = {"method": s["method"], "rtol": s["rtol"], "atol": s["atol"], "adjoint": True}
    eval_solver = {"method": s["method"], "rtol": s["eval_tol"], "atol": s["eval_tol"],
                   "adjoint": False}

    training: list[dict[str, Any]] = []
    densities: list[pd.DataFrame] = []
    samples: list[pd.DataFrame] = []
    models: list[dict[str, Any]] = []
    results: dict[str, Any] = {"target": s["target"],
                               "nll_base": float(-standard_normal_log_prob(test).mean()),
                               "nll_target": float(-target_log_prob(s["target"], test).mean())}

    def record(name: str, log_prob_test: torch.Tensor, final_density: torch.Tensor,
               n_params: int, seconds: float, **extra: Any) -> None:
        nll = float(-log_prob_test.mean())
        results[f"nll_{name}"] = nll
        models.append({"model": name, "test_nll": nll,
                       "test_nll_se": float(log_prob_test.std() / math.sqrt(len(test))),
                       "grid_mass": float(final_density.exp().sum() * cell_area),
                       "parameters": n_params, "train_seconds": seconds, **extra})

    # The continuous flow.
    torch.manual_seed(s["seed"])
    cnf = CNF(HyperPlanarField(2, s["cnf_width"], s["cnf_hidden"]))
    fitted = _train("cnf", cnf, lambda x, st: -cnf.log_prob(x, train_solver, st).mean(), train,
                    s, generator, solved=True)
    training += fitted.rows
    times = [T_NOISE + f * (T_DATA - T_NOISE) for f in fractions]
    with torch.no_grad():
        log_prob_test = cnf.log_prob(test, eval_solver)
        path = cnf.sample_path(base_noise, times, eval_solver).numpy()
        for stage, t in enumerate(times):
            log_density = cnf.log_prob_at(grid, t, eval_solver)
            densities.append(_stage_frame("density", "cnf", stage, t, pd.NA, grid.numpy(),
                                          {"log_density": log_density.numpy()}))
            samples.append(_stage_frame("samples", "cnf", stage, t, pd.NA, path[stage], {}))
    record("cnf", log_prob_test, log_density, sum(p.numel() for p in cnf.parameters()),
           fitted.rows[-1]["seconds"],
           nfe_forward_mean=float(np.mean([r["nfe_forward"] for r in fitted.rows])),
           nfe_backward_mean=float(np.mean([r["nfe_backward"] for r in fitted.rows])))

    # Planar flows of each depth, on the same data, batches and budget.
    for k_layers in s["planar_layers"]:
        name = f"planar_{k_layers}"
        torch.manual_seed(s["seed"])
        flow = PlanarFlow(k_layers, generator)
        fitted = _train(name, flow, lambda x, st, f=flow: -f.log_prob(x).mean(), train, s,
                        generator)
        training += fitted.rows
        with torch.no_grad():
            log_prob_test = flow.log_prob(test)
            depths = sorted({round(f * k_layers) for f in fractions})
            for stage, k in enumerate(depths):
                log_density = flow.log_prob_after(grid, k)
                densities.append(_stage_frame("density", name, stage, k / k_layers, k,
                                              grid.numpy(), {"log_density": log_density.numpy()}))
                samples.append(_stage_frame("samples", name, stage, k / k_layers, k,
                                            flow.sample_after(base_noise, k).numpy(), {}))
        record(name, log_prob_test, log_density, sum(p.numel() for p in flow.parameters()),
               fitted.rows[-1]["seconds"])

    for frame in (*densities, *samples):
        frame["layers"] = frame["layers"].astype("Int64")
    experiment.write("training.csv", training)
    experiment.write("densities.csv", pd.concat(densities, ignore_index=True))
    experiment.write("samples.csv", pd.concat(samples, ignore_index=True))
    experiment.write("models.csv", pd.DataFrame(models))  # a planar flow has no NFE columns
    experiment.write("test_points.csv", pd.DataFrame(test.numpy(), columns=["x1", "x2"]))
    results.update(grid={"size": s["grid_size"], "limit": s["grid_limit"], "cell_area": cell_area},
                   models=models)
    return experiment.finish(results)

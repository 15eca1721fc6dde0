"""Recovering spiral dynamics from a noisy trajectory by fitting an ODE with the adjoint method.

Data: dz/dt = A z with A = [[-0.1, -1], [1, -0.1]], z(0) = (0.6, 0.3), observed at n_points times
on [0, 6.29 * 5] with Gaussian noise. Fitted (a) by a linear field z -> W z with a random W, whose W
can be compared with A directly, and (b) by a small MLP. A second, nonlinear field (two linear
spirals around different centres, mixed by a sigmoid gate) is fitted by the MLP. Training uses
random sub-trajectories ("windows") of window_min..window_max time units.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

import pyode
from pyode.experiments.common import ExperimentRun, Stopwatch, rk4_reference, train
from pyode.solver import SolverStats

TRUE_A = [[-0.1, -1.0], [1.0, -0.1]]
Z0 = [0.6, 0.3]
T_MAX = 6.29 * 5
# The two-regime field: f(z) = s(z) A1 (z - x0) + (1 - s(z)) A2 z, s(z) = sigmoid(k (z1 - x0_1)):
# a slow spiral around x0 on the right of z1 = x0_1 and a fast one around the origin on its left.
TWO_REGIME = {"A1": TRUE_A, "A2": [[-0.1, -2.0], [2.0, -0.1]], "x0": [-1.0, 0.0], "k": 5.0}


class LinearField(nn.Module):
    """f(t, z) = W z with a trainable 2x2 matrix W."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.weight = nn.Parameter(0.1 * torch.randn(2, 2, generator=generator))

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return z @ self.weight.T


class MLPField(nn.Module):
    """f(t, z) = MLP(z): 2 -> hidden -> hidden -> 2 with ELU."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2, hidden), nn.ELU(),
            nn.Linear(hidden, hidden), nn.ELU(),
            nn.Linear(hidden, 2),
        )

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def linear_field(z: torch.Tensor) -> torch.Tensor:
    return z @ torch.tensor(TRUE_A, dtype=z.dtype).T


def two_regime_field(z: torch.Tensor) -> torch.Tensor:
    a1 = torch.tensor(TWO_REGIME["A1"], dtype=z.dtype)
    a2 = torch.tensor(TWO_REGIME["A2"], dtype=z.dtype)
    x0 = torch.tensor(TWO_REGIME["x0"], dtype=z.dtype)
    gate = torch.sigmoid(TWO_REGIME["k"] * (z[..., :1] - x0[0]))
    return gate * ((z - x0) @ a1.T) + (1 - gate) * (z @ a2.T)


def true_trajectory(system: str, t: torch.Tensor) -> torch.Tensor:
    """Noise-free states at times t (float64): exact matrix exponential or fine RK4."""
    z0 = torch.tensor(Z0, dtype=torch.float64)
    if system == "linear":
        a = torch.tensor(TRUE_A, dtype=torch.float64)
        return torch.stack([torch.linalg.matrix_exp(a * ti) @ z0 for ti in t])
    return rk4_reference(two_regime_field, z0, t, substeps=20)


def _solve(func: nn.Module, y0: torch.Tensor, t: torch.Tensor, s: dict[str, Any], *,
           adjoint: bool, stats: SolverStats | None = None) -> torch.Tensor:
    return pyode.odeint(func, y0, t, method=s["method"], rtol=s["rtol"], atol=s["atol"],
                        adjoint=adjoint, stats=stats)


def _snapshot_iterations(n_iters: int, snapshots: int) -> list[int]:
    return sorted({round(x) for x in np.linspace(0, n_iters, max(snapshots, 2))})


def fit(
    system: str,
    model: str,
    field: nn.Module,
    t: torch.Tensor,
    observed: torch.Tensor,
    n_iters: int,
    lr: float,
    s: dict[str, Any],
    generator: torch.Generator,
) -> tuple[list[dict[str, Any]], list[pd.DataFrame], float]:
    """Train `field` on random windows of `observed`; returns training rows, snapshots, seconds."""
    dt = float(t[1] - t[0])
    snapshot_at = set(_snapshot_iterations(n_iters, s["snapshots"]))
    snapshots: list[pd.DataFrame] = []
    clock = Stopwatch()

    def snapshot(iteration: int) -> None:
        with torch.no_grad():
            z = _solve(field, observed[0], t, s, adjoint=False).numpy()
        snapshots.append(
            pd.DataFrame({"system": system, "series": "learned", "model": model,
                          "iteration": iteration, "t": t.numpy(), "z1": z[:, 0], "z2": z[:, 1]})
        )

    def step(iteration: int, stats: SolverStats) -> tuple[torch.Tensor, dict[str, Any]]:
        if iteration - 1 in snapshot_at:
            snapshot(iteration - 1)
        window = s["window_min"] + (s["window_max"] - s["window_min"]) * float(
            torch.rand((), generator=generator)
        )
        length = max(2, round(window / dt)) + 1
        starts = torch.randint(0, len(t) - length + 1, (s["batch_size"],), generator=generator)
        index = starts[None, :] + torch.arange(length)[:, None]
        target = observed[index]  # (length, batch, 2)
        pred = _solve(field, target[0], t[:length] - t[0], s, adjoint=s["adjoint"], stats=stats)
        return (torch.mean((pred - target) ** 2),
                {"system": system, "model": model, "window": (length - 1) * dt})

    training = train(f"spiral: the {model} field on the {system} spiral", field.parameters(),
                     step, lr=lr, n_iters=n_iters)
    if n_iters in snapshot_at:
        snapshot(n_iters)
    return training.rows, snapshots, clock()


def mean_jacobian(field: nn.Module, points: torch.Tensor) -> np.ndarray:
    """The Jacobian of the learned field averaged over `points` (its best linear summary)."""
    jac = torch.func.vmap(torch.func.jacrev(lambda z: field(torch.zeros(()), z)))(points)
    return jac.mean(0).detach().numpy()


def run(settings: dict[str, Any], out_dir: Path, run_dir: Path | None = None) -> dict[str, Any]:
    s = settings
    experiment = ExperimentRun("spiral", s, out_dir)
    generator = experiment.generator
    t64 = torch.linspace(0.0, T_MAX, s["n_points"], dtype=torch.float64)
    t = t64.float()
    fits: list[dict[str, Any]] = []
    training: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    results: dict[str, Any] = {"true_A": TRUE_A, "z0": Z0, "t_max": T_MAX,
                               "two_regime_field": TWO_REGIME}

    plan = [("linear", "linear", s["n_iters"]), ("linear", "mlp", s["n_iters"])]
    if s["two_regime_iters"] > 0:
        plan.append(("two_regime", "mlp", s["two_regime_iters"]))
    data: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for system in dict.fromkeys(p[0] for p in plan):
        true = true_trajectory(system, t64)
        noise = s["noise_sd"] * torch.randn(true.shape, generator=generator, dtype=torch.float64)
        data[system] = (true.float(), (true + noise).float())
        for series, z in (("true", true), ("observed", true + noise)):
            frames.append(pd.DataFrame({"system": system, "series": series, "model": "data",
                                        "iteration": pd.NA, "t": t64.numpy(),
                                        "z1": z[:, 0].numpy(), "z2": z[:, 1].numpy()}))

    for system, model, n_iters in plan:
        true, observed = data[system]
        field = LinearField(generator) if model == "linear" else MLPField(s["hidden"])
        lr = s["lr_linear"] if model == "linear" else s["lr_mlp"]
        rows, snaps, seconds = fit(system, model, field, t, observed, n_iters, lr, s, generator)
        training += rows
        frames += snaps
        with torch.no_grad():
            z = _solve(field, observed[0], t, s, adjoint=False)
        record = {"system": system, "model": model, "iterations": n_iters,
                  "trajectory_mse": float(torch.mean((z - true) ** 2)),
                  "observed_mse": float(torch.mean((z - observed) ** 2)),
                  "final_loss": rows[-1]["loss"], "seconds": seconds}
        if system == "linear":
            learned = (field.weight.detach().numpy() if model == "linear"
                       else mean_jacobian(field, true))
            error = float(np.max(np.abs(learned - np.array(TRUE_A))))
            record["a_max_abs_error"] = error
            key = "learned_A" if model == "linear" else "mlp_mean_jacobian"
            results[key] = learned.tolist()
            results[f"{key}_max_abs_error"] = error
        fits.append(record)

    matrices = [{"matrix": "true", "row": i + 1, "col": j + 1, "value": TRUE_A[i][j]}
                for i in range(2) for j in range(2)]
    for name, key in (("linear", "learned_A"), ("mlp_mean_jacobian", "mlp_mean_jacobian")):
        if key in results:
            matrices += [{"matrix": name, "row": i + 1, "col": j + 1, "value": results[key][i][j]}
                         for i in range(2) for j in range(2)]

    trajectories = pd.concat(frames, ignore_index=True)
    trajectories["iteration"] = trajectories["iteration"].astype("Int64")
    experiment.write("trajectories.csv", trajectories)
    experiment.write("training.csv", training)
    # a_max_abs_error only where the true field is linear
    experiment.write("fits.csv", pd.DataFrame(fits))
    experiment.write("matrices.csv", matrices)
    results["fits"] = fits
    results["dt"] = float(t64[1] - t64[0])
    results["rotation_period"] = 2 * math.pi
    return experiment.finish(results)

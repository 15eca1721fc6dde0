"""Euler's method against exact solutions, and a residual block as one Euler step.

1. dy/dx = y, y(0) = 1 on [0, x_max]: with step 1 Euler gives 1, 2, 4, 8, 16 beside e^x; halving the
   step shows first-order convergence of the error at x_max.
2. dy/dx + y/2 = 3/2 for several y(0): exact 3 + (y0 - 3) e^(-x/2) beside Euler's polygon.
3. A residual block y + f(y) equals one Euler step of size 1, pyode.odeint(f, y, [0, 1],
   method="euler", options={"step_size": 1}), in value and in parameter gradients
   (backpropagating through the solver).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

import pyode
from pyode.experiments.common import ExperimentRun


def euler_path(
    f: Callable[[float, float], float], y0: float, h: float, x_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """Euler's polygon for a scalar ODE: grid points and values (float64, plain loop)."""
    n = round(x_max / h)
    xs = np.arange(n + 1) * h
    ys = np.empty(n + 1)
    ys[0] = y0
    for i in range(n):
        ys[i + 1] = ys[i] + h * f(xs[i], ys[i])
    return xs, ys


class Exponential(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y


class Branch(nn.Module):
    """The residual branch f of a ResNet block: conv-ReLU-conv (time-independent)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.relu(self.conv1(y)))


def exponential_table(x_max: float) -> pd.DataFrame:
    xs, ys = euler_path(lambda x, y: y, 1.0, 1.0, x_max)
    t = torch.tensor(xs, dtype=torch.float64)
    solver = pyode.odeint(Exponential(), torch.ones(1, dtype=torch.float64), t,
                          method="euler", options={"step_size": 1.0}, adjoint=False)
    return pd.DataFrame({"x": xs, "euler": ys, "pyode_euler": solver[:, 0].numpy(),
                         "exact": np.exp(xs)})


def convergence_table(x_max: float, n_halvings: int) -> pd.DataFrame:
    rows = []
    for k in range(n_halvings + 1):
        h = 2.0**-k
        _, ys = euler_path(lambda x, y: y, 1.0, h, x_max)
        error = math.exp(x_max) - ys[-1]
        rows.append({"h": h, "n_steps": round(x_max / h), "euler": ys[-1],
                     "exact": math.exp(x_max), "abs_error": error,
                     "rel_error": error / math.exp(x_max)})
    frame = pd.DataFrame(rows)
    # Observed order p from error(h) ~ C h^p between consecutive halvings; Euler has p = 1.
    frame["order"] = np.log2(frame["abs_error"].shift(1) / frame["abs_error"])
    return frame


def relaxation_curves(initial_values: list[float], h: float, x_max: float) -> pd.DataFrame:
    frames = []
    x_fine = np.linspace(0.0, x_max, 201)
    for y0 in initial_values:
        exact = 3.0 + (y0 - 3.0) * np.exp(-x_fine / 2)
        frames.append(pd.DataFrame({"y0": y0, "method": "exact", "x": x_fine, "y": exact}))
        xs, ys = euler_path(lambda x, y: 1.5 - y / 2, y0, h, x_max)
        frames.append(pd.DataFrame({"y0": y0, "method": "euler", "x": xs, "y": ys}))
    return pd.concat(frames, ignore_index=True)


def residual_check(channels: int, size: int, batch: int, generator: torch.Generator) -> dict:
    """Max abs differences of output and parameter gradients: block vs one Euler step of size 1."""
    branch = Branch(channels).double()
    y0 = torch.randn(batch, channels, size, size, generator=generator, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)

    def gradients(out: torch.Tensor) -> list[torch.Tensor]:
        return torch.autograd.grad(out.square().sum(), list(branch.parameters()))

    block = y0 + branch(t[0], y0)
    block_grads = gradients(block)
    step = pyode.odeint(
        branch, y0, t, method="euler", options={"step_size": 1.0}, adjoint=False
    )[-1]
    step_grads = gradients(step)
    return {
        "output_max_abs_diff": float((block - step).detach().abs().max()),
        "gradient_max_abs_diff": max(float((a - b).abs().max())
                                     for a, b in zip(block_grads, step_grads)),
        "output_max_abs": float(block.detach().abs().max()),
        "shape": list(y0.shape),
        "dtype": "float64",
    }


def run(settings: dict[str, Any], out_dir: Path, run_dir: Path | None = None) -> dict[str, Any]:
    s = settings
    experiment = ExperimentRun("euler", s, out_dir)
    generator = experiment.generator
    table = exponential_table(s["x_max"])
    convergence = convergence_table(s["x_max"], s["n_halvings"])
    relaxation = relaxation_curves(s["initial_values"], s["relaxation_step"],
                                   s["relaxation_x_max"])
    check = residual_check(s["resnet_channels"], s["resnet_size"], s["resnet_batch"], generator)
    experiment.write("exponential.csv", table)
    experiment.write("convergence.csv", convergence)
    experiment.write("relaxation.csv", relaxation)
    experiment.write("residual_check.csv", [{k: v for k, v in check.items() if k != "shape"}])
    results = {
        "exponential_step1": table.to_dict(orient="list"),
        "euler_matches_powers_of_two": bool(np.array_equal(table["euler"], 2.0 ** table["x"])),
        "pyode_matches_euler": bool(np.allclose(table["pyode_euler"], table["euler"],
                                                rtol=1e-12, atol=0)),
        "error_at_x_max": dict(zip(convergence["h"].tolist(), convergence["abs_error"].tolist())),
        "observed_order": float(convergence["order"].iloc[-1]),
        "residual_block_check": check,
    }
    return experiment.finish(results)

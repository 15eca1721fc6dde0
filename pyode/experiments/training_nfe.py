"""Function evaluations during training of an MNIST ODE-Net (Chen et al. 2018, Fig. 3c and 3d).

An ODE-Net (`pyode.models.mnist.odenet`) on a subset of the MNIST training digits is trained with an
adaptive solver and the adjoint, on `pyode.train`'s shuffled batches (each epoch's shorter last
batch dropped) and evaluated by `pyode.train`'s evaluation; every iteration records the loss, the
batch accuracy and the evaluations of the ODE block's dynamics in the forward pass (the solve) and
in the backward pass (the adjoint solve). Chen et al. saw the forward count grow as training went
on and the backward pass take about half the evaluations of the forward pass; the summary states
what this run shows: the mean counts early and late in training, and the backward count against
the forward one (the ratio of means and a least-squares slope).

Outputs: `iterations.csv` iteration, epoch, loss, accuracy (of the training batch), nfe_forward,
nfe_backward, seconds; summary.json: test_accuracy with test_correct and n_test (from which the
paper computes its interval), mean, early and late NFEs, backward_vs_forward (ratio,
slope_through_origin, slope, intercept), cpu_seconds (process CPU time; "seconds" is wall time)
and the settings.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pyode.experiments.common import ExperimentRun, train
from pyode.models import count_parameters, ode_blocks
from pyode.models.mnist import odenet
from pyode.solver.stats import SolverStats
from pyode.train.batches import shuffled_batches
from pyode.train.metrics import Objective, evaluate, evaluation_counts


def backward_vs_forward(forward: np.ndarray, backward: np.ndarray) -> dict[str, float | None]:
    """How the backward NFE follows the forward NFE over the iterations.

    `ratio`: mean backward / mean forward; `slope_through_origin`: least squares of b = k f;
    `slope` and `intercept`: least squares of b = a + k f (None when the forward count never
    changed, which leaves the slope undetermined).
    """
    f, b = forward.astype(float), backward.astype(float)
    out: dict[str, float | None] = {
        "ratio": float(b.mean() / f.mean()),
        "slope_through_origin": float((f @ b) / (f @ f)),
        "slope": None,
        "intercept": None,
    }
    if np.ptp(f) > 0:
        slope, intercept = np.polyfit(f, b, 1)
        out.update(slope=float(slope), intercept=float(intercept))
    return out


def _load(s: dict[str, Any]):
    from pyode.data import load_dataset

    return load_dataset("mnist", source=s["source"], path=s["data_path"] or None, seed=s["seed"],
                        n_train=s["n_train"], n_test=s["n_test"])


def _batches(n_train: int, batch_size: int,
             generator: torch.Generator) -> Iterator[tuple[int, torch.Tensor]]:
    """(epoch, indices) for ever: pyode.train's shuffled batches, without the shorter last one
    of each epoch (so that every iteration's NFE is of a batch of the same size)."""
    for epoch in itertools.count(1):
        for index in shuffled_batches(n_train, batch_size, generator, drop_last=True):
            yield epoch, index


def run(settings: dict[str, Any], out_dir: Path, run_dir: Path | None = None) -> dict[str, Any]:
    s = settings
    experiment = ExperimentRun("training_nfe", s, out_dir)
    data = _load(s)
    solver = {"method": s["method"], "rtol": s["rtol"], "atol": s["atol"], "adjoint": True}
    model = odenet(solver, width=s["width"], n_classes=data.n_classes)
    blocks = ode_blocks(model)
    objective = Objective(data.n_classes)
    batches = _batches(len(data.train_y), s["batch_size"], experiment.generator)

    def step(iteration: int, stats: SolverStats) -> tuple[torch.Tensor, dict[str, Any]]:
        epoch, index = next(batches)
        y = data.train_y[index]
        loss, correct = objective(model(data.train_x[index]), y)
        return loss, {"epoch": epoch, "accuracy": correct.item() / len(y)}

    model.train()
    training = train("training_nfe: the", model.parameters(), step, lr=s["lr"],
                     n_iters=s["n_iters"], counts=lambda: evaluation_counts(blocks))

    test_nfe: list[int] = []
    _, test_accuracy = evaluate(model, objective, data.test_x, data.test_y,
                                after_batch=lambda: test_nfe.append(
                                    evaluation_counts(blocks).nfe_forward))
    n_test = len(data.test_y)
    correct = round(test_accuracy * n_test)

    iterations = pd.DataFrame(training.rows)
    forward = iterations["nfe_forward"].to_numpy()
    backward = iterations["nfe_backward"].to_numpy()
    span = max(1, round(s["trend_fraction"] * len(iterations)))
    results = {
        "n_train": len(data.train_y),
        "n_test": n_test,
        "parameters": count_parameters(model),
        "test_accuracy": correct / n_test,
        "test_correct": correct,
        "test_nfe_forward_mean": float(np.mean(test_nfe)),
        "final_train_loss": float(iterations["loss"].iloc[-span:].mean()),
        "nfe_forward_mean": float(forward.mean()),
        "nfe_backward_mean": float(backward.mean()),
        "nfe_forward_min": int(forward.min()),
        "nfe_forward_max": int(forward.max()),
        "nfe_backward_min": int(backward.min()),
        "nfe_backward_max": int(backward.max()),
        "nfe_forward_early": float(forward[:span].mean()),
        "nfe_forward_late": float(forward[-span:].mean()),
        "nfe_backward_early": float(backward[:span].mean()),
        "nfe_backward_late": float(backward[-span:].mean()),
        "backward_vs_forward": backward_vs_forward(forward, backward),
        "train_seconds": training.seconds,
    }
    experiment.write("iterations.csv", iterations)
    return experiment.finish(results, data_source=data.data_source)

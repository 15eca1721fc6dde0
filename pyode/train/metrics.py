"""What training measures: the loss and correct count of a batch, a split's loss and accuracy,
the solver's evaluation counts, and the peak memory of the run."""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from pyode.solver.stats import SolverStats

EVAL_BATCH = 500


def evaluation_counts(modules: Iterable[nn.Module]) -> SolverStats:
    """The function evaluations of the solves of `modules` (ODE blocks, or any module keeping a
    SolverStats in `.stats`), summed: an ODE block's count its most recent call."""
    total = SolverStats()
    for module in modules:
        total.nfe_forward += int(module.stats.nfe_forward)
        total.nfe_backward += int(module.stats.nfe_backward)
    return total


class Objective:
    """Loss and number of correct predictions: softmax cross-entropy, or one logit + BCE."""

    def __init__(self, n_classes: int) -> None:
        self.binary = n_classes == 2

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.binary:
            logits = logits.squeeze(1)
            loss = F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))
            correct = ((logits > 0).long() == y).sum()
        else:
            loss = F.cross_entropy(logits, y)
            correct = (logits.argmax(dim=1) == y).sum()
        return loss, correct


def evaluate(model: nn.Module, objective: Objective, x: torch.Tensor, y: torch.Tensor,
             after_batch: Callable[[], None] | None = None) -> tuple[float, float]:
    """Mean loss and accuracy over a split, in batches of EVAL_BATCH without gradients;
    `after_batch` is called after each batch's forward pass (e.g. to read its evaluations)."""
    model.eval()
    total_loss = torch.zeros((), device=x.device)
    total_correct = torch.zeros((), dtype=torch.long, device=x.device)
    with torch.no_grad():
        for start in range(0, len(y), EVAL_BATCH):
            xb, yb = x[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
            loss, correct = objective(model(xb), yb)
            if after_batch is not None:
                after_batch()
            total_loss += loss * len(yb)
            total_correct += correct
    model.train()
    return total_loss.item() / len(y), total_correct.item() / len(y)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # ru_maxrss is in KiB on Linux, bytes on macOS
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10)

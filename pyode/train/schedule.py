"""Optimisers and learning-rate schedules built from resolved settings.

Schedules are stepped once per iteration; `step` milestones are given in epochs.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


def build_optimizer(model: nn.Module, config: dict[str, Any]) -> torch.optim.Optimizer:
    if config["optimizer"] == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"],
                               weight_decay=config["weight_decay"], nesterov=False)
    return torch.optim.Adam(model.parameters(), lr=config["lr"],
                            weight_decay=config["weight_decay"])


def lr_factor(schedule: dict[str, Any], iteration: int, iters_per_epoch: int,
              total_iters: int) -> float:
    """Multiplier of the base learning rate before optimiser step `iteration` (0-based)."""
    name = schedule["name"]
    if name == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(iteration, total_iters) / total_iters))
    if name == "step":
        epoch = iteration // iters_per_epoch + 1  # 1-based epoch this step belongs to
        passed = sum(1 for m in schedule.get("milestones", []) if epoch > m)
        return float(schedule.get("gamma", 0.1)) ** passed
    return 1.0


def build_scheduler(optimizer: torch.optim.Optimizer, config: dict[str, Any],
                    iters_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    total = max(1, iters_per_epoch * config["epochs"])
    schedule = dict(config["lr_schedule"])
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda it: lr_factor(schedule, it, iters_per_epoch, total))

"""Where and how reproducibly a job runs: the device it computes on and its seeds."""

from __future__ import annotations

import random

import numpy as np
import torch

from pyode.config_files import ConfigError
from pyode.registry import DEVICES

__all__ = ["DEVICES", "resolve_device", "seed_everything"]


def resolve_device(name: str) -> torch.device:
    """'auto' → CUDA when available (honouring CUDA_VISIBLE_DEVICES), else CPU; asking for CUDA
    on a machine without one is a ConfigError naming the setting."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("setting 'device': 'cuda' was asked for but no CUDA device is "
                          "available; choose one of auto, cpu")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; returns a torch generator for explicit sampling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)

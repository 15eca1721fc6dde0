"""Checkpoints of an interrupted run: weights, optimiser, schedule, random states, rows so far.

An unreadable checkpoint (truncated, garbage, empty, a folder) is reported by `load_checkpoint`
as None with the reason, so that the caller can warn and start afresh instead of failing on every
later attempt until someone deletes the file by hand.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pyode.atomic import atomic_path

CHECKPOINT_KEYS = ("config", "epoch", "model", "optimizer", "scheduler", "rng",
                   "iteration_rows", "epoch_rows", "elapsed")


def rng_states(shuffle: torch.Generator, augment: torch.Generator) -> dict[str, Any]:
    states = {"python": random.getstate(), "numpy": np.random.get_state(),
              "torch": torch.get_rng_state(), "shuffle": shuffle.get_state(),
              "augment": augment.get_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any], shuffle: torch.Generator,
                   augment: torch.Generator) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    shuffle.set_state(states["shuffle"])
    augment.set_state(states["augment"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, device: torch.device) -> tuple[dict[str, Any] | None, str]:
    """(state, "") for a readable checkpoint; (None, reason) for one that is not."""
    if path.is_dir():
        return None, "a folder, not a file"
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # truncated, garbage or empty files fail in many different ways
        return None, f"unreadable ({type(exc).__name__})"
    if not isinstance(state, dict) or any(key not in state for key in CHECKPOINT_KEYS):
        return None, "not a pyode training checkpoint"
    return state, ""

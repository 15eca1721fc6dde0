"""Training: configuration profiles and the loop behind `pyode train`."""

from __future__ import annotations

from typing import Any

from pyode.train.config import ConfigError, load_profile, resolve_config

__all__ = ["ConfigError", "load_profile", "resolve_config", "train"]


def __getattr__(name: str) -> Any:
    # The loop (torch) is imported on first use: resolving settings needs only the config module.
    if name == "train":
        from pyode.train.loop import train

        return train
    raise AttributeError(f"module 'pyode.train' has no attribute {name!r}")

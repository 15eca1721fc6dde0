"""Training: configuration profiles and the loop behind `pyode train`."""

from pyode.train.config import ConfigError, load_profile, resolve_config
from pyode.train.loop import train

__all__ = ["ConfigError", "load_profile", "resolve_config", "train"]

"""The settings of the experiments from a profile: their tables, tiny sizes and validation.

Each experiment's registry entry (`pyode.registry.experiments`, torch-free) declares its settings
table (default, one-line description, optional check of each key), its tiny sizes (what a profile
with `scale: tiny` starts from) and, where settings constrain each other, its cross-setting
check. A config's `experiments.NAME` block overrides the defaults key by key; an unknown key or a
bad value is an `ExperimentConfigError` naming the key.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from pyode import registry
from pyode.config_files import load_yaml, parse_assignments
from pyode.profile import is_tiny
from pyode.registry.experiments import (  # noqa: F401 - re-exported: the shared settings
    DEVICE,
    SEED,
    solver_settings,
)
from pyode.setting_tables import Setting, SettingError, validate_table


class ExperimentConfigError(SettingError):
    """A bad experiment setting: unknown key, wrong type or out-of-range value."""


def _entry(name: str) -> registry.Experiment:
    """The registry entry of experiment `name`; ExperimentConfigError for an unknown name."""
    if name not in registry.experiment_names():
        known = ", ".join(registry.experiment_names())
        raise ExperimentConfigError(f"unknown experiment '{name}' (expected one of {known})")
    return registry.experiment(name)


def experiment_module(name: str) -> ModuleType:
    """The module `pyode.experiments.NAME` of a registered experiment (its `run`);
    ExperimentConfigError for an unknown name."""
    return importlib.import_module(f"pyode.experiments.{_entry(name).name}")


def schema(name: str) -> Mapping[str, Setting]:
    """The settings table of experiment `name` (its registry entry)."""
    return _entry(name).settings


def tiny(name: str) -> dict[str, Any]:
    """The tiny sizes of experiment `name` (its registry entry): what `scale: tiny` starts from."""
    return copy.deepcopy(dict(_entry(name).tiny))


def defaults(name: str) -> dict[str, Any]:
    """The default settings of experiment `name`."""
    return {key: copy.deepcopy(s.default) for key, s in schema(name).items()}


def validate(name: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults of `name` overridden by `settings`, type-checked and cross-checked (its entry's
    cross-setting check); raises ExperimentConfigError naming the key."""
    entry = _entry(name)
    if settings is not None and not isinstance(settings, Mapping):
        raise ExperimentConfigError(
            f"experiments.{name} must be a mapping of settings, got {type(settings).__name__}"
        )
    try:
        return validate_table(entry.settings, settings, f"experiment '{name}'", entry.check)
    except SettingError as exc:
        raise ExperimentConfigError(str(exc)) from None


def experiment_settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Validated settings of `name` from a profile: its experiments.NAME block over its entry's
    tiny sizes when the profile says `scale: tiny`, with the profile's top-level `seed` and
    `device` where the block does not set them; errors name the config key."""
    experiments = config.get("experiments") or {}
    if not isinstance(experiments, Mapping):
        raise ExperimentConfigError("config key 'experiments' must be a mapping")
    block = experiments.get(name) or {}
    if not isinstance(block, Mapping):
        raise ExperimentConfigError(f"config key 'experiments.{name}' must be a mapping")
    block = {**(tiny(name) if is_tiny(config) else {}), **block}
    table = schema(name)
    for key in ("seed", "device"):
        if key in table and key not in block and key in config:
            block[key] = config[key]
    try:
        return validate(name, block)
    except ExperimentConfigError as exc:
        raise ExperimentConfigError(f"experiments.{name}: {exc}") from None


def load(
    config_path: str | Path, name: str, overrides: list[str] | None = None
) -> dict[str, Any]:
    """Validated settings of `name` from a profile's `experiments.<name>` block and overrides."""
    path = Path(config_path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    config = load_yaml(path)
    if not isinstance(config.get("experiments") or {}, Mapping):
        raise ExperimentConfigError(f"{path}: 'experiments' must be a mapping")
    experiments = dict(config.get("experiments") or {})
    block = experiments.get(name) or {}
    if overrides and isinstance(block, Mapping):
        experiments[name] = {**block, **parse_assignments(overrides)}
    config = {**config, "experiments": experiments}
    try:
        return experiment_settings(config, name)
    except ExperimentConfigError as exc:
        raise ExperimentConfigError(f"{path}: {exc}") from None


def load_settings_file(
    path: str | Path, name: str, overrides: list[str] | None = None
) -> dict[str, Any]:
    """An experiment settings file written by the workflow (`pyode.planner`), with overrides."""
    block = {**load_yaml(path), **parse_assignments(overrides)}
    try:
        return validate(name, block)
    except ExperimentConfigError as exc:
        raise ExperimentConfigError(f"{path}: experiments.{name}: {exc}") from None

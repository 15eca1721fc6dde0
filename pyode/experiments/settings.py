"""The settings of the experiments: their tables, tiny sizes and validation from a profile.

Each experiment module `pyode.experiments.NAME` declares `SETTINGS: dict[str, Setting]` (default,
one-line description, optional check), `TINY` (the values a profile with `scale: tiny` starts
from) and, where settings constrain each other, `check_settings(settings) -> (key, problem) | None`.
A config's `experiments.NAME` block overrides the defaults key by key; an unknown key or a bad
value is an `ExperimentConfigError` naming the key.
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
from pyode.setting_tables import (  # noqa: F401 - the checks experiment modules build from
    Setting,
    SettingError,
    at_least,
    choice,
    distinct_positive,
    fraction,
    increasing_steps,
    non_empty,
    non_empty_positive,
    non_negative,
    positive,
    validate_table,
)
from pyode.solver import defaults as solver_defaults


class ExperimentConfigError(SettingError):
    """A bad experiment setting: unknown key, wrong type or out-of-range value."""


# Settings several experiments share, so that each is spelled once.
SEED = Setting(0, "seeds the data, initialisation and sampling (default: the top-level seed)",
               non_negative)
DEVICE = Setting("auto", "auto, cpu or cuda (default: the top-level device)",
                 choice(*registry.DEVICES))


def solver_settings(rtol: float, atol: float) -> dict[str, Setting]:
    """The ODE solver's method, tolerances and gradient mode, with these default tolerances."""
    return {
        "method": Setting(solver_defaults.METHOD, "solver method (a pyode.solver tableau)",
                          choice(*registry.METHODS)),
        "rtol": Setting(rtol, "relative tolerance of adaptive methods", positive),
        "atol": Setting(atol, "absolute tolerance of adaptive methods", positive),
        "adjoint": Setting(True, "gradients by the adjoint method (true) or through the solver"),
    }


def experiment_module(name: str) -> ModuleType:
    """The module `pyode.experiments.NAME` of a registered experiment; ExperimentConfigError for
    an unknown name."""
    if name not in registry.experiment_names():
        known = ", ".join(registry.experiment_names())
        raise ExperimentConfigError(f"unknown experiment '{name}' (expected one of {known})")
    return importlib.import_module(f"pyode.experiments.{name}")


def schema(name: str) -> dict[str, Setting]:
    """The SETTINGS table of experiment `name`."""
    return experiment_module(name).SETTINGS


def tiny(name: str) -> dict[str, Any]:
    """The tiny sizes of experiment `name` (its module's TINY): what `scale: tiny` starts from."""
    return copy.deepcopy(dict(getattr(experiment_module(name), "TINY", {})))


def defaults(name: str) -> dict[str, Any]:
    """The default settings of experiment `name`."""
    return {key: copy.deepcopy(s.default) for key, s in schema(name).items()}


def validate(name: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults of `name` overridden by `settings`, type-checked and cross-checked (the module's
    `check_settings`); raises ExperimentConfigError naming the key."""
    module = experiment_module(name)
    if settings is not None and not isinstance(settings, Mapping):
        raise ExperimentConfigError(
            f"experiments.{name} must be a mapping of settings, got {type(settings).__name__}"
        )
    try:
        return validate_table(module.SETTINGS, settings, f"experiment '{name}'",
                              getattr(module, "check_settings", None))
    except SettingError as exc:
        raise ExperimentConfigError(str(exc)) from None


def experiment_settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Validated settings of `name` from a profile: its experiments.NAME block over the module's
    TINY sizes when the profile says `scale: tiny`, with the profile's top-level `seed` and
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

"""Training configuration: the profile file, the merge of its levels, and strict validation.

A run's settings are ``train.defaults`` ← ``train.<dataset>.defaults`` ← ``train.<dataset>.<model>``
(deep-merged over the built-in `DEFAULTS`), plus ``dataset``, ``model``, ``seed``, ``device``,
``data`` (the dataset's block of the profile) and ``profile``. Every key and value is checked
before any training starts; a `ConfigError` names the offending key and the allowed values.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from typing import Any

from pyode import registry
from pyode.config_files import ConfigError, deep_merge, load_yaml, nest, parse_assignments
from pyode.data import data_settings, resolve_paths
from pyode.layout import data_dir
from pyode.profile import is_tiny
from pyode.setting_tables import (
    Check,
    Setting,
    SettingError,
    choice,
    finite_positive,
    non_negative,
    positive,
    validate_table,
)
from pyode.solver import defaults

__all__ = ["ConfigError", "check_train_settings", "load_profile", "parse_assignments",
           "resolve_config", "validate_run_config"]


OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "step", "cosine")
# Bound on a fixed grid's steps over an ODE block's time span: a finer grid would not finish.
MAX_FIXED_GRID_STEPS = 10_000
ODE_BLOCK_SPAN = registry.ODE_BLOCK_TIME[1] - registry.ODE_BLOCK_TIME[0]
# The models compute in float32: torch cannot apply a larger learning rate or decay to them.
FLOAT32_MAX = 3.4028234663852886e38


def _within_float32(check: Check) -> Check:
    def within(value: Any) -> str | None:
        problem = check(value)
        if problem is None and value > FLOAT32_MAX:
            return f"must be <= {FLOAT32_MAX:.4g} (the models compute in float32)"
        return problem

    return within


def _momentum(value: float) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1)"


def _gamma(value: float) -> str | None:
    return None if 0 < value <= 1 else "must be in (0, 1]"


def _schedule_check(s: dict[str, Any]) -> tuple[str, str] | None:
    if "name" not in s:
        return "name", f"is missing; choose one of {', '.join(SCHEDULES)}"
    if s["name"] == "step" and s.get("milestones") is None:
        return "milestones", "is required by the 'step' schedule (a list of epochs)"
    return None


SOLVER_SETTINGS: dict[str, Setting] = {
    "method": Setting(defaults.METHOD, "any method of the solver (registry.METHODS)",
                      choice(*registry.METHODS)),
    "rtol": Setting(defaults.RTOL, "relative tolerance of adaptive methods", finite_positive),
    "atol": Setting(defaults.ATOL, "absolute tolerance of adaptive methods", finite_positive),
    "step_size": Setting(None, "step of fixed-grid methods (or n_steps)", finite_positive,
                         kind="float", nullable=True),
    "n_steps": Setting(None, "steps of fixed-grid methods over the block's time span [0, 1]",
                       positive, kind="int", nullable=True),
    "adjoint": Setting(True, "gradients by the adjoint method (true) or through the solver"),
}
SCHEDULE_SETTINGS: dict[str, Setting] = {
    "name": Setting("cosine", "constant, step or cosine", choice(*SCHEDULES)),
    "milestones": Setting(None, "epochs after which the step schedule multiplies lr by gamma",
                          positive, kind="list[int]", nullable=True),
    "gamma": Setting(0.1, "factor of the step schedule", _gamma),
}
# Every training setting: default (what a profile leaves out), meaning and check.
TRAIN_SETTINGS: dict[str, Setting] = {
    "epochs": Setting(3, "passes over the training data", positive),
    "batch_size": Setting(128, "images per optimiser step", positive),
    "optimizer": Setting("adam", "adam or sgd", choice(*OPTIMIZERS)),
    "lr": Setting(1e-3, "learning rate", _within_float32(positive)),
    "momentum": Setting(0.9, "SGD momentum", _momentum),
    "weight_decay": Setting(0.0, "L2 weight decay", _within_float32(non_negative)),
    "lr_schedule": Setting({"name": "cosine"}, "learning-rate schedule",
                           table=SCHEDULE_SETTINGS, table_check=_schedule_check),
    "augment": Setting(False, "random crops of the training images"),
    "threads": Setting(2, "torch CPU threads of the job", positive),
    "quiet": Setting(False, "no progress bar"),
    "deterministic": Setting(False, "torch's deterministic kernels"),
    "solver": Setting({key: s.default for key, s in SOLVER_SETTINGS.items()},
                      "the ODE block's solver (continuous-depth models)", table=SOLVER_SETTINGS),
}
DEFAULTS: dict[str, Any] = {key: s.default for key, s in TRAIN_SETTINGS.items()}
# What a run adds to its training settings.
RUN_SETTINGS: dict[str, Setting] = {
    "profile": Setting("custom", "the profile's name"),
    "dataset": Setting("", "a data set of the registry",
                       lambda v: choice(*registry.dataset_names())(v)),
    "model": Setting("", "a model of the registry with a builder for the data set"),
    "seed": Setting(0, "seeds the data subset, initialisation and shuffling", non_negative),
    "device": Setting("auto", "auto, cpu or cuda", choice(*registry.DEVICES)),
}


def _model_of_dataset(s: dict[str, Any]) -> tuple[str, str] | None:
    models = registry.model_names(s["dataset"])
    if s["model"] not in models:
        return "model", f"must be one of {', '.join(models)}, got {s['model']!r}"
    return None


def check_train_settings(key: str, block: Any) -> None:
    """Validate one level of training settings (any subset of `TRAIN_SETTINGS`); `key` names it."""
    validate_table(TRAIN_SETTINGS, block, prefix=f"{key}." if key else "", fill=False)


def _check_data(dataset: str, block: Any, tiny: bool = False) -> dict[str, Any]:
    """The run's data settings, checked against its data set's table (pyode/data/DATASET.py)."""
    return data_settings(dataset, block, tiny=tiny, prefix="data.")


def _check_grid(solver: Mapping[str, Any]) -> None:
    """A fixed-grid method needs a grid, and one small enough to finish."""
    if solver["method"] not in registry.FIXED_GRID_METHODS:
        return
    if solver.get("n_steps") is None and solver.get("step_size") is None:
        raise SettingError(f"setting 'solver.n_steps' is required by fixed-step method "
                           f"{solver['method']!r} (or solver.step_size)")
    if solver.get("n_steps") is not None:
        key, steps = "solver.n_steps", solver["n_steps"]
    else:
        key = "solver.step_size"
        steps = math.ceil(ODE_BLOCK_SPAN / solver["step_size"])
    if steps > MAX_FIXED_GRID_STEPS:
        raise SettingError(f"setting '{key}': {steps} steps over the ODE block's time span "
                           f"[0, {ODE_BLOCK_SPAN}] are more than {MAX_FIXED_GRID_STEPS}; use a "
                           "coarser grid")


def validate_run_config(config: Mapping[str, Any]) -> None:
    """Check a resolved run configuration; raise ConfigError naming the first bad key."""
    _check_run(config)
    _check_data(config["dataset"], config["data"])


def _check_run(config: Mapping[str, Any]) -> None:
    """Everything of a run's settings but its data block (which its data set checks)."""
    if not isinstance(config, Mapping):
        raise SettingError(f"a run's settings must be a mapping, got {config!r}")
    known = (*RUN_SETTINGS, "data", *TRAIN_SETTINGS)
    for name in config:
        if name not in known:
            raise SettingError(f"unknown setting '{name}' (known: {', '.join(sorted(known))})")
    for name in ("dataset", "model", "data", *TRAIN_SETTINGS):
        if name not in config:
            raise SettingError(f"setting '{name}' is missing")
    validate_table(RUN_SETTINGS, {k: config[k] for k in RUN_SETTINGS if k in config},
                   cross_check=_model_of_dataset)
    check_train_settings("", {k: config[k] for k in TRAIN_SETTINGS})
    _check_grid(config["solver"])


# ---------------------------------------------------------------- merging
def _section(profile: Mapping[str, Any], key: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SettingError(f"'{key}' must be a mapping of settings, got {value!r}")
    return value


def _check_levels(key: str, block: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for name in block:
        if name not in allowed:
            raise SettingError(f"unknown setting '{key}.{name}' (known: {', '.join(allowed)})")


def resolve_config(
    profile: Mapping[str, Any],
    dataset: str,
    model: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The validated settings of one run: merged profile levels, then dotted `overrides`.

    `data` is the run's data settings when the caller has checked them already (the planner
    checks each data set once); otherwise the profile's `data.DATASET` block is checked here.
    """
    if not isinstance(profile, Mapping):
        raise ConfigError(f"the profile must be a mapping, got {type(profile).__name__}")
    validate_table(RUN_SETTINGS, {"dataset": dataset, "model": model}, fill=True,
                   cross_check=_model_of_dataset)
    train = _section(profile, "train", profile.get("train"))
    _check_levels("train", train, ("defaults", *registry.dataset_names()))
    defaults = _section(profile, "train.defaults", train.get("defaults"))
    check_train_settings("train.defaults", defaults)
    for name in registry.dataset_names():
        per_dataset = _section(profile, f"train.{name}", train.get(name))
        _check_levels(f"train.{name}", per_dataset, ("defaults", *registry.model_names(name)))
        for level, settings in per_dataset.items():
            check_train_settings(f"train.{name}.{level}",
                                 _section(profile, f"train.{name}.{level}", settings))
    per_dataset = _section(profile, f"train.{dataset}", train.get(dataset))
    config = deep_merge(DEFAULTS, defaults)
    config = deep_merge(config, per_dataset.get("defaults"))
    config = deep_merge(config, per_dataset.get(model))
    blocks = _section(profile, "data", profile.get("data"))
    config.update({
        "profile": profile.get("profile", "custom"),
        "dataset": dataset,
        "model": model,
        "seed": profile.get("seed", 0),
        "device": profile.get("device", "auto"),
        "data": copy.deepcopy(dict(data if data is not None else
                                   _section(profile, f"data.{dataset}", blocks.get(dataset)))),
    })
    nested = nest(overrides or {})
    config = deep_merge(config, nested)
    if data is None or "data" in nested:
        # The data set's defaults (its tiny sizes under `scale: tiny`) fill what the profile
        # leaves out; a generated file without a path lies in the profile's results folder.
        checked = _check_data(dataset, config["data"], tiny=is_tiny(profile))
        if checked["path"] is None:
            checked = resolve_paths(dataset, checked,
                                    data_dir(profile.get("results", "results"), dataset))
        config["data"] = checked
    _check_run(config)
    return config


def load_profile(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML training profile (config/config.yaml and friends)."""
    return load_yaml(path)


def load_run_settings(
    path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A run settings file written by the workflow (see `pyode.planner`), with dotted
    `overrides`, validated; a problem names the file and the key."""
    config = deep_merge(load_yaml(path), nest(overrides or {}))
    try:
        validate_run_config(config)
    except ConfigError as exc:
        raise ConfigError(f"{os.fspath(path)}: {exc}") from None
    return config

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
from collections.abc import Callable, Mapping
from typing import Any

from pyode import registry
from pyode.data import data_settings, resolve_paths
from pyode.models.layers import ODE_BLOCK_TIME
from pyode.settings import (
    ConfigError,
    data_dir,
    deep_merge,
    is_tiny,
    load_yaml,
    nest,
    parse_assignments,
)

__all__ = ["ConfigError", "check_train_settings", "load_profile", "parse_assignments",
           "resolve_config", "validate_run_config"]


# Built-in values for any training setting a profile leaves out.
DEFAULTS: dict[str, Any] = {
    "epochs": 3,
    "batch_size": 128,
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "lr_schedule": {"name": "cosine"},
    "augment": False,
    "threads": 2,
    "quiet": False,
    "deterministic": False,
    "solver": {"method": "dopri5", "rtol": 1e-3, "atol": 1e-3, "step_size": None,
               "n_steps": None, "adjoint": True},
}
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda")
RUN_KEYS = ("profile", "dataset", "model", "seed", "device", "data")
# Bound on a fixed grid's steps over an ODE block's time span: a finer grid would not finish.
MAX_FIXED_GRID_STEPS = 10_000
ODE_BLOCK_SPAN = ODE_BLOCK_TIME[1] - ODE_BLOCK_TIME[0]


# ---------------------------------------------------------------- value checks
def _fail(key: str, message: str) -> ConfigError:
    return ConfigError(f"setting '{key}': {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite int or float: NaN and infinities are refused everywhere."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _positive_int(key: str, value: Any) -> None:
    if not _is_int(value) or value < 1:
        raise _fail(key, f"expected a positive integer, got {value!r}")


def _non_negative_int(key: str, value: Any) -> None:
    if not _is_int(value) or value < 0:
        raise _fail(key, f"expected an integer >= 0, got {value!r}")


def _positive_number(key: str, value: Any) -> None:
    if not _is_number(value) or not value > 0:
        raise _fail(key, f"expected a finite number > 0, got {value!r}")


# The models compute in float32: torch cannot apply a larger learning rate or decay to them.
FLOAT32_MAX = 3.4028234663852886e38


def _float32(check: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
    def within(key: str, value: Any) -> None:
        check(key, value)
        if value > FLOAT32_MAX:
            raise _fail(key, f"expected a number <= {FLOAT32_MAX:.4g} (the models compute in "
                             f"float32), got {value!r}")
    return within


def _non_negative_number(key: str, value: Any) -> None:
    if not _is_number(value) or value < 0:
        raise _fail(key, f"expected a finite number >= 0, got {value!r}")


def _boolean(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _fail(key, f"expected true or false, got {value!r}")


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], None]:
    def check(key: str, value: Any) -> None:
        if value not in options:
            raise _fail(key, f"{value!r} is not allowed; choose one of {', '.join(options)}")
    return check


def _momentum(key: str, value: Any) -> None:
    if not _is_number(value) or not 0 <= value < 1:
        raise _fail(key, f"expected a number in [0, 1), got {value!r}")


def _optional(check: Callable[[str, Any], None]) -> Callable[[str, Any], None]:
    def optional(key: str, value: Any) -> None:
        if value is not None:
            check(key, value)
    return optional


def _check_keys(key: str, block: Any, allowed: tuple[str, ...] | Mapping[str, Any]) -> None:
    if not isinstance(block, Mapping):
        raise _fail(key, f"expected a mapping, got {block!r}")
    for name in block:
        if name not in allowed:
            where = f"'{key}'" if key else "the configuration"
            raise ConfigError(f"unknown setting '{name}' in {where}; allowed keys: "
                              f"{', '.join(allowed)}")


def _check_solver(key: str, block: Any) -> None:
    _check_keys(key, block, SOLVER_CHECKS)
    for name, value in block.items():
        SOLVER_CHECKS[name](f"{key}.{name}", value)


def _check_schedule(key: str, block: Any) -> None:
    _check_keys(key, block, ("name", "milestones", "gamma"))
    if "name" not in block:
        raise _fail(f"{key}.name", f"missing; choose one of {', '.join(SCHEDULES)}")
    _choice(SCHEDULES)(f"{key}.name", block["name"])
    milestones = block.get("milestones")
    if block["name"] == "step" and milestones is None:
        raise _fail(f"{key}.milestones", "required by the 'step' schedule (a list of epochs)")
    if milestones is not None and (
        not isinstance(milestones, list)
        or not all(_is_int(m) and m >= 1 for m in milestones)
    ):
        raise _fail(f"{key}.milestones", f"expected a list of epochs >= 1, got {milestones!r}")
    gamma = block.get("gamma")
    if gamma is not None and (not _is_number(gamma) or not 0 < gamma <= 1):
        raise _fail(f"{key}.gamma", f"expected a number in (0, 1], got {gamma!r}")


SOLVER_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "method": _choice(registry.METHODS),
    "rtol": _positive_number,
    "atol": _positive_number,
    "step_size": _optional(_positive_number),
    "n_steps": _optional(_positive_int),
    "adjoint": _boolean,
}
TRAIN_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "epochs": _positive_int,
    "batch_size": _positive_int,
    "optimizer": _choice(OPTIMIZERS),
    "lr": _float32(_positive_number),
    "momentum": _momentum,
    "weight_decay": _float32(_non_negative_number),
    "lr_schedule": _check_schedule,
    "augment": _boolean,
    "threads": _positive_int,
    "quiet": _boolean,
    "deterministic": _boolean,
    "solver": _check_solver,
}


def check_train_settings(key: str, block: Any) -> None:
    """Validate one level of training settings (any subset of `TRAIN_CHECKS`)."""
    _check_keys(key, block, TRAIN_CHECKS)
    for name, value in block.items():
        TRAIN_CHECKS[name](f"{key}.{name}" if key else name, value)


def _check_data(dataset: str, block: Any, tiny: bool = False) -> dict[str, Any]:
    """The run's data settings, checked against its data set's table (pyode/data/DATASET.py)."""
    if not isinstance(block, Mapping):
        raise _fail("data", f"expected a mapping, got {block!r}")
    return data_settings(dataset, block, tiny=tiny, prefix="data.")


def _check_grid(solver: Mapping[str, Any]) -> None:
    """A fixed-grid method needs a grid, and one small enough to finish."""
    if solver["method"] not in registry.FIXED_GRID_METHODS:
        return
    if solver.get("n_steps") is None and solver.get("step_size") is None:
        raise _fail("solver.n_steps", f"fixed-step method {solver['method']!r} needs n_steps "
                    "or step_size")
    if solver.get("n_steps") is not None:
        key, steps = "solver.n_steps", solver["n_steps"]
    else:
        key = "solver.step_size"
        steps = math.ceil(ODE_BLOCK_SPAN / solver["step_size"])
    if steps > MAX_FIXED_GRID_STEPS:
        raise _fail(key, f"{steps} steps over the ODE block's time span [0, {ODE_BLOCK_SPAN}] "
                    f"are more than {MAX_FIXED_GRID_STEPS}; use a coarser grid")


def validate_run_config(config: Mapping[str, Any]) -> None:
    """Check a resolved run configuration; raise ConfigError naming the first bad key."""
    _check_keys("", config, (*RUN_KEYS, *TRAIN_CHECKS))
    for name in ("dataset", "model", "data", *TRAIN_CHECKS):
        if name not in config:
            raise ConfigError(f"setting '{name}' is missing")
    _choice(registry.dataset_names())("dataset", config["dataset"])
    _choice(registry.model_names(config["dataset"]))("model", config["model"])
    _non_negative_int("seed", config.get("seed", 0))
    _choice(DEVICES)("device", config.get("device", "auto"))
    if not isinstance(config.get("profile", ""), str):
        raise _fail("profile", f"expected a name, got {config['profile']!r}")
    _check_data(config["dataset"], config["data"])
    check_train_settings("", {k: config[k] for k in TRAIN_CHECKS})
    _check_grid(config["solver"])


# ---------------------------------------------------------------- merging
def _section(profile: Mapping[str, Any], key: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(key, f"expected a mapping, got {value!r}")
    return value


def resolve_config(
    profile: Mapping[str, Any],
    dataset: str,
    model: str,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The validated settings of one run: merged profile levels, then dotted `overrides`."""
    if not isinstance(profile, Mapping):
        raise ConfigError(f"the profile must be a mapping, got {type(profile).__name__}")
    _choice(registry.dataset_names())("dataset", dataset)
    _choice(registry.model_names(dataset))("model", model)
    train = _section(profile, "train", profile.get("train"))
    _check_keys("train", train, ("defaults", *registry.dataset_names()))
    defaults = _section(profile, "train.defaults", train.get("defaults"))
    check_train_settings("train.defaults", defaults)
    for name in registry.dataset_names():
        per_dataset = _section(profile, f"train.{name}", train.get(name))
        _check_keys(f"train.{name}", per_dataset, ("defaults", *registry.model_names(name)))
        for level, settings in per_dataset.items():
            check_train_settings(f"train.{name}.{level}",
                                 _section(profile, f"train.{name}.{level}", settings))
    per_dataset = _section(profile, f"train.{dataset}", train.get(dataset))
    config = deep_merge(DEFAULTS, defaults)
    config = deep_merge(config, per_dataset.get("defaults"))
    config = deep_merge(config, per_dataset.get(model))
    data = _section(profile, "data", profile.get("data"))
    config.update({
        "profile": profile.get("profile", "custom"),
        "dataset": dataset,
        "model": model,
        "seed": profile.get("seed", 0),
        "device": profile.get("device", "auto"),
        "data": copy.deepcopy(dict(_section(profile, f"data.{dataset}", data.get(dataset)))),
    })
    config = deep_merge(config, nest(overrides or {}))
    # The data set's defaults (its TINY sizes under `scale: tiny`) fill what the profile leaves
    # out; a generated file without a path lies in the profile's results folder.
    data = _check_data(dataset, config["data"], tiny=is_tiny(profile))
    if data["path"] is None:
        data = resolve_paths(dataset, data, data_dir(profile.get("results", "results"), dataset))
    config["data"] = data
    validate_run_config(config)
    return config


def load_profile(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML training profile (config/config.yaml and friends)."""
    return load_yaml(path)


def load_run_settings(
    path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A run settings file written by the workflow (see `pyode.settings`), with dotted
    `overrides`, validated; a problem names the file and the key."""
    config = deep_merge(load_yaml(path), nest(overrides or {}))
    try:
        validate_run_config(config)
    except ConfigError as exc:
        raise ConfigError(f"{os.fspath(path)}: {exc}") from None
    return config

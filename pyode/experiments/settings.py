"""Settings of each experiment: defaults (the offline default profile), types and checks.

A config's `experiments.<name>` block overrides these defaults key by key; an unknown key or a value
of the wrong type is an `ExperimentConfigError` naming the key.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyode import registry
from pyode.settings import ConfigError, load_yaml, parse_assignments

DEVICES = ("auto", "cpu", "cuda")


class ExperimentConfigError(ConfigError):
    """A bad experiment setting: unknown key, wrong type or out-of-range value."""


@dataclass(frozen=True)
class Setting:
    default: Any
    kind: str  # int | float | bool | str | list[int] | list[float]
    check: Callable[[Any], str | None] | None = None  # returns a message when the value is bad


def _positive(value: Any) -> str | None:
    values = value if isinstance(value, list) else [value]
    return None if all(v > 0 for v in values) else "must be > 0"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be >= 0"


def _choice(*options: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}"

    return check


def _non_empty(value: list[Any]) -> str | None:
    if not value:
        return "must not be empty"
    return _positive(value)


def _non_empty_list(value: list[Any]) -> str | None:
    return None if value else "must not be empty"


def _increasing_steps(value: list[int]) -> str | None:
    if len(value) < 2:
        return "needs at least two step counts for a slope"
    if sorted(set(value)) != value:
        return "must be strictly increasing"
    return _positive(value)


def _fraction(value: float) -> str | None:
    return None if 0 < value < 1 else "must be strictly between 0 and 1"


_SOLVER = {
    "method": Setting("dopri5", "str", _choice(*registry.METHODS)),
    "rtol": Setting(1e-5, "float", _positive),
    "atol": Setting(1e-6, "float", _positive),
    "adjoint": Setting(True, "bool"),
}

SCHEMAS: dict[str, dict[str, Setting]] = {
    "spiral": {
        "seed": Setting(0, "int", _non_negative),
        "n_points": Setting(200, "int", _positive),
        "noise_sd": Setting(0.01, "float", _non_negative),
        "n_iters": Setting(400, "int", _positive),
        "two_regime_iters": Setting(400, "int", _non_negative),
        "batch_size": Setting(16, "int", _positive),
        "window_min": Setting(1.0, "float", _positive),
        "window_max": Setting(5.0, "float", _positive),
        "hidden": Setting(16, "int", _positive),
        "lr_linear": Setting(0.05, "float", _positive),
        "lr_mlp": Setting(0.01, "float", _positive),
        "snapshots": Setting(4, "int", _positive),
        **_SOLVER,
    },
    "latent": {
        "seed": Setting(0, "int", _non_negative),
        "n_train": Setting(256, "int", _positive),
        "n_test": Setting(64, "int", _positive),
        "n_grid": Setting(100, "int", _positive),
        "t_max": Setting(10.0, "float", _positive),
        "observed_fraction": Setting(0.5, "float", _fraction),
        "n_obs": Setting(25, "int", _positive),
        "noise_sd": Setting(0.05, "float", _non_negative),
        "latent_dim": Setting(4, "int", _positive),
        "hidden": Setting(25, "int", _positive),
        "n_iters": Setting(300, "int", _positive),
        "batch_size": Setting(32, "int", _positive),
        "lr": Setting(0.01, "float", _positive),
        "likelihood_sd": Setting(0.1, "float", _positive),
        "n_examples": Setting(4, "int", _positive),
        "method": Setting("dopri5", "str", _choice(*registry.METHODS)),
        "rtol": Setting(1e-3, "float", _positive),
        "atol": Setting(1e-4, "float", _positive),
        "adjoint": Setting(True, "bool"),
    },
    "tolerance": {
        "seed": Setting(0, "int", _non_negative),
        "device": Setting("auto", "str", _choice(*DEVICES)),
        "tolerances": Setting([1e-1, 1e-2, 1e-3, 1e-4, 1e-5], "list[float]", _non_empty),
        "n_images": Setting(1000, "int", _positive),
        "batch_size": Setting(250, "int", _positive),
        "backward_batch": Setting(128, "int", _positive),
        "timing_repeats": Setting(3, "int", _positive),
        "data_path": Setting("", "str"),
    },
    "memory": {
        "seed": Setting(0, "int", _non_negative),
        "device": Setting("auto", "str", _choice(*DEVICES)),
        "steps": Setting([1, 2, 4, 8, 16, 32, 64], "list[int]", _increasing_steps),
        "batch": Setting(32, "int", _positive),
        "channels": Setting(64, "int", _positive),
        "size": Setting(7, "int", _positive),
        "jobs": Setting(1, "int", _positive),
        "timeout": Setting(600.0, "float", _positive),
    },
    "euler": {
        "seed": Setting(0, "int", _non_negative),
        "x_max": Setting(4.0, "float", _positive),
        "n_halvings": Setting(8, "int", _positive),
        "initial_values": Setting([0.0, 1.0, 2.0, 4.0, 5.0, 6.0], "list[float]", _non_empty_list),
        "relaxation_step": Setting(1.0, "float", _positive),
        "relaxation_x_max": Setting(8.0, "float", _positive),
        "resnet_channels": Setting(8, "int", _positive),
        "resnet_size": Setting(8, "int", _positive),
        "resnet_batch": Setting(4, "int", _positive),
    },
}

def _coerce(key: str, kind: str, value: Any) -> Any:
    """The value converted to `kind`, or ExperimentConfigError (bools are never numbers)."""

    def wrong() -> ExperimentConfigError:
        return ExperimentConfigError(
            f"setting '{key}' must be {kind.replace('list[', 'a list of ').rstrip(']')}, "
            f"got {value!r} ({type(value).__name__})"
        )

    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise wrong()
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise wrong()
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise wrong()
    if kind == "str":
        if isinstance(value, str):
            return value
        raise wrong()
    if kind.startswith("list["):
        if not isinstance(value, (list, tuple)):
            raise wrong()
        inner = kind[5:-1]
        try:
            return [_coerce(key, inner, v) for v in value]
        except ExperimentConfigError:
            raise wrong() from None
    raise AssertionError(f"unknown setting kind {kind}")


def defaults(name: str) -> dict[str, Any]:
    """The default settings of experiment `name`."""
    return {key: copy.deepcopy(s.default) for key, s in _schema(name).items()}


def _schema(name: str) -> dict[str, Setting]:
    if name not in SCHEMAS:
        raise ExperimentConfigError(
            f"unknown experiment '{name}' (expected one of {', '.join(SCHEMAS)})"
        )
    return SCHEMAS[name]


def validate(name: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults of `name` overridden by `settings`, type-checked; raises ExperimentConfigError."""
    schema = _schema(name)
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise ExperimentConfigError(
            f"experiments.{name} must be a mapping of settings, got {type(settings).__name__}"
        )
    resolved = defaults(name)
    for key, value in settings.items():
        if key not in schema:
            raise ExperimentConfigError(
                f"unknown setting '{key}' for experiment '{name}' "
                f"(known: {', '.join(sorted(schema))})"
            )
        spec = schema[key]
        value = _coerce(key, spec.kind, value)
        problem = spec.check(value) if spec.check else None
        if problem:
            raise ExperimentConfigError(f"setting '{key}' of experiment '{name}' {problem}")
        resolved[key] = value
    _cross_checks(name, resolved)
    return resolved


def _cross_checks(name: str, s: dict[str, Any]) -> None:
    if name == "spiral" and s["window_min"] > s["window_max"]:
        raise ExperimentConfigError(
            "setting 'window_min' of experiment 'spiral' exceeds window_max"
        )
    if name == "latent":
        n_observed_grid = int(s["n_grid"] * s["observed_fraction"])
        if s["n_obs"] >= n_observed_grid:
            raise ExperimentConfigError(
                f"setting 'n_obs' of experiment 'latent' must be below the {n_observed_grid} grid "
                "points of the observed interval (n_grid * observed_fraction), so that some "
                "are left for interpolation"
            )


def experiment_settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Validated settings of `name` from a profile: its experiments.NAME block, with the profile's
    top-level `seed` and `device` where the block does not set them; errors name the config key."""
    experiments = config.get("experiments") or {}
    if not isinstance(experiments, Mapping):
        raise ExperimentConfigError("config key 'experiments' must be a mapping")
    block = experiments.get(name) or {}
    if not isinstance(block, Mapping):
        raise ExperimentConfigError(f"config key 'experiments.{name}' must be a mapping")
    block = dict(block)
    schema = _schema(name)
    for key in ("seed", "device"):
        if key in schema and key not in block and key in config:
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
    """An experiment settings file written by the workflow (`pyode.settings`), with overrides."""
    block = {**load_yaml(path), **parse_assignments(overrides)}
    try:
        return validate(name, block)
    except ExperimentConfigError as exc:
        raise ExperimentConfigError(f"{path}: experiments.{name}: {exc}") from None

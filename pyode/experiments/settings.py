"""The generic validator of experiment settings, and the pieces their tables are built from.

Each experiment module `pyode.experiments.NAME` declares `SETTINGS: dict[str, Setting]` (default,
one-line description, optional check), `TINY` (the values a profile with `scale: tiny` starts
from) and, where settings constrain each other, `check_settings(settings) -> (key, problem) | None`.
A config's `experiments.NAME` block overrides the defaults key by key; an unknown key or a bad
value is an `ExperimentConfigError` naming the key.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyode import registry
from pyode.settings import ConfigError, is_tiny, load_yaml, parse_assignments

DEVICES = ("auto", "cpu", "cuda")


class ExperimentConfigError(ConfigError):
    """A bad experiment setting: unknown key, wrong type or out-of-range value."""


Check = Callable[[Any], str | None]  # returns a message when the value is bad


@dataclass(frozen=True)
class Setting:
    """One setting of an experiment: its default, a one-line description and an optional check.

    The type is the default's (a float setting accepts integers; a list takes its first element's
    type), or `kind` where the default cannot say it.
    """

    default: Any
    description: str
    check: Check | None = None
    kind: str = ""  # int | float | bool | str | list[int] | list[float]; empty: from the default

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", _kind_of(self.default))


def _kind_of(value: Any) -> str:
    if isinstance(value, list) and value:
        return f"list[{_kind_of(value[0])}]"
    for kind in (bool, int, float, str):  # bool first: a bool is also an int
        if isinstance(value, kind):
            return kind.__name__
    raise TypeError(f"cannot tell the kind of default {value!r}; give Setting(kind=...)")


def positive(value: Any) -> str | None:
    values = value if isinstance(value, list) else [value]
    return None if all(v > 0 for v in values) else "must be > 0"


def non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be >= 0"


def choice(*options: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}"

    return check


def non_empty_positive(value: list[Any]) -> str | None:
    if not value:
        return "must not be empty"
    return positive(value)


def non_empty(value: list[Any]) -> str | None:
    return None if value else "must not be empty"


def increasing_steps(value: list[int]) -> str | None:
    if len(value) < 2:
        return "needs at least two step counts for a slope"
    if sorted(set(value)) != value:
        return "must be strictly increasing"
    return positive(value)


def at_least(minimum: int) -> Check:
    def check(value: Any) -> str | None:
        return None if value >= minimum else f"must be >= {minimum}"

    return check


def distinct_positive(value: list[Any]) -> str | None:
    if not value:
        return "must not be empty"
    if len(set(value)) != len(value):
        return "must not repeat a value"
    return positive(value)


def fraction(value: float) -> str | None:
    return None if 0 < value < 1 else "must be strictly between 0 and 1"


# Settings several experiments share, so that each is spelled once.
SEED = Setting(0, "seeds the data, initialisation and sampling (default: the top-level seed)",
               non_negative)
DEVICE = Setting("auto", "auto, cpu or cuda (default: the top-level device)", choice(*DEVICES))


def solver_settings(rtol: float, atol: float) -> dict[str, Setting]:
    """The ODE solver's method, tolerances and gradient mode, with these default tolerances."""
    return {
        "method": Setting("dopri5", "solver method (a pyode.solver tableau)",
                          choice(*registry.METHODS)),
        "rtol": Setting(rtol, "relative tolerance of adaptive methods", positive),
        "atol": Setting(atol, "absolute tolerance of adaptive methods", positive),
        "adjoint": Setting(True, "gradients by the adjoint method (true) or through the solver"),
    }


def schema(name: str) -> dict[str, Setting]:
    """The SETTINGS table of experiment `name` (its module `pyode.experiments.NAME`)."""
    if name not in registry.experiment_names():
        known = ", ".join(registry.experiment_names())
        raise ExperimentConfigError(f"unknown experiment '{name}' (expected one of {known})")
    return importlib.import_module(f"pyode.experiments.{name}").SETTINGS


def tiny(name: str) -> dict[str, Any]:
    """The tiny sizes of experiment `name` (its module's TINY): what `scale: tiny` starts from."""
    schema(name)
    module = importlib.import_module(f"pyode.experiments.{name}")
    return copy.deepcopy(dict(getattr(module, "TINY", {})))


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
    return {key: copy.deepcopy(s.default) for key, s in schema(name).items()}


def validate(name: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults of `name` overridden by `settings`, type-checked; raises ExperimentConfigError."""
    table = schema(name)
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise ExperimentConfigError(
            f"experiments.{name} must be a mapping of settings, got {type(settings).__name__}"
        )
    resolved = defaults(name)
    for key, value in settings.items():
        if key not in table:
            raise ExperimentConfigError(
                f"unknown setting '{key}' for experiment '{name}' "
                f"(known: {', '.join(sorted(table))})"
            )
        spec = table[key]
        value = _coerce(key, spec.kind, value)
        problem = spec.check(value) if spec.check else None
        if problem:
            raise ExperimentConfigError(f"setting '{key}' of experiment '{name}' {problem}")
        resolved[key] = value
    _cross_checks(name, resolved)
    return resolved


def _cross_checks(name: str, s: dict[str, Any]) -> None:
    """A module's `check_settings(settings)` relates settings to each other: (key, problem)."""
    check = getattr(importlib.import_module(f"pyode.experiments.{name}"), "check_settings", None)
    problem = check(s) if check else None
    if problem:
        key, message = problem
        raise ExperimentConfigError(f"setting '{key}' of experiment '{name}' {message}")


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
    """An experiment settings file written by the workflow (`pyode.settings`), with overrides."""
    block = {**load_yaml(path), **parse_assignments(overrides)}
    try:
        return validate(name, block)
    except ExperimentConfigError as exc:
        raise ExperimentConfigError(f"{path}: experiments.{name}: {exc}") from None


def describe() -> str:
    """Every experiment's settings as Markdown tables: key, default, description."""
    parts = []
    for name in registry.experiment_names():
        rows = [f"| `{key}` | `{json.dumps(s.default)}` | {s.description} |"
                for key, s in schema(name).items()]
        parts.append("\n".join([f"### `experiments.{name}`", "", "| key | default | meaning |",
                                "| --- | --- | --- |", *rows]))
    return "\n\n".join(parts) + "\n"


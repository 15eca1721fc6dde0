"""Settings declared as tables: each key's default, one-line description and check.

Experiments and data sets declare their settings this way, in their registry entries
(`pyode.registry.experiments`, `pyode.registry.training`); `validate_table` fills the defaults,
converts each value to its kind and runs the checks, and every error names the key.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyode.config_files import ConfigError


class SettingError(ConfigError):
    """A bad setting in a table: unknown key, wrong type or out-of-range value."""


Check = Callable[[Any], str | None]  # returns a message when the value is bad
# Relates the settings of a table to each other: (key, problem) for the first that fails.
CrossCheck = Callable[[dict[str, Any]], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Setting:
    """One setting: its default, a one-line description and an optional check.

    The type is the default's (a float setting accepts integers; a list takes its first element's
    type), or `kind` where the default cannot say it. A setting that is itself a mapping of
    settings (say `solver`) has the `table` they are checked against, and `table_check` to relate
    them to each other.
    """

    default: Any
    description: str
    check: Check | None = None
    kind: str = ""  # int | float | bool | str | list[int] | list[float]; empty: from the default
    nullable: bool = False  # null (None) is allowed and skips the check
    table: Mapping[str, Setting] | None = None
    table_check: CrossCheck | None = None

    def __post_init__(self) -> None:
        if self.table is not None:
            object.__setattr__(self, "kind", "table")
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


def finite_positive(value: Any) -> str | None:
    return None if 0 < value < math.inf else "must be a finite number > 0"


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


_KIND_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "text",
               "list[int]": "a list of integers", "list[float]": "a list of numbers",
               "list[str]": "a list of names", "list[bool]": "a list of true/false"}


def coerce(key: str, kind: str, value: Any) -> Any:
    """The value converted to `kind`, or SettingError (bools are never numbers)."""

    def wrong() -> SettingError:
        return SettingError(f"setting '{key}' must be {_KIND_WORDS[kind]}, got {value!r}")

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
            return [coerce(key, inner, v) for v in value]
        except SettingError:
            raise wrong() from None
    raise AssertionError(f"unknown setting kind {kind}")


def validate_table(
    table: Mapping[str, Setting],
    settings: Mapping[str, Any] | None,
    owner: str = "",
    cross_check: CrossCheck | None = None,
    prefix: str = "",
    fill: bool = True,
) -> dict[str, Any]:
    """`settings` converted and checked against `table`, over its defaults when `fill`.

    `owner` names whose settings they are in errors ("experiment 'spiral'"); `cross_check`
    relates settings to each other. Errors name a key as `prefix` + key ("data." + "n_train");
    nested tables (a Setting's `table`) are checked without filling their defaults.
    Raises SettingError.
    """
    of = f" of {owner}" if owner else ""
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        where = f"'{prefix.rstrip('.')}'" if prefix else f"the settings{of}"
        raise SettingError(f"{where} must be a mapping of settings, got {settings!r}")
    resolved = {key: copy.deepcopy(s.default) for key, s in table.items()} if fill else {}
    for key, value in settings.items():
        if key not in table:
            raise SettingError(f"unknown setting '{prefix}{key}'{of} "
                               f"(known: {', '.join(sorted(table))})")
        spec = table[key]
        if value is None and spec.nullable:
            resolved[key] = None
            continue
        if spec.table is not None:
            resolved[key] = validate_table(spec.table, value, owner, spec.table_check,
                                           prefix=f"{prefix}{key}.", fill=False)
            continue
        value = coerce(prefix + key, spec.kind, value)
        problem = spec.check(value) if spec.check else None
        if problem:
            raise SettingError(f"setting '{prefix}{key}'{of} {problem}, got {value!r}")
        resolved[key] = value
    problem = cross_check(resolved) if cross_check else None
    if problem:
        key, message = problem
        raise SettingError(f"setting '{prefix}{key}'{of} {message}")
    return resolved


def markdown(title: str, table: Mapping[str, Setting]) -> str:
    """A settings table as Markdown: key, default and meaning of each setting."""
    rows = [f"| `{key}` | `{json.dumps(s.default)}` | {s.description} |"
            for key, s in table.items()]
    return "\n".join([f"### `{title}`", "", "| key | default | meaning |", "| --- | --- | --- |",
                      *rows])

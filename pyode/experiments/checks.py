"""Minimal checks of an experiment's settings against its module's DEFAULTS: one ValueError that
names the setting, raised before any work is done."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def resolve(experiment: str, defaults: Mapping[str, Any],
            settings: Mapping[str, Any]) -> dict[str, Any]:
    """`defaults` overridden by `settings`; an unknown key is an error listing the valid ones."""
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {experiment} setting(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(defaults)}")
    return {**defaults, **settings}


def is_int(value: Any) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def integers(s: Mapping[str, Any], keys: Iterable[str], minimum: int = 1) -> None:
    for key in keys:
        if not is_int(s[key]) or s[key] < minimum:
            raise ValueError(f"setting '{key}' must be an integer >= {minimum}, got {s[key]!r}")


def positive_numbers(s: dict[str, Any], keys: Iterable[str]) -> None:
    """Finite numbers > 0, stored back as floats."""
    for key in keys:
        value = s[key]
        if not ((is_int(value) or isinstance(value, float)) and math.isfinite(value)
                and value > 0):
            raise ValueError(f"setting '{key}' must be a positive number, got {value!r}")
        s[key] = float(value)


def choice(s: Mapping[str, Any], key: str, options: Iterable[str]) -> None:
    options = tuple(options)
    if s[key] not in options:
        raise ValueError(f"setting '{key}' must be one of {', '.join(options)}, got {s[key]!r}")

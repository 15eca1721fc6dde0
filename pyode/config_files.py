"""The bottom of the configuration path: its error type, YAML files, merging and `--set` parsing.

Nothing here knows a data set, a model or an experiment: every other layer raises `ConfigError`
and reads its files through these functions, so this module imports no other pyode module.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pyode.atomic import atomic_open, first_non_finite

# Keys renamed since earlier profiles: the error names the new key.
RENAMED_KEYS: dict[str, str] = {}


class ConfigError(ValueError):
    """A configuration that cannot be run; the message names the file or key."""


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of `base` with `update` merged in, recursively for nested mappings."""
    out = copy.deepcopy(dict(base))
    for key, value in (update or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A YAML file whose top level is a mapping, or ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such settings file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (expected YAML)") from None
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid YAML ({reason})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def write_settings(path: str | os.PathLike[str], settings: Mapping[str, Any]) -> None:
    """Write one job's settings as YAML, atomically (a reader never sees half a file)."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write("# Written by the workflow from the config; edit config/*.yaml instead.\n")
        yaml.safe_dump(dict(settings), handle, sort_keys=False, default_flow_style=False)


def parse_assignments(items: list[str] | None) -> dict[str, Any]:
    """`--set key=value` strings → {dotted key: value}; values are YAML (an empty one is null)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. solver.rtol=1e-4")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: the value is not YAML") from None
        out[key.strip()] = _yaml_number(value) if isinstance(value, str) else value
    return out


def _yaml_number(text: str) -> Any:
    """YAML 1.1 reads '1e-4' as a string; accept such plain numbers as floats."""
    try:
        return float(text) if any(c.isdigit() for c in text) else text
    except ValueError:
        return text


def nest(assignments: Mapping[str, Any]) -> dict[str, Any]:
    """{'solver.rtol': 1e-4} → {'solver': {'rtol': 1e-4}}; nested mappings pass through."""
    nested: dict[str, Any] = {}
    for dotted, value in assignments.items():
        parts = str(dotted).split(".")
        if not all(parts):
            raise ConfigError(f"override key {dotted!r} is not a dotted setting name")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {dotted!r} conflicts with another override")
        node[parts[-1]] = value
    return nested


def check_renamed(config: Mapping[str, Any], prefix: str = "") -> None:
    """A key that was renamed is an error naming the new key, never silently ignored."""
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if dotted in RENAMED_KEYS:
            raise ConfigError(f"config key '{dotted}' is now '{RENAMED_KEYS[dotted]}'")
        if isinstance(value, Mapping):
            check_renamed(value, f"{dotted}.")


def check_finite(settings: Mapping[str, Any], prefix: str) -> None:
    """NaN and infinities are refused in any setting (they would only surface as NaN results)."""
    bad = first_non_finite(dict(settings))
    if bad is not None:
        raise ConfigError(f"config key '{prefix}.{bad}': expected a finite number")

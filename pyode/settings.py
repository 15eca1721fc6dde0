"""The one configuration path: read a profile, merge its levels, validate, write per-job files.

A workflow profile (config/*.yaml) holds every setting. `resolve_workflow` turns it into the
settings of each training run (`pyode.train.config.resolve_config`: train.defaults <-
train.DATASET.defaults <- train.DATASET.MODEL over the built-in defaults) and of each experiment
(`pyode.experiments.settings.validate`: the experiments.NAME block over the experiment's SETTINGS),
failing with one line that names the config key. The workflow writes each to its own settings
file (`run_settings_path`, `experiment_settings_path`) and `pyode train --settings FILE` /
`pyode experiment NAME --settings FILE` read exactly that file, so a job reruns only when its
own settings change.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from pyode import registry
from pyode.atomic import atomic_open, first_non_finite

# Settings that only steer the workflow and mean nothing to `pyode train` / `pyode experiment`.
WORKFLOW_ONLY_KEYS = ("results",)
# `scale: tiny` gives every experiment and data set the smallest sizes that still exercise each
# step (their modules' TINY tables): the test profile's sizes, kept beside the code they size.
SCALES = ("full", "tiny")
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


def is_tiny(config: Mapping[str, Any]) -> bool:
    """Whether the profile asks for the tiny sizes (`scale: tiny`); ConfigError for a bad value."""
    scale = config.get("scale", "full")
    if scale not in SCALES:
        raise ConfigError(f"config key 'scale': expected one of {', '.join(SCALES)}, "
                          f"got {scale!r}")
    return scale == "tiny"


def pipeline_config(config: Mapping[str, Any], results: str | None = None) -> dict[str, Any]:
    """The profile as pyode sees it: workflow-only keys dropped and every registered data set's
    settings complete (`data_blocks`), generated files placed below `results`."""
    resolved = {k: copy.deepcopy(v) for k, v in config.items() if k not in WORKFLOW_ONLY_KEYS}
    resolved["data"] = data_blocks(config, results)
    return resolved


def data_blocks(config: Mapping[str, Any], results: str | None = None) -> dict[str, Any]:
    """The validated `data.NAME` settings of every registered data set (defaults where the profile
    has no block, TINY sizes under `scale: tiny`); with `results`, the files the workflow
    generates lie in RESULTS/data/NAME. Errors name the config key."""
    from pyode.data import data_settings, resolve_paths

    data = config.get("data") or {}
    if not isinstance(data, Mapping):
        raise ConfigError("config key 'data': expected a mapping of data sets")
    for name in data:
        if name not in registry.dataset_names():
            raise ConfigError(f"config key 'data.{name}': unknown data set; choose one of "
                              f"{', '.join(registry.dataset_names())}")
    blocks = {}
    for name in registry.dataset_names():
        try:
            settings = data_settings(name, data.get(name), tiny=is_tiny(config))
        except ConfigError as exc:
            raise ConfigError(f"config key 'data.{name}': {exc}") from None
        blocks[name] = (settings if results is None
                        else resolve_paths(name, settings, data_dir(results, name)))
    return blocks


def data_dir(results: str, name: str) -> str:
    """Where the workflow prepares data set `name`: its summary.json and generated files."""
    return f"{results}/data/{name}"


def configured_runs(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (dataset, model) pairs of the profile's `runs`, in registry order of the datasets."""
    runs = config.get("runs") or {}
    for dataset in runs:
        if dataset not in registry.dataset_names():
            raise ConfigError(f"config key 'runs.{dataset}': unknown dataset; choose one of "
                              f"{', '.join(registry.dataset_names())}")
    pairs = []
    for dataset in registry.dataset_names():
        allowed = registry.model_names(dataset)
        for index, model in enumerate(runs.get(dataset) or []):
            if model not in allowed:
                raise ConfigError(f"config key 'runs.{dataset}.{index}': {model!r} is not one of "
                                  f"{list(allowed)}")
            pairs.append((dataset, model))
    return pairs


# ---- training seeds ------------------------------------------------------------------------------
def training_seeds(config: Mapping[str, Any]) -> list[int]:
    """The profile's `seeds` (each run is trained once per seed), or its one top-level `seed`.

    The top-level `seed` keeps seeding the data and the experiments.
    """
    seeds = config.get("seeds")
    if seeds is None:
        return [config.get("seed", 0)]
    if not isinstance(seeds, list) or not seeds:
        raise ConfigError(f"config key 'seeds': expected a non-empty list, got {seeds!r}")
    for index, seed in enumerate(seeds):
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"config key 'seeds.{index}': expected an integer >= 0, "
                              f"got {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"config key 'seeds': the seeds must differ, got {seeds}")
    return list(seeds)


def run_path(dataset: str, model: str, seed: int | str | None = None) -> str:
    """A run's place below train/ and config/runs/: DATASET/MODEL, or DATASET/MODEL/seed-N when
    the profile trains several seeds (`seed` given)."""
    return f"{dataset}/{model}" if seed is None else f"{dataset}/{model}/seed-{seed}"


def resolve_workflow(config: Mapping[str, Any]) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every job's validated settings: {'runs': {(dataset, model, seed): …},
    'experiments': {name: …}, 'data': {dataset: …}}, one run per training seed
    (`training_seeds`) and the data sets those runs use.

    `config` is a `pipeline_config`; the first problem is a ConfigError naming the key.
    """
    from pyode.experiments.settings import experiment_settings
    from pyode.train.config import resolve_config

    check_renamed(config)
    seeds = training_seeds(config)
    runs = {(d, m, seed): resolve_config(config, d, m, {"seed": seed})
            for d, m in configured_runs(config) for seed in seeds}
    experiments = config.get("experiments") or {}
    for name in experiments:
        if name not in registry.experiment_names():
            raise ConfigError(f"config key 'experiments.{name}': unknown experiment; choose one "
                              f"of {', '.join(registry.experiment_names())}")
    settings = {name: experiment_settings(config, name) for name in registry.experiment_names()}
    for name, values in settings.items():
        check_finite(values, f"experiments.{name}")
    data = data_blocks(config) if "data" not in config else config["data"]
    used = {dataset: data[dataset] for dataset, _, _ in runs}
    return {"runs": runs, "experiments": settings, "data": used}


def check_finite(settings: Mapping[str, Any], prefix: str) -> None:
    """NaN and infinities are refused in any setting (they would only surface as NaN results)."""
    bad = first_non_finite(dict(settings))
    if bad is not None:
        raise ConfigError(f"config key '{prefix}.{bad}': expected a finite number")


# ---- per-job settings files ----------------------------------------------------------------------
def run_settings_path(results: str, dataset: str, model: str,
                      seed: int | str | None = None) -> str:
    return f"{results}/config/runs/{run_path(dataset, model, seed)}.yaml"


def data_settings_path(results: str, name: str) -> str:
    return f"{results}/config/data/{name}.yaml"


def experiment_settings_path(results: str, name: str) -> str:
    return f"{results}/config/experiments/{name}.yaml"


def write_settings(path: str | os.PathLike[str], settings: Mapping[str, Any]) -> None:
    """Write one job's settings as YAML, atomically (a reader never sees half a file)."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write("# Written by the workflow from the config; edit config/*.yaml instead.\n")
        yaml.safe_dump(dict(settings), handle, sort_keys=False, default_flow_style=False)


def describe() -> str:
    """Every training, data set and experiment setting as Markdown tables (config/README.md)."""
    from pyode.data import dataset_module
    from pyode.experiments.settings import schema
    from pyode.setting_tables import markdown
    from pyode.train.config import TRAIN_SETTINGS

    parts = [markdown("train.LEVEL", TRAIN_SETTINGS)]
    parts += [markdown(f"train.LEVEL.{key}", s.table) for key, s in TRAIN_SETTINGS.items()
              if s.table is not None]
    parts += [markdown(f"data.{name}", dataset_module(name).SETTINGS)
              for name in registry.dataset_names()]
    parts += [markdown(f"experiments.{name}", schema(name)) for name in registry.experiment_names()]
    return "\n\n".join(parts) + "\n"

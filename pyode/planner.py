"""The one configuration path's top: a whole profile checked and resolved into every job's settings.

A workflow profile (config/*.yaml) holds every setting. `resolve_workflow` turns it into the
settings of each training run (`pyode.train.config.resolve_config`: train.defaults <-
train.DATASET.defaults <- train.DATASET.MODEL over the built-in defaults) and of each experiment
(`pyode.experiments.settings.experiment_settings`: the experiments.NAME block over the settings
of its registry entry), failing with one line that names the config key. The workflow writes each
to its own settings file (`pyode.layout`) and `pyode train --settings FILE` /
`pyode experiment NAME --settings FILE` read exactly that file, so a job reruns only when its
own settings change. `check_profile` is what `pyode train --config` and `pyode experiment
--config` run, so the CLI refuses what the workflow refuses.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

from pyode import registry
from pyode.config_files import ConfigError, check_finite, check_renamed, load_yaml
from pyode.data import data_settings, resolve_paths
from pyode.experiments.settings import experiment_settings, schema
from pyode.layout import data_dir
from pyode.profile import (
    WORKFLOW_ONLY_KEYS,
    check_top_level,
    configured_runs,
    is_tiny,
    training_seeds,
)
from pyode.setting_tables import markdown
from pyode.train.config import TRAIN_SETTINGS, resolve_config


class PipelineConfig(dict):
    """A profile whose top level and data blocks `pipeline_config` has checked: what
    `resolve_workflow` takes without checking them again."""


def pipeline_config(config: Mapping[str, Any], results: str | None = None) -> PipelineConfig:
    """The profile as pyode sees it: workflow-only keys dropped and every registered data set's
    settings complete (`data_blocks`), generated files placed below `results`."""
    check_renamed(config)
    check_top_level(config)
    resolved = PipelineConfig({k: copy.deepcopy(v) for k, v in config.items()
                               if k not in WORKFLOW_ONLY_KEYS})
    resolved["data"] = data_blocks(config, results)
    return resolved


def data_blocks(config: Mapping[str, Any], results: str | None = None) -> dict[str, Any]:
    """The validated `data.NAME` settings of every registered data set (defaults where the profile
    has no block, their tiny sizes under `scale: tiny`); with `results`, the files the workflow
    generates lie in RESULTS/data/NAME. Errors name the config key."""
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


def resolve_workflow(config: Mapping[str, Any]) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every job's validated settings: {'runs': {(dataset, model, seed): …},
    'experiments': {name: …}, 'data': {dataset: …}}, one run per training seed
    (`training_seeds`) and the data sets those runs use.

    `config` is a profile or, checked already, a `pipeline_config` (each data block is checked
    once); the first problem is a ConfigError naming the key.
    """
    if not isinstance(config, PipelineConfig):
        config = pipeline_config(config)
    seeds = training_seeds(config)
    data = config["data"]
    runs = {(d, m, seed): resolve_config(config, d, m, {"seed": seed}, data=data[d])
            for d, m in configured_runs(config) for seed in seeds}
    # experiment_settings checks that `experiments` is a mapping, then each block
    settings = {name: experiment_settings(config, name) for name in registry.experiment_names()}
    for name in config.get("experiments") or {}:
        if name not in registry.experiment_names():
            raise ConfigError(f"config key 'experiments.{name}': unknown experiment; choose one "
                              f"of {', '.join(registry.experiment_names())}")
    for name, values in settings.items():
        check_finite(values, f"experiments.{name}")
    used = {dataset: data[dataset] for dataset, _, _ in runs}
    return {"runs": runs, "experiments": settings, "data": used}


def check_profile(config: Mapping[str, Any]) -> None:
    """Every key of a profile at every level, as the workflow checks it; ConfigError naming the
    first problem (all top-level ones at once)."""
    resolve_workflow(config)


def load_checked_profile(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A profile file checked at every level (`check_profile`); errors name the file and key."""
    profile = load_yaml(path)
    try:
        check_profile(profile)
    except ConfigError as exc:
        raise ConfigError(f"{os.fspath(path)}: {exc}") from None
    return profile


def describe() -> str:
    """Every training, data set and experiment setting as Markdown tables (config/README.md)."""
    parts = [markdown("train.LEVEL", TRAIN_SETTINGS)]
    parts += [markdown(f"train.LEVEL.{key}", s.table) for key, s in TRAIN_SETTINGS.items()
              if s.table is not None]
    parts += [markdown(f"data.{d.name}", d.settings) for d in registry.DATASETS]
    parts += [markdown(f"experiments.{name}", schema(name)) for name in registry.experiment_names()]
    return "\n\n".join(parts) + "\n"

"""The top level of a profile (config/*.yaml): its keys, the scale, the training seeds and runs.

The blocks below the top level belong to their owners (`train` to pyode.train.config, `data.NAME`
to pyode.data, `experiments.NAME` to pyode.experiments.settings); `pyode.planner` checks a whole
profile by calling each. Every problem is a ConfigError naming the config key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pyode import registry
from pyode.config_files import ConfigError

# Settings that only steer the workflow and mean nothing to `pyode train` / `pyode experiment`.
WORKFLOW_ONLY_KEYS = ("results",)
# `scale: tiny` gives every experiment and data set the smallest sizes that still exercise each
# step (their registry entries' `tiny` sizes, beside their settings): the test profile's sizes.
SCALES = ("full", "tiny")
# What the workflow cannot plan without (a profile for `pyode train --config` may omit them).
WORKFLOW_REQUIRED = ("profile", "seed", "device", "runs", "train", "experiments")


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip("/") else "expected a non-empty name"


def _seed(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else f"expected an integer >= 0, got {value!r}"


def _one_of(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in options else f"expected one of {', '.join(options)}, got {value!r}"

    return check


def _mapping(value: Any) -> str | None:
    return None if value is None or isinstance(value, Mapping) else "expected a mapping"


def _owned(value: Any) -> str | None:
    return None  # a block whose owner checks it, its type included (module docstring)


# Every top-level key and the check of its value.
TOP_LEVEL: dict[str, Callable[[Any], str | None]] = {
    "results": _text,
    "profile": _text,
    "seed": _seed,
    "seeds": _owned,  # training_seeds names the entry at fault
    "device": _one_of(registry.DEVICES),
    "scale": _one_of(SCALES),
    "data": _owned,
    "runs": _mapping,
    "train": _owned,
    "experiments": _owned,
}


def check_top_level(config: Mapping[str, Any], required: tuple[str, ...] = ()) -> None:
    """Unknown, missing (of `required`) and bad top-level keys, all named in one ConfigError of
    one line per problem."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"the profile must be a mapping, got {type(config).__name__}")
    problems = []
    unknown = sorted(str(key) for key in config if key not in TOP_LEVEL)
    if unknown:
        allowed = ", ".join(sorted(TOP_LEVEL))
        problems.append(f"config key '<top level>': unknown key(s) "
                        f"{', '.join(map(repr, unknown))} (allowed: {allowed})")
    problems += [f"config key '{key}': missing" for key in required if key not in config]
    for key, check in TOP_LEVEL.items():
        problem = check(config[key]) if key in config else None
        if problem:
            problems.append(f"config key '{key}': {problem}")
    if "seeds" in config:
        try:
            training_seeds(config)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))


def is_tiny(config: Mapping[str, Any]) -> bool:
    """Whether the profile asks for the tiny sizes (`scale: tiny`); ConfigError for a bad value."""
    scale = config.get("scale", "full")
    if scale not in SCALES:
        raise ConfigError(f"config key 'scale': expected one of {', '.join(SCALES)}, "
                          f"got {scale!r}")
    return scale == "tiny"


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
        problem = _seed(seed)
        if problem:
            raise ConfigError(f"config key 'seeds.{index}': {problem}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"config key 'seeds': the seeds must differ, got {seeds}")
    return list(seeds)


def configured_runs(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (dataset, model) pairs of the profile's `runs`, in registry order of the datasets."""
    runs = config.get("runs") or {}
    for dataset in runs:
        if dataset not in registry.dataset_names():
            raise ConfigError(f"config key 'runs.{dataset}': unknown dataset; choose one of "
                              f"{', '.join(registry.dataset_names())}")
    pairs = []
    for dataset in registry.dataset_names():
        models = runs.get(dataset) or []
        if not isinstance(models, list):
            raise ConfigError(f"config key 'runs.{dataset}': expected a list of models, "
                              f"got {models!r}")
        allowed = registry.model_names(dataset)
        for index, model in enumerate(models):
            if model not in allowed:
                raise ConfigError(f"config key 'runs.{dataset}.{index}': {model!r} is not one of "
                                  f"{list(allowed)}")
            if model in models[:index]:
                raise ConfigError(f"config key 'runs.{dataset}.{index}': {model!r} is listed "
                                  "twice")
            pairs.append((dataset, model))
    return pairs

"""The kinds of registry entries: a data set, a model, an experiment (`pyode.registry` lists them).

A data set's and an experiment's entry carry their settings table (`pyode.setting_tables`), the
tiny sizes a profile with `scale: tiny` starts from and the checks of settings that constrain each
other, so that validating a profile (and planning the workflow) needs neither their module nor
torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyode.setting_tables import CrossCheck, Setting

# A data set's settings with the files the workflow generates placed in its data folder.
PathResolver = Callable[[Mapping[str, Any], str], dict[str, Any]]


@dataclass(frozen=True)
class Dataset:
    name: str  # its module pyode.data.NAME: load_bundle, optionally prepare (pyode/data)
    label: str  # display name in figures and the paper
    # The config's `data.NAME` block: default, description and check of each key.
    settings: Mapping[str, Setting] = field(hash=False)
    tiny: Mapping[str, Any] = field(default_factory=dict, hash=False)  # `scale: tiny` sizes
    check: CrossCheck | None = None  # settings that constrain each other
    # Where the workflow generates a file (a synthetic source) into RESULTS/data/NAME.
    resolve_paths: PathResolver | None = None


@dataclass(frozen=True)
class Model:
    name: str
    label: str
    # True for models with an ODE block: their builder takes the run's `solver` settings.
    continuous_depth: bool
    datasets: tuple[str, ...]  # each needs a builder named `name` in pyode/models/<dataset>.py
    # Parameter count in Chen et al. (2018), Table 1; None for models the paper does not list.
    # tests/test_published.py checks it against the paper's published values (R package extdata).
    paper_params: float | None = None


@dataclass(frozen=True)
class Experiment:
    name: str  # its module pyode.experiments.NAME: run (pyode/experiments)
    # Its CSVs (written next to summary.json in results/experiments/NAME), each with its columns
    # in order: the experiment writes through this declaration and copies it into summary.json,
    # where the R readers check the files against it.
    outputs: Mapping[str, tuple[str, ...]] = field(hash=False)
    figure: tuple[float, float]  # its figure's width and height in inches
    mem_mb: int
    runtime: int  # minutes (a cluster's time limit)
    # The config's `experiments.NAME` block: default, description and check of each key.
    settings: Mapping[str, Setting] = field(hash=False)
    tiny: Mapping[str, Any] = field(default_factory=dict, hash=False)  # `scale: tiny` sizes
    check: CrossCheck | None = None  # settings that constrain each other
    uses_gpu: bool = False  # asks the cluster for a GPU when the config's device is cuda
    # The training run (dataset, model) it evaluates; the workflow passes it as --run-dir.
    needs_run: tuple[str, str] | None = None
    # The experiment setting that says how many processes it runs side by side (its threads).
    parallel_setting: str | None = None

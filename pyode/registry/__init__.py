"""What the project trains, solves, runs and draws, declared once.

The CLI, the settings validation, the Snakemake workflow (workflow/rules/common.smk), the run
files and, through the labels and ranks written into every summary.json, the R figures all read
these tables. The entries' kinds are `pyode.registry.entries`; the data sets and the models are
listed in `pyode.registry.training`, the experiments in `pyode.registry.experiments`, the run
files and the training figures here; this module re-exports them all and looks entries up.

Adding a model means its builder in `pyode/models/<dataset>.py` plus its `Model` entry
(registry/training.py); an experiment means its module `pyode/experiments/<name>.py` (`run`), its
`Experiment` entry (registry/experiments.py: CSV files with their columns, figure size, resources,
settings table, tiny sizes, cross-setting check), its figure `plot_<name>()` in the R package
(Rscripts/pyode/R/) and its section of the paper; a data set means its module
`pyode/data/<name>.py` (`load_bundle`, optionally `prepare`), its models' builders, its `Dataset`
entry and its models' `datasets` (registry/training.py: label, settings table, tiny sizes,
cross-setting check, generated files) and a `runs` line in a profile; a solver method is its
implementation in `pyode.solver` with its line in the solver's method table, which the registry
reads (tests/test_extending.py adds a data set, a model and an experiment).

Plain data only: the registry (and the solver's method table it reads) imports no torch, so that
planning the workflow (`snakemake -n`) and checking a config stay light; the data sets' and the
experiments' settings live here rather than in their modules (which import torch) for that reason.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from pyode.registry.choices import ADAPTIVE_METHODS, DEVICES, FIXED_GRID_METHODS, METHODS
from pyode.registry.entries import Dataset, Experiment, Model
from pyode.registry.experiments import EXPERIMENTS
from pyode.registry.training import DATASETS, MODELS

__all__ = [
    "ADAPTIVE_METHODS", "DATASETS", "DEVICES", "EPOCH_COLUMNS", "EXPERIMENTS", "FIXED_GRID_METHODS",
    "ITERATION_COLUMNS", "METHODS", "MODELS", "ODE_BLOCK_TIME", "RUN_FILES", "SUMMARY_FLAGS",
    "SUMMARY_NUMBERS", "SUMMARY_TEXTS", "TRAINING_FIGURES", "Dataset", "Experiment", "Model",
    "dataset", "dataset_names", "experiment", "experiment_names", "model", "model_names",
    "model_rank", "run_labels",
]

# Figures of the training runs; each is drawn by `plot_<name>()` of the R package.
TRAINING_FIGURES: tuple[str, ...] = (
    "losses", "accuracy", "nfe", "cost", "params", "nfe_training", "memory_nfe",
)
# The time span every ODE block integrates over (its fixed-grid steps divide it).
ODE_BLOCK_TIME: tuple[float, float] = (0.0, 1.0)
# The files of one training run (results/train/DATASET/MODEL/) and their columns.
RUN_FILES: tuple[str, ...] = ("iterations.csv", "epochs.csv", "summary.json", "model.pt")
ITERATION_COLUMNS: tuple[str, ...] = (
    "epoch", "iteration", "images_seen", "loss", "loss_ewm", "lr", "nfe_forward", "nfe_backward",
    "saved_mb", "cuda_peak_mb", "seconds",
)
EPOCH_COLUMNS: tuple[str, ...] = (
    "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "nfe_forward_mean",
    "nfe_backward_mean", "saved_mb_mean", "cuda_peak_mb_mean", "epoch_seconds", "peak_memory_mb",
)
# summary.json keys the readers (R and rbridge) require, by type.
SUMMARY_NUMBERS: tuple[str, ...] = (
    "params", "total_seconds", "final_test_accuracy", "best_test_accuracy", "epochs", "model_rank",
    "dataset_rank", "n_test",
)
SUMMARY_TEXTS: tuple[str, ...] = ("device", "profile", "model_label", "dataset_label")
SUMMARY_FLAGS: tuple[str, ...] = ("continuous_depth",)


def dataset_names() -> tuple[str, ...]:
    return tuple(d.name for d in DATASETS)


def model_names(dataset: str | None = None) -> tuple[str, ...]:
    """Every model in the one order, or those with a builder for `dataset`."""
    return tuple(m.name for m in MODELS if dataset is None or dataset in m.datasets)


def experiment_names() -> tuple[str, ...]:
    return tuple(e.name for e in EXPERIMENTS)


def dataset(name: str) -> Dataset:
    return _find(DATASETS, name, "dataset")


def model(name: str) -> Model:
    return _find(MODELS, name, "model")


def experiment(name: str) -> Experiment:
    return _find(EXPERIMENTS, name, "experiment")


def model_rank(name: str) -> int:
    """0-based position of `name` in the one model order."""
    return model_names().index(model(name).name)


def run_labels(dataset_name: str, model_name: str) -> dict[str, object]:
    """The registry's facts every summary.json carries, so readers need no list of their own."""
    entry = model(model_name)
    return {
        "model_label": entry.label,
        "model_rank": model_rank(model_name),
        "continuous_depth": entry.continuous_depth,
        "dataset_label": dataset(dataset_name).label,
        "dataset_rank": dataset_names().index(dataset(dataset_name).name),
    }


class _Named(Protocol):
    name: str


_Entry = TypeVar("_Entry", bound=_Named)


def _find(entries: tuple[_Entry, ...], name: str, kind: str) -> _Entry:
    for entry in entries:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown {kind} {name!r}; choose one of "
                   f"{', '.join(e.name for e in entries)}")

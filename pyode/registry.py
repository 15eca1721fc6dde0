"""What the project trains, solves, runs and draws, declared once.

The CLI, the settings validation, the Snakemake workflow (workflow/rules/common.smk), the run
files and, through the labels and ranks written into every summary.json, the R figures all read
these tables. Adding a model means its builder in `pyode/models/<dataset>.py` plus a `Model`
entry here; an experiment means its module (with its SETTINGS and TINY), an `Experiment` entry
here, its figure `plot_<name>()` in the R package (Rscripts/pyode/R/) and its section of the
paper; a data set means its module `pyode/data/<name>.py` (SETTINGS, TINY, load_bundle), its
models' builders, a `Dataset` entry here and a `runs` line in a profile; a solver method is its
implementation in `pyode.solver` with its line in the solver's method table, which this module
reads (tests/test_extending.py adds a data set, a model and an experiment).

Plain data only: the registry (and the solver's method table it reads) imports no torch, so that
planning the workflow (`snakemake -n`) and checking a config stay light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pyode.solver.methods import METHOD_TABLE


@dataclass(frozen=True)
class Dataset:
    name: str  # its module pyode.data.NAME: settings table, tiny sizes, loader (pyode/data)
    label: str  # display name in figures and the paper


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
    name: str
    # Its CSVs (written next to summary.json in results/experiments/NAME), each with its columns
    # in order: the experiment writes through this declaration and copies it into summary.json,
    # where the R readers check the files against it.
    outputs: Mapping[str, tuple[str, ...]] = field(hash=False)
    figure: tuple[float, float]  # its figure's width and height in inches
    mem_mb: int
    runtime: int  # minutes (a cluster's time limit)
    uses_gpu: bool = False  # asks the cluster for a GPU when the config's device is cuda
    # The training run (dataset, model) it evaluates; the workflow passes it as --run-dir.
    needs_run: tuple[str, str] | None = None
    # The experiment setting that says how many processes it runs side by side (its threads).
    parallel_setting: str | None = None


DATASETS: tuple[Dataset, ...] = (Dataset("mnist", "MNIST"), Dataset("iceberg", "Iceberg"))

# The one model order: legends, tables and colours (by rank) follow it.
MODELS: tuple[Model, ...] = (
    Model("mlp", "MLP", False, ("mnist", "iceberg"), 0.24e6),
    Model("resnet", "ResNet", False, ("mnist", "iceberg"), 0.60e6),
    Model("rknet", "RK-Net", True, ("mnist",), 0.22e6),
    Model("odenet", "ODE-Net", True, ("mnist", "iceberg"), 0.22e6),
    # Ablation: odenet's stem and head with nothing between, to show what the ODE block adds.
    Model("noblock", "No block (stem + head)", False, ("mnist",)),
)

EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("spiral", {
        "trajectories.csv": ("system", "series", "model", "iteration", "t", "z1", "z2"),
        "training.csv": ("system", "model", "iteration", "loss", "window", "nfe_forward",
                         "nfe_backward", "seconds"),
        "fits.csv": ("system", "model", "iterations", "trajectory_mse", "observed_mse",
                     "final_loss", "seconds", "a_max_abs_error"),
        "matrices.csv": ("matrix", "row", "col", "value"),
    }, figure=(9, 7), mem_mb=2000, runtime=60),
    Experiment("latent", {
        "training.csv": ("model", "iteration", "neg_elbo", "nfe_forward", "nfe_backward",
                         "seconds"),
        "metrics.csv": ("model", "part", "mse", "mse_sd", "n_spirals", "train_seconds",
                        "final_neg_elbo"),
        "examples.csv": ("series", "spiral", "t", "x", "y", "direction"),
    }, figure=(8, 6), mem_mb=2000, runtime=120),
    Experiment("tolerance", {
        "tolerance.csv": ("tolerance", "nfe_forward", "nfe_backward", "accuracy",
                          "seconds_per_forward", "n_images", "timing_batch"),
        "nfe_epochs.csv": ("epoch", "nfe_forward_mean", "nfe_backward_mean"),
    }, figure=(8, 6), mem_mb=8000, runtime=120, uses_gpu=True, needs_run=("mnist", "odenet")),
    Experiment("memory", {
        "memory.csv": ("steps", "adjoint", "mode", "peak_bytes", "peak_mb", "device"),
    }, figure=(7, 4.2), mem_mb=4000, runtime=60, uses_gpu=True, parallel_setting="jobs"),
    Experiment("euler", {
        "exponential.csv": ("x", "euler", "pyode_euler", "exact"),
        "convergence.csv": ("h", "n_steps", "euler", "exact", "abs_error", "rel_error", "order"),
        "relaxation.csv": ("y0", "method", "x", "y"),
        "residual_check.csv": ("output_max_abs_diff", "gradient_max_abs_diff", "output_max_abs",
                               "dtype"),
    }, figure=(10, 3.8), mem_mb=1000, runtime=10),
    Experiment("cnf", {
        "training.csv": ("model", "iteration", "loss", "nfe_forward", "nfe_backward", "seconds"),
        "densities.csv": ("model", "stage", "t", "layers", "x1", "x2", "log_density"),
        "samples.csv": ("model", "stage", "t", "layers", "sample", "x1", "x2"),
        "models.csv": ("model", "test_nll", "test_nll_se", "grid_mass", "parameters",
                       "train_seconds", "nfe_forward_mean", "nfe_backward_mean"),
        "test_points.csv": ("x1", "x2"),
    }, figure=(9, 5), mem_mb=2000, runtime=60),
)

# Figures of the training runs; each is drawn by `plot_<name>()` of the R package.
TRAINING_FIGURES: tuple[str, ...] = (
    "losses", "accuracy", "nfe", "cost", "params", "nfe_training", "memory_nfe",
)


# Solver methods usable from a config: every method of the solver's one method table
# (`pyode.solver.methods`, plain data like this module), in its order. Adaptive methods carry an
# embedded error estimate; the others run on a fixed grid and need n_steps or step_size.
METHODS: tuple[str, ...] = tuple(METHOD_TABLE)
ADAPTIVE_METHODS: tuple[str, ...] = tuple(n for n, m in METHOD_TABLE.items() if m.adaptive)
FIXED_GRID_METHODS: tuple[str, ...] = tuple(
    n for n, m in METHOD_TABLE.items() if not m.adaptive
)
# The time span every ODE block integrates over (its fixed-grid steps divide it).
ODE_BLOCK_TIME: tuple[float, float] = (0.0, 1.0)
# The `device` setting of runs and experiments: auto picks CUDA when there is one.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")

# The files of one training run (results/train/DATASET/MODEL/) and their columns.
RUN_FILES: tuple[str, ...] = ("iterations.csv", "epochs.csv", "summary.json", "model.pt")
ITERATION_COLUMNS: tuple[str, ...] = (
    "epoch", "iteration", "images_seen", "loss", "loss_ewm", "lr", "nfe_forward", "nfe_backward",
    "seconds",
)
EPOCH_COLUMNS: tuple[str, ...] = (
    "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "nfe_forward_mean",
    "nfe_backward_mean", "epoch_seconds", "peak_memory_mb",
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

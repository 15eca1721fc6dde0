"""Where the workflow puts things below its results folder: one function per kind of path.

`pyode.planner`, the Snakemake rules and the tests build every path from these, so a folder is
named in one place.
"""

from __future__ import annotations


def run_path(dataset: str, model: str, seed: int | str | None = None) -> str:
    """A run's place below train/ and config/runs/: DATASET/MODEL, or DATASET/MODEL/seed-N when
    the profile trains several seeds (`seed` given)."""
    return f"{dataset}/{model}" if seed is None else f"{dataset}/{model}/seed-{seed}"


def run_dir(results: str, dataset: str, model: str, seed: int | str | None = None) -> str:
    """A training run's folder: iterations.csv, epochs.csv, summary.json, model.pt."""
    return f"{results}/train/{run_path(dataset, model, seed)}"


def data_dir(results: str, name: str) -> str:
    """Where the workflow prepares data set `name`: its summary.json and generated files."""
    return f"{results}/data/{name}"


def experiment_dir(results: str, name: str) -> str:
    """An experiment's CSVs and summary.json."""
    return f"{results}/experiments/{name}"


def settings_path(results: str, key: str) -> str:
    """A per-job settings file: `key` is 'resolved', 'runs/D/M[/seed-N]', 'data/NAME' or
    'experiments/NAME'."""
    return f"{results}/config/{key}.yaml"


def run_settings_path(results: str, dataset: str, model: str,
                      seed: int | str | None = None) -> str:
    return settings_path(results, f"runs/{run_path(dataset, model, seed)}")


def data_settings_path(results: str, name: str) -> str:
    return settings_path(results, f"data/{name}")


def experiment_settings_path(results: str, name: str) -> str:
    return settings_path(results, f"experiments/{name}")

"""The R side as the workflow uses it: Rscripts/figure.R (the installed package pyode) on a small
run tree, the package's stale-copy check, and the package against pyode's registry.

The package is installed from this checkout into a temporary R library once per test session
(`r_library`), so no test can pass with a stale copy installed elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pyode import registry

pytestmark = pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")

# mnist with all four models, iceberg without rknet (as the DAG trains them)
FAKE_RUNS = (
    ("mnist", "mlp"),
    ("mnist", "resnet"),
    ("mnist", "rknet"),
    ("mnist", "odenet"),
    ("iceberg", "mlp"),
    ("iceberg", "resnet"),
    ("iceberg", "odenet"),
)


def write_fake_runs(train_dir: Path, runs=FAKE_RUNS, n_iterations: int = 12) -> None:
    """Write the three files `pyode train` leaves in each run folder, with its exact columns."""
    rng = np.random.default_rng(0)
    for index, (dataset, model) in enumerate(runs):
        run_dir = train_dir / dataset / model
        run_dir.mkdir(parents=True, exist_ok=True)
        ode = model in ("odenet", "rknet")
        adjoint = model == "odenet"
        iteration = np.arange(1, n_iterations + 1)
        loss = 2.3 * np.exp(-iteration / 5) + rng.uniform(0, 0.2, n_iterations)
        pd.DataFrame(
            {
                "epoch": np.repeat([1, 2], n_iterations // 2),
                "iteration": iteration,
                "images_seen": 32 * iteration,
                "loss": loss,
                "loss_ewm": pd.Series(loss).ewm(halflife=10).mean(),
                "lr": 1e-3,
                "nfe_forward": 26.0 if ode else np.nan,
                "nfe_backward": 32.0 if adjoint else np.nan,
                "seconds": 0.1 * iteration,
            }
        ).to_csv(run_dir / "iterations.csv", index=False)
        pd.DataFrame(
            {
                "epoch": [1, 2],
                "train_loss": [1.0, 0.5],
                "train_accuracy": [0.7, 0.8],
                "test_loss": [0.9, 0.6],
                "test_accuracy": [0.75 + index / 100, 0.85 + index / 100],
                "nfe_forward_mean": [20.0, 26.0] if ode else [np.nan, np.nan],
                "nfe_backward_mean": [30.0, 32.0] if adjoint else [np.nan, np.nan],
                "epoch_seconds": [3.0, 3.1],
                "peak_memory_mb": [100.0 + index, 110.0 + index],
            }
        ).to_csv(run_dir / "epochs.csv", index=False)
        summary = {
            "dataset": dataset,
            "model": model,
            "params": 100_000 * (index + 1),
            "final_test_accuracy": 0.85,
            "best_test_accuracy": 0.86,
            "final_test_error": 0.15,
            "best_test_error": 0.14,
            "epochs": 2,
            "total_seconds": 6.0 + index,
            "device": "cpu",
            "versions": {"python": "3.11", "torch": "2.14.1"},
            "seed": 0,
            "git_commit": "0" * 40,
            "config": {"dataset": dataset, "model": model, "lr": 0.001},
            "data_source": "synthetic",
            "data_description": "fake",
            "profile": "test",
            **registry.run_labels(dataset, model),  # as `pyode train` writes them
        }
        (run_dir / "summary.json").write_text(json.dumps(summary))


PACKAGE = Path("Rscripts") / "pyode"
_INSTALLED: dict[str, Path] = {}


def install_r_package(repo_root: Path, env: dict[str, str], tmp_path_factory) -> Path:
    """This checkout's package, installed once per session into a temporary library."""
    if "library" not in _INSTALLED:
        library = tmp_path_factory.mktemp("rlib")
        result = subprocess.run(
            ["R", "CMD", "INSTALL", "--no-multiarch", "-l", str(library), str(PACKAGE)],
            cwd=repo_root, env=dict(env, PYODE_PROJECT_ROOT=str(repo_root)),
            capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        _INSTALLED["library"] = library
    return _INSTALLED["library"]


def with_library(env: dict[str, str], library: Path) -> dict[str, str]:
    """env with `library` first on R's library path."""
    return dict(env, R_LIBS=os.pathsep.join([str(library), *filter(None, [env.get("R_LIBS")])]))


@pytest.fixture(scope="module")
def r_env(repo_root: Path, subprocess_env: dict[str, str], tmp_path_factory) -> dict[str, str]:
    return with_library(subprocess_env, install_r_package(repo_root, subprocess_env,
                                                          tmp_path_factory))


def figure(repo_root: Path, args: list[str], cwd: Path, env: dict[str, str]
           ) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["Rscript", "--vanilla", str(repo_root / "Rscripts" / "figure.R"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False,
    )


def test_figure_script_writes_pdf_and_png_from_any_directory(
    repo_root: Path, r_env: dict[str, str], tmp_path: Path
) -> None:
    train_dir = tmp_path / "train"
    write_fake_runs(train_dir)
    stem = tmp_path / "figures" / "nfe"
    result = figure(repo_root, ["training", "nfe", str(train_dir), str(stem),
                                str(repo_root / PACKAGE)], tmp_path, r_env)
    assert result.returncode == 0, result.stderr
    pdf, png = stem.with_suffix(".pdf"), stem.with_suffix(".png")
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    assert sorted(p.name for p in stem.parent.iterdir()) == ["nfe.pdf", "nfe.png"]


def test_figure_script_bad_input_is_one_clear_error(
    repo_root: Path, r_env: dict[str, str], tmp_path: Path
) -> None:
    train_dir = tmp_path / "train"
    write_fake_runs(train_dir, runs=(("iceberg", "mlp"), ("mnist", "mlp")))
    epochs_csv = train_dir / "iceberg" / "mlp" / "epochs.csv"
    pd.read_csv(epochs_csv).drop(columns="test_accuracy").to_csv(epochs_csv, index=False)
    stem = tmp_path / "figures" / "accuracy"
    result = figure(repo_root, ["training", "accuracy", str(train_dir), str(stem)], tmp_path,
                    r_env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [f"pyode figure: error: {epochs_csv} lacks column 'test_accuracy'"]
    assert not stem.parent.exists() or not any(stem.parent.iterdir())
    # a run whose epochs.csv has only its header does not drop out of the figure: it is named
    epochs_csv.write_text(",".join(registry.EPOCH_COLUMNS) + "\n")
    result = figure(repo_root, ["training", "accuracy", str(train_dir), str(stem)], tmp_path,
                    r_env)
    assert result.returncode != 0
    assert f"{epochs_csv} has a header but no rows" in result.stderr


def test_figure_script_refuses_a_stale_installed_package(
    repo_root: Path, r_env: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "pyode"
    shutil.copytree(repo_root / PACKAGE, source)
    reader = source / "R" / "read.R"
    reader.write_text(reader.read_text().replace("fail(\"missing file: %s\", path)",
                                                 "fail(\"no file: %s\", path)", 1))
    train_dir = tmp_path / "train"
    write_fake_runs(train_dir, runs=(("mnist", "mlp"),))
    stem = tmp_path / "figures" / "params"
    result = figure(repo_root, ["training", "params", str(train_dir), str(stem), str(source)],
                    tmp_path, r_env)
    assert result.returncode != 0
    assert "the installed R package pyode" in result.stderr
    assert "(function 'read_json_file')" in result.stderr
    assert not stem.parent.exists()


def r_json(code: str, cwd: Path, env: dict[str, str]) -> dict:
    result = subprocess.run(["Rscript", "--vanilla", "-e", f"library(pyode); {code}"], cwd=cwd,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_registry_figure_and_experiment_has_a_package_plot_function(
    repo_root: Path, r_env: dict[str, str]
) -> None:
    """A new training figure = its plot_<name> + its registry entry; an experiment = its
    plot_<name> (the package keeps no list of experiments)."""
    experiments = ", ".join(repr(n) for n in registry.experiment_names())
    r = r_json(
        "ns <- asNamespace('pyode'); has <- function(n) vapply(n, function(x) "
        "exists(paste0('plot_', x), envir = ns), logical(1)); cat(jsonlite::toJSON(list("
        "training = training_figure_names, "
        "training_fun = as.list(has(training_figure_names)), "
        f"experiment_fun = as.list(has(c({experiments}))))))",
        repo_root, r_env,
    )
    assert list(registry.TRAINING_FIGURES) == r["training"]
    assert all(v == [True] for v in r["training_fun"].values())
    assert len(r["experiment_fun"]) == len(registry.experiment_names())
    assert all(v == [True] for v in r["experiment_fun"].values())


def test_figure_sizes_are_the_workflow_figure_sizes(repo_root: Path, r_env: dict[str, str]) -> None:
    # An experiment's size is its registry entry's `figure`, read from its summary.json (see
    # tests/test_extending.py); the training figures' sizes are the package's.
    names = list(registry.TRAINING_FIGURES)
    r = r_json(f"cat(jsonlite::toJSON(lapply(c({', '.join(repr(n) for n in names)}), "
               "figure_size)))", repo_root, r_env)
    sizes = dict(zip(names, (tuple(s) for s in r), strict=True))
    assert sizes == {"losses": (8, 3.8), "accuracy": (8, 3.5), "nfe": (8, 5), "cost": (8, 5),
                     "params": (8, 3.5), "nfe_training": (8, 4.5), "memory_nfe": (8, 3.5)}


def test_package_reader_uses_the_registry_columns_and_keys(
    repo_root: Path, r_env: dict[str, str], tmp_path: Path
) -> None:
    r = r_json("ns <- asNamespace('pyode'); cat(jsonlite::toJSON(list("
               "iterations = ns$iterations_columns, epochs = ns$epochs_columns, "
               "summary = ns$summary_numbers)))", repo_root, r_env)
    assert tuple(r["iterations"]) == registry.ITERATION_COLUMNS
    assert tuple(r["epochs"]) == registry.EPOCH_COLUMNS
    assert set(r["summary"]) <= set(registry.SUMMARY_NUMBERS)
    # every registry fact a summary carries reaches the reader's tables
    write_fake_runs(tmp_path, runs=(("mnist", "odenet"),))
    columns = r_json(f"cat(jsonlite::toJSON(names(read_runs('{tmp_path}')$summary)))",
                     repo_root, r_env)
    assert set(registry.run_labels("mnist", "odenet")) <= set(columns)

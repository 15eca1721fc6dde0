"""Shared fixtures: the repository root and an environment for subprocesses that finds the venv."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent


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


def tiny_experiment_settings(name: str) -> dict:
    """The test profile's sizes of experiment `name`: its module's TINY (`scale: tiny`)."""
    from pyode.experiments.settings import experiment_settings

    profile = yaml.safe_load((REPO_ROOT / ".test" / "config.yaml").read_text())
    return experiment_settings(profile, name)


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One torch thread for the test, as every training and experiment job uses."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

"""Reruns through Snakemake never lose results: a forced rerun of a finished training, or one
whose output was deleted, trains afresh and writes every output (a finished run keeps no
checkpoint for the always-resuming rule to skip past)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_workflow import snakemake, write_config

from pyode import registry

pytestmark = pytest.mark.slow


def test_forced_and_repeated_runs_write_complete_outputs(repo_root, subprocess_env, tmp_path):
    results = tmp_path / "results"
    config = write_config(tmp_path / "config.yaml", repo_root / ".test/config.yaml",
                          results=str(results), runs={"mnist": ["mlp"]}, data__mnist__n_train=64,
                          data__mnist__n_test=32)
    args = ["--cores", "1", "--configfile", str(config)]
    run_dir = results / "train/mnist/mlp"
    targets = [str(run_dir / name) for name in registry.RUN_FILES]

    def build(*extra: str) -> None:
        result = snakemake(repo_root, subprocess_env, *args, *extra, "--", *targets)
        assert result.returncode == 0, result.stdout[-5000:]
        assert sorted(p.name for p in run_dir.iterdir()) == sorted(registry.RUN_FILES)
        assert len(pd.read_csv(run_dir / "epochs.csv")) == 1
        assert json.loads((run_dir / "summary.json").read_text())["model"] == "mlp"

    build()
    first = (run_dir / "epochs.csv").stat().st_mtime_ns
    build("-f")  # forced: trains again
    assert (run_dir / "epochs.csv").stat().st_mtime_ns != first
    (run_dir / "iterations.csv").unlink()
    build()  # one output gone: trains again

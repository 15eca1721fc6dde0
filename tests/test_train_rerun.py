"""Reruns through Snakemake never lose results: a forced rerun of a finished training (to the rule
the same case as a deleted output) trains afresh and writes every output, since a finished run
keeps no checkpoint for the always-resuming rule to skip past; an interrupted one leaves no mix of
old and new files and is continued by the next run. A DAG of its own (one small training run),
not the session's tiny DAG: it forces and interrupts a training whose outputs other tests read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from pyode import registry
from pyode.train.run_folder import RunFolder

pytestmark = pytest.mark.slow


def test_forced_and_repeated_runs_write_complete_outputs(snakemake, write_config, repo_root,
                                                         subprocess_env, tmp_path):
    results = tmp_path / "results"
    config = write_config(tmp_path / "config.yaml", repo_root / ".test/config.yaml",
                          results=str(results), runs={"mnist": ["mlp"]}, data__mnist__n_train=64,
                          data__mnist__n_test=32)
    args = ["--cores", "1", "--configfile", str(config)]
    run_dir = results / "train/mnist/mlp"
    targets = [str(run_dir / name) for name in registry.RUN_FILES]

    def build(*extra: str, epochs: int = 1) -> None:
        result = snakemake(*args, *extra, "--", *targets)
        assert result.returncode == 0, result.stdout[-5000:]
        assert sorted(p.name for p in run_dir.iterdir()) == sorted(registry.RUN_FILES)
        assert len(pd.read_csv(run_dir / "epochs.csv")) == epochs
        assert json.loads((run_dir / "summary.json").read_text())["model"] == "mlp"

    build()
    first = (run_dir / "epochs.csv").stat().st_mtime_ns
    build("-f")  # forced: trains again
    assert (run_dir / "epochs.csv").stat().st_mtime_ns != first

    # a longer run interrupted after its first epoch: the old outputs are gone (Snakemake removes
    # a job's outputs before it runs), none of the new ones is published; the next run resumes
    write_config(config, config, train__defaults__epochs=20)
    staged = RunFolder(run_dir).staging
    with subprocess.Popen(["snakemake", *args, "--", *targets], cwd=repo_root,
                          env=subprocess_env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True) as process:
        deadline = time.monotonic() + 240
        # the checkpoint is the last file an epoch writes: wait for it, not for the CSVs
        while not (staged / "checkpoint.pt").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=120)
    assert (staged / "checkpoint.pt").exists()
    assert not any((run_dir / name).exists() for name in registry.RUN_FILES)
    build("--rerun-incomplete", epochs=20)
    assert not staged.exists()

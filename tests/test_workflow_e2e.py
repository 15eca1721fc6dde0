"""The real workflow end to end with the tiny `.test` profile (the session's `tiny_dag`): data,
training, every registry experiment, figures, provenance and the PDF paper, into a temporary
results folder; then a rerun has nothing to do and a config change reruns only what it touches.
(Snakemake's HTML report of the same run: test_workflow_report.py.)"""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import pandas as pd
import pytest
import yaml

from pyode import registry

pytestmark = pytest.mark.slow


def test_paper_is_a_pdf(tiny_dag):
    results = tiny_dag.results
    paper = results / "report/paper.pdf"
    assert paper.read_bytes()[:5] == b"%PDF-"
    assert paper.stat().st_size > 50_000  # text, tables and the embedded figures
    assert not list((results / "report").glob("**/*.tex"))  # intermediates cleaned up


def test_every_run_wrote_its_csvs(tiny_dag, repo_root):
    results = tiny_dag.results
    runs = yaml.safe_load((repo_root / ".test/config.yaml").read_text())["runs"]
    for dataset, models in runs.items():
        for model in models:
            folder = results / "train" / dataset / model
            iterations = pd.read_csv(folder / "iterations.csv")
            epochs = pd.read_csv(folder / "epochs.csv")
            assert tuple(iterations.columns) == registry.ITERATION_COLUMNS
            assert tuple(epochs.columns) == registry.EPOCH_COLUMNS
            assert sorted(p.name for p in folder.iterdir()) == sorted(registry.RUN_FILES)
            assert len(epochs) == 1 and len(iterations) > 0
            assert epochs["test_accuracy"].between(0, 1).all()
            summary = json.loads((folder / "summary.json").read_text())
            assert (summary["dataset"], summary["model"]) == (dataset, model)
            assert summary["profile"] == "test"
            assert (folder / "model.pt").stat().st_size > 0
            assert (results / "logs/train" / dataset / f"{model}.log").exists()
            assert (results / "benchmarks/train" / dataset / f"{model}.tsv").exists()


def test_every_figure_exists(tiny_dag):
    stems = [*registry.TRAINING_FIGURES, *(f"experiment_{n}" for n in registry.experiment_names())]
    for stem in stems:
        assert (tiny_dag.results / "figures" / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
        assert (tiny_dag.results / "figures" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("experiment", registry.EXPERIMENTS, ids=lambda e: e.name)
def test_every_experiment_wrote_its_declared_outputs(tiny_dag, experiment):
    folder = tiny_dag.results / "experiments" / experiment.name
    # exactly the files its registry entry declares, beside its summary
    assert sorted(p.name for p in folder.iterdir()) == sorted([*experiment.outputs,
                                                               "summary.json"])
    for name in experiment.outputs:
        table = pd.read_csv(folder / name)
        assert len(table.columns) > 0 and len(table) > 0, name
    summary = json.loads((folder / "summary.json").read_text())
    assert isinstance(summary, dict) and summary, summary


def test_provenance_records_versions_and_config(tiny_dag, repo_root):
    results = tiny_dag.results
    record = json.loads((results / "report/provenance.json").read_text())
    assert record["git_commit"]
    assert record["config"]["profile"] == "test"
    assert record["device"]["resolved"] == "cpu"
    for tool in ("python", "torch", "snakemake", "R"):
        assert record["versions"][tool]
    assert record["versions"]["R"].startswith("R version")
    resolved = yaml.safe_load((results / "config/resolved.yaml").read_text())
    assert resolved == record["config"]


def test_rerun_has_nothing_to_do(tiny_dag, snakemake):
    again = snakemake("-n", *tiny_dag.args)
    assert again.returncode == 0, again.stdout
    assert "Nothing to be done" in again.stdout, again.stdout


def test_config_change_reruns_only_affected_runs(tiny_dag, snakemake, write_config, repo_root,
                                                 tmp_path):
    results = tiny_dag.results
    changed = write_config(tmp_path / "changed.yaml", repo_root / ".test/config.yaml",
                           train__iceberg={"defaults": {"batch_size": 16}})
    plan = snakemake("-n", "--configfile", str(changed),
                     "--config", f"results={results}")
    assert plan.returncode == 0, plan.stdout
    counts = plan.job_counts()
    assert counts["train"] == 3  # the iceberg runs, not the MNIST ones
    assert "experiment" not in counts
    assert counts["paper"] == 1


def test_experiment_config_change_reruns_only_that_experiment(tiny_dag, snakemake, write_config,
                                                              repo_root, tmp_path):
    results = tiny_dag.results
    from pyode.experiments.settings import tiny

    spiral = {"n_iters": tiny("spiral")["n_iters"] + 1}
    changed = write_config(tmp_path / "changed.yaml", repo_root / ".test/config.yaml",
                           experiments__spiral=spiral)
    plan = snakemake("-n", "--configfile", str(changed),
                     "--config", f"results={results}")
    assert plan.returncode == 0, plan.stdout
    counts = plan.job_counts()
    assert counts.get("experiment") == 1, plan.stdout
    assert "train" not in counts
    # as the shell command quotes it (the results folder has a space in its name)
    assert f"--settings {shlex.quote(f'{results}/config/experiments/spiral.yaml')}" in plan.stdout


def test_rerun_redoes_only_what_is_missing(tiny_dag, snakemake):
    results, args = tiny_dag.results, tiny_dag.args
    losses = results / "figures/losses.pdf"
    losses.unlink()
    rerun = snakemake("--cores", "1", *args)
    assert rerun.returncode == 0, rerun.stdout
    counts = rerun.job_counts()
    assert counts == {"training_figure": 1, "paper": 1, "all": 1, "total": 3}
    assert losses.read_bytes()[:5] == b"%PDF-"


def test_paper_renders_from_a_relative_results_folder(tiny_dag, repo_root, subprocess_env,
                                                      tmp_path):
    """`results: results` in the default profile is relative to the repository root."""
    results = tiny_dag.results
    relative = os.path.relpath(results, repo_root)
    out = tmp_path / "paper.pdf"
    render = subprocess.run(
        ["Rscript", "--vanilla", "workflow/scripts/render_paper.R", "report/paper.Rmd", str(out),
         relative, os.path.join(relative, "report", "provenance.json"), str(tmp_path / "scratch")],
        cwd=repo_root, env=subprocess_env, capture_output=True, text=True, timeout=600,
    )
    assert render.returncode == 0, render.stderr[-3000:]
    assert out.read_bytes()[:5] == b"%PDF-"

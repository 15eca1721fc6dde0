"""The real workflow end to end with the tiny `.test` profile: data, training, experiments, figures,
provenance and the PDF paper, into a temporary results folder; then a rerun has nothing to do, a
config change reruns only what it touches, and Snakemake's HTML report builds."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_workflow import job_counts, snakemake, write_config

pytestmark = pytest.mark.slow

ITERATION_COLUMNS = ["epoch", "iteration", "images_seen", "loss", "loss_ewm", "lr", "nfe_forward",
                     "nfe_backward", "seconds"]
EPOCH_COLUMNS = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
                 "nfe_forward_mean", "nfe_backward_mean", "epoch_seconds", "peak_memory_mb"]
FIGURES = ["losses", "accuracy", "nfe", "cost", "params"]
EXPERIMENTS = ["spiral", "latent", "tolerance", "memory", "euler"]
TINY_RUNS: list = []


def run_tiny_workflow(repo_root, env, folder: Path) -> tuple[Path, list[str], str]:
    """Run the whole DAG once with .test/config.yaml into `folder`/"tiny results"; the results
    folder, the snakemake arguments that name it, and snakemake's output."""
    missing = [tool for tool in ("Rscript", "pdflatex", "pandoc") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the paper needs {', '.join(missing)} (installed by `make setup`)")
    # A space in the name: every path in the rules' shell commands must be quoted.
    results = folder / "tiny results"
    args = ["--configfile", ".test/config.yaml", "--config", f"results={results}"]
    # About two minutes on two idle cores; the limit leaves room for a busy machine.
    run = snakemake(repo_root, env, "--cores", "2", *args, timeout=1500)
    assert run.returncode == 0, run.stdout[-20000:]
    TINY_RUNS.append((results, args))  # reused by test_workflow_report.py in the same session
    return results, args, run.stdout


@pytest.fixture(scope="module")
def tiny_run(repo_root, subprocess_env, tmp_path_factory):
    """The whole DAG run once with .test/config.yaml."""
    return run_tiny_workflow(repo_root, subprocess_env, tmp_path_factory.mktemp("workflow"))


def test_paper_is_a_pdf(tiny_run):
    results, _, _ = tiny_run
    paper = results / "report/paper.pdf"
    assert paper.read_bytes()[:5] == b"%PDF-"
    assert paper.stat().st_size > 50_000  # text, tables and the embedded figures
    assert not list((results / "report").glob("**/*.tex"))  # intermediates cleaned up


def test_every_run_wrote_its_csvs(tiny_run, repo_root):
    results, _, _ = tiny_run
    runs = yaml.safe_load((repo_root / ".test/config.yaml").read_text())["runs"]
    for dataset, models in runs.items():
        for model in models:
            folder = results / "train" / dataset / model
            iterations = pd.read_csv(folder / "iterations.csv")
            epochs = pd.read_csv(folder / "epochs.csv")
            assert list(iterations.columns) == ITERATION_COLUMNS
            assert list(epochs.columns) == EPOCH_COLUMNS
            assert len(epochs) == 1 and len(iterations) > 0
            assert epochs["test_accuracy"].between(0, 1).all()
            summary = json.loads((folder / "summary.json").read_text())
            assert (summary["dataset"], summary["model"]) == (dataset, model)
            assert summary["profile"] == "test"
            assert (folder / "model.pt").stat().st_size > 0
            assert (results / "logs/train" / dataset / f"{model}.log").exists()
            assert (results / "benchmarks/train" / dataset / f"{model}.tsv").exists()


def test_figures_and_experiments_exist(tiny_run):
    results, _, _ = tiny_run
    for stem in [*FIGURES, *(f"experiment_{name}" for name in EXPERIMENTS)]:
        assert (results / "figures" / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
        assert (results / "figures" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
    for name in EXPERIMENTS:
        assert (results / "experiments" / name / "summary.json").exists()


def test_provenance_records_versions_and_config(tiny_run, repo_root):
    results, _, _ = tiny_run
    record = json.loads((results / "report/provenance.json").read_text())
    assert record["git_commit"]
    assert record["config"]["profile"] == "test"
    assert record["device"]["resolved"] == "cpu"
    for tool in ("python", "torch", "snakemake", "R"):
        assert record["versions"][tool]
    assert record["versions"]["R"].startswith("R version")
    resolved = yaml.safe_load((results / "config/resolved.yaml").read_text())
    assert resolved == record["config"]


def test_rerun_has_nothing_to_do(tiny_run, repo_root, subprocess_env):
    _, args, _ = tiny_run
    again = snakemake(repo_root, subprocess_env, "-n", *args)
    assert again.returncode == 0, again.stdout
    assert "Nothing to be done" in again.stdout, again.stdout


def test_config_change_reruns_only_affected_runs(tiny_run, repo_root, subprocess_env, tmp_path):
    results, _, _ = tiny_run
    changed = write_config(tmp_path / "changed.yaml", repo_root / ".test/config.yaml",
                           train__iceberg={"defaults": {"batch_size": 16}})
    plan = snakemake(repo_root, subprocess_env, "-n", "--configfile", str(changed),
                     "--config", f"results={results}")
    assert plan.returncode == 0, plan.stdout
    counts = job_counts(plan.stdout)
    assert counts["train"] == 3  # the iceberg runs, not the MNIST ones
    assert "experiment" not in counts
    assert counts["paper"] == 1


def test_experiment_config_change_reruns_only_that_experiment(tiny_run, repo_root, subprocess_env,
                                                              tmp_path):
    results, _, _ = tiny_run
    from pyode.experiments.settings import tiny

    spiral = {"n_iters": tiny("spiral")["n_iters"] + 1}
    changed = write_config(tmp_path / "changed.yaml", repo_root / ".test/config.yaml",
                           experiments__spiral=spiral)
    plan = snakemake(repo_root, subprocess_env, "-n", "--configfile", str(changed),
                     "--config", f"results={results}")
    assert plan.returncode == 0, plan.stdout
    counts = job_counts(plan.stdout)
    assert counts.get("experiment") == 1, plan.stdout
    assert "train" not in counts
    # the rules quote each path (the results folder has a space in its name)
    settings = shlex.quote(f"{results}/config/experiments/spiral.yaml")
    assert f"--settings {settings}" in plan.stdout


def test_snakemake_html_report(tiny_run, repo_root, subprocess_env):
    results, args, _ = tiny_run
    report = results / "report/report.html"
    built = snakemake(repo_root, subprocess_env, *args, "--report", str(report))
    assert built.returncode == 0, built.stdout
    text = report.read_text(errors="replace")
    assert "losses.pdf" in text or "losses.png" in text


def test_rerun_redoes_only_what_is_missing(tiny_run, repo_root, subprocess_env):
    results, args, _ = tiny_run
    losses = results / "figures/losses.pdf"
    losses.unlink()
    rerun = snakemake(repo_root, subprocess_env, "--cores", "1", *args)
    assert rerun.returncode == 0, rerun.stdout
    counts = job_counts(rerun.stdout)
    assert counts == {"training_figure": 1, "paper": 1, "all": 1, "total": 3}
    assert losses.read_bytes()[:5] == b"%PDF-"


def test_paper_renders_from_a_relative_results_folder(tiny_run, repo_root, subprocess_env,
                                                      tmp_path):
    """`results: results` in the default profile is relative to the repository root."""
    results, _, _ = tiny_run
    relative = os.path.relpath(results, repo_root)
    out = tmp_path / "paper.pdf"
    render = subprocess.run(
        ["Rscript", "--vanilla", "workflow/scripts/render_paper.R", "report/paper.Rmd", str(out),
         relative, os.path.join(relative, "report", "provenance.json"), str(tmp_path / "scratch")],
        cwd=repo_root, env=subprocess_env, capture_output=True, text=True, timeout=600,
    )
    assert render.returncode == 0, render.stderr[-3000:]
    assert out.read_bytes()[:5] == b"%PDF-"

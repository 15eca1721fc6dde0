"""The Snakemake workflow: lint, formatting, config validation, planning, the slurm profile and the
failure of the data rule when the Kaggle file is missing. Dry runs, except for two small jobs."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from snakemake import utils as snakemake_utils

from pyode import registry, settings
from pyode.settings import ConfigError, pipeline_config, resolve_workflow

TIMEOUT = 300


def test_lint_is_clean(snakemake):
    result = snakemake("--lint")
    assert result.returncode == 0, result.stdout
    assert "Lints for" not in result.stdout


def test_snakefmt_is_clean(repo_root, subprocess_env):
    files = ["Snakefile", *sorted(str(p) for p in (repo_root / "workflow/rules").glob("*.smk"))]
    result = subprocess.run(
        ["snakefmt", "--check", *files], cwd=repo_root, env=subprocess_env,
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def rejected(snakemake, write_config, repo_root, tmp_path) -> Callable[..., str]:
    """`rejected(**changes)`: the output of a dry run of the test profile with `changes`, which
    must stop before planning anything and before creating the results folder."""

    def dry_run(**changes: Any) -> str:
        bad = write_config(tmp_path / "bad.yaml", repo_root / ".test/config.yaml", **changes)
        result = snakemake("-n", "--configfile", str(bad),
                           "--config", f"results={tmp_path / 'results'}")
        assert result.returncode != 0
        assert "invalid workflow configuration" in result.stdout, result.stdout
        assert "Job stats" not in result.stdout
        assert not (tmp_path / "results").exists()
        return result.stdout

    return dry_run


def test_top_level_problems_are_named_at_once(rejected):
    output = rejected(trian={}, device="gpu", seeds=[-2, -2])
    for message in ("config key '<top level>': unknown key(s) 'trian'",
                    "config key 'device': expected one of auto, cpu, cuda, got 'gpu'",
                    "config key 'seeds.0': expected an integer >= 0, got -2"):
        assert message in output, output
    assert "Traceback" not in output and "jsonschema" not in output, output


def test_workflow_stops_on_a_bad_setting_naming_its_key(rejected):
    output = rejected(train__defaults__epochs=0)
    assert "setting 'train.defaults.epochs' must be > 0, got 0" in output, output


# The settings the workflow resolves before planning (`pipeline_config`, `resolve_workflow`, as
# common.smk calls them); the test above shows that the workflow stops with their message.
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"data__mnist__sorce": "idx"},
         "config key 'data.mnist': unknown setting 'sorce' of data set 'mnist' "
         "(known: n_test, n_train, path, source)"),
        ({"data__iceberg__n": 2},
         "config key 'data.iceberg': setting 'n' of data set 'iceberg' must be >= 4, got 2"),
        ({"data__cifar": {}}, "config key 'data.cifar': unknown data set; choose one of"),
        ({"train__mnist__odenet": {"solver": {"method": "rk5"}}},
         "setting 'train.mnist.odenet.solver.method' must be one of"),
        ({"experiments__tolerance__tolerances": "small"},
         "experiments.tolerance: setting 'tolerances' must be a list of numbers, got 'small'"),
        ({"experiments__spirals": {}}, "config key 'experiments.spirals': unknown experiment"),
        ({"runs__mnist": ["odenet", "transformer"]}, "config key 'runs.mnist.1': 'transformer'"),
        ({"runs__iceberg": ["rknet"]}, "config key 'runs.iceberg.0': 'rknet' is not one of"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(repo_root, write_config, tmp_path, changes,
                                                 message):
    bad = write_config(tmp_path / "bad.yaml", repo_root / ".test/config.yaml", **changes)
    config = yaml.safe_load(bad.read_text())
    snakemake_utils.validate(config, str(repo_root / "workflow/schemas/config.schema.yaml"))
    with pytest.raises(ConfigError) as error:
        resolve_workflow(pipeline_config(config, str(tmp_path / "results")))
    assert message in str(error.value)
    assert not (tmp_path / "results").exists()


def test_a_renamed_key_is_refused_naming_its_new_name(repo_root, write_config, tmp_path,
                                                      monkeypatch):
    monkeypatch.setitem(settings.RENAMED_KEYS, "train.defaults.learning_rate", "train.defaults.lr")
    config = yaml.safe_load(write_config(tmp_path / "old.yaml", repo_root / ".test/config.yaml",
                                         train__defaults__learning_rate=0.1).read_text())
    snakemake_utils.validate(config, str(repo_root / "workflow/schemas/config.schema.yaml"))
    with pytest.raises(ConfigError) as error:
        resolve_workflow(pipeline_config(config, str(tmp_path / "results")))
    assert str(error.value) == ("config key 'train.defaults.learning_rate' is now "
                                "'train.defaults.lr'")


PROFILES = ("config/config.yaml", "config/paper.yaml", ".test/config.yaml")


def planned_trainings(profile: Path) -> int:
    """A profile's training runs: its (dataset, model) pairs times its seeds."""
    config = yaml.safe_load(profile.read_text())
    return sum(map(len, config["runs"].values())) * len(config.get("seeds", [config["seed"]]))


@pytest.mark.parametrize("configfile", PROFILES)
def test_every_profile_plans_its_training_runs(snakemake, repo_root, tmp_path, configfile):
    trainings = planned_trainings(repo_root / configfile)
    result = snakemake("-n", "--configfile", configfile,
                       "--config", f"results={tmp_path}")
    assert result.returncode == 0, result.stdout
    counts = result.job_counts()
    assert counts["train"] == trainings
    # one settings file per run, data set the runs use, experiment and the resolved config
    datasets = yaml.safe_load((repo_root / configfile).read_text())["runs"]
    assert counts["settings"] == trainings + len(datasets) + len(
        registry.experiment_names()) + 1
    assert counts["training_figure"] == len(registry.TRAINING_FIGURES)
    assert counts["paper"] == 1
    assert counts["provenance"] == 1


def test_three_seeds_plan_one_run_per_seed_in_its_own_folder(snakemake, write_config,
                                                             repo_root, tmp_path):
    config = write_config(tmp_path / "seeds.yaml", repo_root / ".test/config.yaml",
                          seeds=[0, 5, 7])
    results = tmp_path / "results"
    result = snakemake("-n", "--configfile", str(config),
                       "--config", f"results={results}")
    assert result.returncode == 0, result.stdout
    counts = result.job_counts()
    single = snakemake("-n", "--configfile", ".test/config.yaml",
                       "--config", f"results={results}").job_counts()
    assert counts["train"] == 3 * single["train"] > 0
    assert counts["settings"] == single["settings"] + 2 * single["train"]  # a file per run
    # everything else is planned once, whatever the number of seeds
    others = {rule: n for rule, n in counts.items() if rule not in ("train", "settings", "total")}
    assert others == {rule: n for rule, n in single.items()
                      if rule not in ("train", "settings", "total")}
    for seed in (0, 5, 7):
        assert (f"pyode train --settings {results}/config/runs/mnist/noblock/seed-{seed}.yaml"
                f" --out {results}/train/mnist/noblock/seed-{seed}") in result.stdout
    assert f"--out {results}/train/mnist/noblock " not in result.stdout
    # tolerance evaluates the first seed's ODE-Net
    assert f"--run-dir {results}/train/mnist/odenet/seed-0 " in result.stdout


@pytest.mark.slow  # reads the tiny DAG's results
def test_profile_replaces_default_config(tiny_dag, repo_root):
    """Settings of config/config.yaml (mnist mlp: 10 epochs) must not leak into the test profile
    (`--configfile .test/config.yaml`, as the tiny DAG runs)."""
    resolved = yaml.safe_load((tiny_dag.results / "config/resolved.yaml").read_text())
    expected = yaml.safe_load((repo_root / ".test/config.yaml").read_text())
    assert "results" not in resolved
    assert resolved["train"] == expected["train"]
    assert resolved["profile"] == "test"
    assert resolved["data"]["iceberg"]["path"] == f"{tiny_dag.results}/data/iceberg/train.json"


def test_single_training_run_is_a_target(snakemake, repo_root, tmp_path):
    result = snakemake("-n", "--config", f"results={tmp_path}",
                       "--", f"{tmp_path}/train/mnist/odenet/epochs.csv")
    assert result.returncode == 0, result.stdout
    assert result.job_counts() == {
        "settings": 2, "data": 1, "train": 1, "total": 4
    }
    assert (f"pyode train --settings {tmp_path}/config/runs/mnist/odenet.yaml"
            f" --out {tmp_path}/train/mnist/odenet") in result.stdout
    threads = yaml.safe_load((repo_root / "config/config.yaml").read_text())["train"]["defaults"][
        "threads"
    ]
    assert f"--threads {threads} --resume --quiet" in result.stdout


def test_slurm_profile_plans_with_gpu_requests(snakemake, repo_root, tmp_path):
    trainings = planned_trainings(repo_root / "config/paper.yaml")
    result = snakemake("-n", "--profile", "profiles/slurm",
                       "--configfile", "config/paper.yaml", "--config", f"results={tmp_path}")
    assert result.returncode == 0, result.stdout
    assert "Using profiles profiles/slurm" in result.stdout
    assert result.job_counts()["train"] == trainings
    train_jobs = result.stdout.split("rule train:")[1:]
    assert len(train_jobs) == trainings
    for job in train_jobs:
        resources = re.search(r"resources: (.*)", job).group(1)
        assert "gpu=1" in resources
        assert "slurm_partition=gpu" in resources
    assert "slurm_partition=cpu" in result.stdout  # every other job: the default partition
    experiments = result.stdout.split("rule experiment:")[1:]
    assert len(experiments) == len(registry.experiment_names())
    for job in experiments:
        name = re.search(r"wildcards: name=(\w+)", job).group(1)
        resources = re.search(r"resources: (.*)", job).group(1)
        assert "slurm_partition=gpu" in resources
        assert ("gpu=1" in resources) == registry.experiment(name).uses_gpu, (name, resources)


def test_slurm_profile_names_only_rules_of_the_workflow(repo_root):
    # Snakemake ignores set-resources of a rule that does not exist: a renamed rule would silently
    # lose its partition.
    profile = yaml.safe_load((repo_root / "profiles/slurm/config.yaml").read_text())
    sources = "".join(p.read_text() for p in (repo_root / "workflow/rules").glob("*.smk"))
    rules = set(re.findall(r"^rule (\w+):", sources, flags=re.MULTILINE))
    assert {"train", "experiment"} <= rules
    assert set(profile["set-resources"]) <= rules, set(profile["set-resources"]) - rules


@pytest.mark.slow  # runs the data rule
def test_missing_kaggle_file_fails_in_the_data_rule(snakemake, write_config, repo_root,
                                                    tmp_path):
    missing = tmp_path / "resources" / "train.json.7z"
    config = write_config(
        tmp_path / "kaggle.yaml", repo_root / ".test/config.yaml",
        data__iceberg={"source": "kaggle", "path": str(missing)},
    )
    results = tmp_path / "results"
    result = snakemake("--cores", "1", "--configfile", str(config),
                       "--config", f"results={results}", "--",
                       f"{results}/train/iceberg/odenet/summary.json")
    assert result.returncode != 0
    assert "Error in rule data" in result.stdout
    assert "kaggle competitions download -c statoil-iceberg-classifier-challenge" in result.stdout
    assert str(missing) in result.stdout
    assert "rule train:" not in result.stdout  # training never started
    summary = results / "data/iceberg/summary.json"
    assert not summary.exists()
    assert not list(summary.parent.glob("*summary.json*"))  # no partial or temporary output
    log = (results / "logs/data/iceberg.log").read_text()
    assert "no such file" in log and str(missing) in log


def test_paper_prose_has_no_typed_numbers(repo_root):
    """The paper must not contain hand-typed numbers: the published ones are the R package's."""
    text = (repo_root / "report/paper.Rmd").read_text()
    prose = re.sub(r"```\{r.*?```", "", text, flags=re.S)  # code chunks compute, prose must not
    prose = re.sub(r"`r [^`]*`", "", prose)
    prose = re.sub(r"\$[^$]*\$", "", prose)  # formulas: indices such as t+1
    numbers = re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])", prose.split("---", 2)[2])
    assert [n for n in numbers if n not in ("1", "2018")] == []


def test_gpu_profile_trains_table_one_on_full_mnist_without_r(snakemake, repo_root, tmp_path):
    """config/gpu-long.yaml: the MNIST models on the canonical IDX files, on cuda; `--until train`
    plans the data and training jobs only, so a GPU machine without R can run them."""
    result = snakemake("-n", "--configfile", "config/gpu-long.yaml",
                       "--config", f"results={tmp_path}", "--until", "train")
    assert result.returncode == 0, result.stdout
    counts = result.job_counts()
    assert counts["train"] == planned_trainings(repo_root / "config/gpu-long.yaml")
    assert set(counts) <= {"settings", "data", "train", "total"}, counts

    config = yaml.safe_load((repo_root / "config/gpu-long.yaml").read_text())
    runs = resolve_workflow(pipeline_config(config, str(tmp_path)))["runs"]
    assert set(runs) == {("mnist", m, seed) for m in ("mlp", "resnet", "odenet", "rknet", "noblock")
                         for seed in (0, 1, 2)}
    assert [runs["mnist", "odenet", seed]["seed"] for seed in (0, 1, 2)] == [0, 1, 2]
    odenet = runs["mnist", "odenet", 0]
    assert odenet["device"] == "cuda"
    assert odenet["data"] == {"source": "idx", "path": "resources/mnist", "n_train": None,
                              "n_test": None}
    assert odenet["solver"] == {"method": "dopri5", "rtol": 1e-3, "atol": 1e-3, "step_size": None,
                                "n_steps": None, "adjoint": True}

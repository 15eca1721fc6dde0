"""The registry is the one list of names: the models, the config schema, the settings validation
and the R readers agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pyode import registry, solver
from pyode.models import build_model, ode_blocks
from pyode.settings import (
    ConfigError,
    pipeline_config,
    resolve_workflow,
    run_path,
    training_seeds,
)
from pyode.solver import TABLEAUS

SOLVER = {"method": "rk4", "n_steps": 1, "rtol": 1e-3, "atol": 1e-3, "adjoint": True}


@pytest.mark.parametrize(("dataset", "model"), [
    (d, m) for d in registry.dataset_names() for m in registry.model_names(d)
])
def test_every_registered_model_builds_and_declares_its_depth(dataset: str, model: str) -> None:
    net = build_model(dataset, model, solver=SOLVER)
    assert bool(ode_blocks(net)) is registry.model(model).continuous_depth


def test_methods_are_the_solver_method_table_and_adaptivity_comes_from_it() -> None:
    assert tuple(solver.METHOD_TABLE) == registry.METHODS
    assert set(TABLEAUS) <= set(registry.METHODS)
    for name, tableau in TABLEAUS.items():
        assert (name in registry.ADAPTIVE_METHODS) is (tableau.b_err is not None)
    for name in ("heun2", "explicit_adams", "implicit_adams", "fixed_adams", "scipy_solver"):
        assert name in registry.METHODS
    assert set(registry.FIXED_GRID_METHODS) == set(registry.METHODS) - set(
        registry.ADAPTIVE_METHODS)


def test_ranks_and_labels_follow_the_one_order() -> None:
    for rank, model in enumerate(registry.model_names()):
        labels = registry.run_labels(registry.model(model).datasets[0], model)
        assert labels["model_rank"] == rank
        assert labels["model_label"] == registry.model(model).label
    with pytest.raises(KeyError, match="unknown model 'vgg'"):
        registry.model("vgg")


def _enums(node: object) -> list[list]:
    if isinstance(node, dict):
        found = [node["enum"]] if "enum" in node else []
        return found + [e for value in node.values() for e in _enums(value)]
    if isinstance(node, list):
        return [e for value in node for e in _enums(value)]
    return []


def test_schema_copies_no_registry_list(repo_root: Path) -> None:
    schema = yaml.safe_load((repo_root / "workflow/schemas/config.schema.yaml").read_text())
    names = {*registry.model_names(), *registry.METHODS, *registry.experiment_names()}
    for enum in _enums(schema):
        assert not names & set(enum), enum


def test_the_test_profile_trains_every_data_set(repo_root: Path) -> None:
    # so that the end-to-end test covers each: a new data set is a `runs` line there
    runs = yaml.safe_load((repo_root / ".test/config.yaml").read_text())["runs"]
    assert set(runs) == set(registry.dataset_names())


@pytest.mark.parametrize("profile", ["config/config.yaml", "config/paper.yaml",
                                     ".test/config.yaml"])
def test_every_profile_resolves(repo_root: Path, profile: str) -> None:
    config = yaml.safe_load((repo_root / profile).read_text())
    pipeline = pipeline_config(config, "out")
    settings = resolve_workflow(pipeline)
    seeds = config.get("seeds", [config["seed"]])
    assert len(settings["runs"]) == sum(map(len, config["runs"].values())) * len(seeds)
    assert set(settings["experiments"]) == set(registry.experiment_names())
    assert set(settings["data"]) == set(config["runs"])
    for (dataset, _, seed), run in settings["runs"].items():
        assert run["seed"] == seed
        assert run["dataset"] == dataset and run["data"] == settings["data"][dataset]
        block = (config.get("data") or {}).get(dataset) or {}
        assert {k: run["data"][k] for k in block if k != "path"} == {
            k: v for k, v in block.items() if k != "path"}
    iceberg = settings["data"]["iceberg"]
    if iceberg["source"] == "synthetic":  # generated into the results folder, wherever it is
        assert iceberg["path"] == "out/data/iceberg/train.json"
    if config.get("scale") == "tiny":
        assert settings["data"]["mnist"]["n_train"] == 256 and iceberg["n"] == 120


@pytest.mark.parametrize(("seeds", "message"), [
    ([], "config key 'seeds': expected a non-empty list"),
    ([0, 0], "config key 'seeds': the seeds must differ"),
    ([0, True], "config key 'seeds.1': expected an integer >= 0"),
    ("0", "config key 'seeds': expected a non-empty list"),
])
def test_bad_training_seeds_name_the_key(seeds: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        training_seeds({"seed": 0, "seeds": seeds})


def test_training_seeds_default_to_the_one_seed_and_keep_the_data_seed() -> None:
    assert training_seeds({"seed": 4}) == [4]
    assert training_seeds({"seed": 4, "seeds": [2, 9]}) == [2, 9]
    assert run_path("mnist", "odenet") == "mnist/odenet"
    assert run_path("mnist", "odenet", 9) == "mnist/odenet/seed-9"


def test_workflow_resolution_names_the_bad_key(repo_root: Path) -> None:
    config = yaml.safe_load((repo_root / ".test/config.yaml").read_text())
    config["runs"]["iceberg"] = ["mlp", "rknet"]
    with pytest.raises(ConfigError, match=r"config key 'runs\.iceberg\.1': 'rknet' is not one"):
        resolve_workflow(config)


def test_config_readme_describes_every_key(repo_root: Path) -> None:
    from pyode.train.config import SOLVER_SETTINGS, TRAIN_SETTINGS

    text = (repo_root / "config/README.md").read_text()
    keys = {*(k for k in TRAIN_SETTINGS if k != "solver"), "experiments"}
    keys |= {f"solver.{k}" for k in SOLVER_SETTINGS}
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, missing


def test_every_experiment_setting_is_described() -> None:
    """The data sets' and experiments' settings are documented by their own tables
    (config/README.md says how)."""
    from pyode.experiments.settings import schema
    from pyode.settings import describe
    from pyode.train.config import SOLVER_SETTINGS, TRAIN_SETTINGS

    text = describe()
    tables = {f"experiments.{name}": schema(name) for name in registry.experiment_names()}
    tables |= {f"data.{d.name}": d.settings for d in registry.DATASETS}
    tables |= {"train.LEVEL": TRAIN_SETTINGS, "train.LEVEL.solver": SOLVER_SETTINGS}
    for title, table in tables.items():
        for key, setting in table.items():
            assert setting.description.strip(), (title, key)
            assert f"| `{key}` |" in text.split(f"`{title}`")[1].split("###")[0]


def test_every_experiment_declares_its_outputs_and_figure() -> None:
    """The one declaration the experiments write through and the R readers check against: CSV
    files with distinct snake_case columns (R reads columns as snake_case), a figure size."""
    snake = re.compile(r"^[a-z][a-z0-9_]*$")
    for entry in registry.EXPERIMENTS:
        assert entry.outputs, entry.name
        for file, columns in entry.outputs.items():
            assert file.endswith(".csv") and "/" not in file, (entry.name, file)
            assert columns and len(set(columns)) == len(columns), (entry.name, file)
            assert all(snake.match(c) for c in columns), (entry.name, file, columns)
        width, height = entry.figure
        assert width > 0 and height > 0, entry.name

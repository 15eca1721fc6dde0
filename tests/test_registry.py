"""The registry is the one list of names: the models, the config schema, the settings validation
and the R readers agree with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pyode import registry
from pyode.models import build_model, ode_blocks
from pyode.settings import ConfigError, pipeline_config, resolve_workflow
from pyode.solver import TABLEAUS

SOLVER = {"method": "rk4", "n_steps": 1, "rtol": 1e-3, "atol": 1e-3, "adjoint": True}


@pytest.mark.parametrize(("dataset", "model"), [
    (d, m) for d in registry.dataset_names() for m in registry.model_names(d)
])
def test_every_registered_model_builds_and_declares_its_depth(dataset: str, model: str) -> None:
    net = build_model(dataset, model, solver=SOLVER)
    assert bool(ode_blocks(net)) is registry.model(model).continuous_depth


def test_methods_are_the_solver_tableaus_and_adaptivity_comes_from_them() -> None:
    assert set(registry.METHODS) == set(TABLEAUS)
    for name in registry.METHODS:
        assert (name in registry.ADAPTIVE_METHODS) is (TABLEAUS[name].b_err is not None)
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


@pytest.mark.parametrize("profile", ["config/config.yaml", "config/paper.yaml",
                                     ".test/config.yaml"])
def test_every_profile_resolves(repo_root: Path, profile: str) -> None:
    config = yaml.safe_load((repo_root / profile).read_text())
    settings = resolve_workflow(pipeline_config(config, "train.json"))
    assert len(settings["runs"]) == 7
    assert set(settings["experiments"]) == set(registry.experiment_names())
    for (dataset, _), run in settings["runs"].items():
        assert run["dataset"] == dataset and run["data"] == config["data"][dataset] | (
            {"path": "train.json"} if dataset == "iceberg" else {})


def test_workflow_resolution_names_the_bad_key(repo_root: Path) -> None:
    config = yaml.safe_load((repo_root / ".test/config.yaml").read_text())
    config["runs"]["iceberg"] = ["mlp", "rknet"]
    with pytest.raises(ConfigError, match=r"config key 'runs\.iceberg\.1': 'rknet' is not one"):
        resolve_workflow(config)


def test_config_readme_describes_every_key(repo_root: Path) -> None:
    from pyode.experiments.settings import SCHEMAS
    from pyode.train.config import SOLVER_CHECKS, TRAIN_CHECKS

    text = (repo_root / "config/README.md").read_text()
    keys = {*(k for k in TRAIN_CHECKS if k != "solver"), *registry.experiment_names()}
    keys |= {f"solver.{k}" for k in SOLVER_CHECKS}
    keys |= {key for schema in SCHEMAS.values() for key in schema}
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, missing

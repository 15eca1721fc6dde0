"""The workflow's plan, computed once by pyode: each data block checked once, one settings file per
job, and the default profile only under a config that names no profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pyode import planner, registry, train
from pyode.config_files import ConfigError
from pyode.layout import settings_path
from pyode.workflow_plan import plan_workflow, workflow_profile


def test_each_data_block_is_checked_once(repo_root: Path, monkeypatch) -> None:
    checked: list[str] = []
    real = planner.data_settings

    def counting(name, *args, **kwargs):
        checked.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(planner, "data_settings", counting)
    monkeypatch.setattr(train.config, "data_settings", counting)
    profile = yaml.safe_load((repo_root / "config/paper.yaml").read_text())
    plan = plan_workflow(profile)
    assert len(plan.runs) == sum(map(len, profile["runs"].values())) * len(profile["seeds"])
    assert sorted(checked) == sorted(registry.dataset_names())


def test_the_plan_holds_one_settings_file_per_job(repo_root: Path, tmp_path: Path) -> None:
    profile = yaml.safe_load((repo_root / ".test/config.yaml").read_text())
    plan = plan_workflow({**profile, "results": str(tmp_path)})
    keys = set(plan.settings_files)
    assert "resolved" in keys
    assert {f"runs/{d}/{m}" for d, m, _ in plan.runs} <= keys
    assert {f"experiments/{n}" for n in registry.experiment_names()} <= keys
    assert len(keys) == 1 + len(plan.runs) + len(plan.jobs["data"]) + len(
        registry.experiment_names())
    run = json.loads(plan.settings_files["runs/mnist/odenet"])
    assert run == plan.jobs["runs"]["mnist", "odenet", 0]
    assert plan.settings_file("runs/mnist/odenet") == settings_path(str(tmp_path),
                                                                    "runs/mnist/odenet")
    assert plan.experiment_run_files("tolerance")[0].startswith(f"{tmp_path}/train/mnist/odenet/")
    assert plan.experiment_run_files("euler") == []


def test_a_profile_is_used_alone_and_a_bare_config_lies_over_the_default(repo_root) -> None:
    test_profile = yaml.safe_load((repo_root / ".test/config.yaml").read_text())
    assert workflow_profile(test_profile, str(repo_root / "config/config.yaml")) == test_profile
    bare = workflow_profile({"results": "elsewhere"}, str(repo_root / "config/config.yaml"))
    default = yaml.safe_load((repo_root / "config/config.yaml").read_text())
    assert bare == {**default, "results": "elsewhere"}


def test_the_workflow_needs_its_top_level_keys(repo_root: Path) -> None:
    profile = yaml.safe_load((repo_root / ".test/config.yaml").read_text())
    del profile["runs"], profile["device"]
    with pytest.raises(ConfigError) as error:
        plan_workflow(profile)
    assert str(error.value).splitlines() == ["config key 'device': missing",
                                             "config key 'runs': missing"]

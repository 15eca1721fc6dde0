"""A strict reader for the IDX format of the MNIST files (LeCun et al.), plain or gzipped.

Layout: two zero bytes, a dtype byte (0x08 = unsigned byte, the only one MNIST uses), a byte with
the number of dimensions, one big-endian uint32 per dimension, then the row-major payload. Images
have magic 2051 (0x00000803, three dimensions), labels 2049 (0x00000801, one dimension).
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from pyode.atomic import atomic_open
from pyode.data.errors import DataError, DataFileNotFoundError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
UBYTE = 0x08
IMAGE_SIDE = 28
# (images, labels) file stems of the canonical distribution
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataFileNotFoundError("file not found", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", file=path) from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"corrupt gzip data ({exc})", file=path) from None
    return raw


def read_idx(path: str | os.PathLike[str], magic: int) -> np.ndarray:
    """Read one IDX file whose magic number must be `magic`; return a uint8 array of its shape."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"file has {len(raw)} bytes, too short for an IDX header", file=path,
                        field="magic")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise DataError(f"magic number {found} (0x{found:08x}), expected {magic} for IDX {kind}",
                        file=path, field="magic")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"header needs {header} bytes for {ndim} dimensions, file has {len(raw)}",
                        file=path, field="dimensions")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64))
    payload = len(raw) - header
    if payload != expected:
        what = "truncated" if payload < expected else "trailing bytes"
        raise DataError(f"{what}: dimensions {'x'.join(map(str, shape))} need {expected} payload "
                        f"bytes, found {payload}", file=path, field="payload")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_image_label_pair(
    images_path: str | os.PathLike[str], labels_path: str | os.PathLike[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Read an images/labels pair: (N, 28, 28) uint8 images and (N,) int64 labels in 0..9."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"images are {images.shape[1]}x{images.shape[2]}, expected "
                        f"{IMAGE_SIDE}x{IMAGE_SIDE}", file=images_path, field="image size")
    if len(images) != len(labels):
        raise DataError(f"{len(labels)} labels for {len(images)} images in "
                        f"{Path(images_path).name}", file=labels_path, field="count")
    if len(labels) and labels.max() > 9:
        bad = int(np.flatnonzero(labels > 9)[0])
        raise DataError(f"label {labels[bad]} is not a digit 0-9", file=labels_path, record=bad,
                        field="label")
    return images, labels.astype(np.int64)


def find_mnist_files(folder: str | os.PathLike[str]) -> dict[str, tuple[Path, Path]]:
    """Locate the four canonical files (plain or .gz) in `folder`: split -> (images, labels)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFileNotFoundError(
            "not a folder; expected one holding train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally .gz)", file=folder)
    found: dict[str, tuple[Path, Path]] = {}
    for split, stems in MNIST_FILES.items():
        paths = []
        for stem in stems:
            candidates = [folder / stem, folder / f"{stem}.gz"]
            hit = next((p for p in candidates if p.is_file()), None)
            if hit is None:
                raise DataFileNotFoundError(f"missing {stem} (or {stem}.gz)", file=folder)
            paths.append(hit)
        found[split] = (paths[0], paths[1])
    return found


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool = False) -> None:
    """Write a uint8 array in IDX format (used for fixtures and round trips)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, UBYTE, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    with atomic_open(path, "wb") as handle:
        handle.write(gzip.compress(data, mtime=0) if compress else data)

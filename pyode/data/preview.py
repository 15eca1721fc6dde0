"""Labelled image grids of iceberg chips or MNIST digits, for eyeballing a data source."""

from __future__ import annotations

import math
import os

import numpy as np

from pyode.atomic import atomic_path


def _balanced_pick(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Up to `n` indices cycling through the classes, so each class shows up."""
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    picked: list[int] = []
    for rank in range(max(len(p) for p in per_class)):
        for members in per_class:
            if rank < len(members) and len(picked) < n:
                picked.append(int(members[rank]))
    return np.array(picked, dtype=np.int64)


def save_grid(
    images: np.ndarray, titles: list[str], path: str | os.PathLike[str], *, cmap: str,
    suptitle: str, vmin: float | None = None, vmax: float | None = None,
) -> None:
    """Draw (N, H, W) images in a near-square grid with one title each; write PNG atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(images)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.0 * rows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=8)
    fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
    finally:
        plt.close(fig)


def preview_iceberg(path: str | os.PathLike[str], out: str | os.PathLike[str], n: int = 16) -> None:
    """HH (band_1) chips in dB on a common scale, titled with label and incidence angle."""
    from pyode.data.iceberg import load_records

    records = load_records(path)
    idx = _balanced_pick(records.is_iceberg, n)
    titles = []
    for i in idx:
        label = "iceberg" if records.is_iceberg[i] else "ship"
        angle = "na" if records.angle_missing[i] else f"{records.inc_angle[i]:.1f}°"
        titles.append(f"{label}, {angle}\n{records.ids[i]}")
    save_grid(records.band_1[idx], titles, out, cmap="gray", vmin=-35.0, vmax=5.0,
              suptitle=f"{os.fspath(path)}: HH backscatter (dB, -35 to 5)")


def preview_mnist(source: str, path: str | os.PathLike[str] | None,
                  out: str | os.PathLike[str], n: int = 16) -> None:
    """Training digits of the given source, titled with their labels."""
    from pyode.data.mnist import load_mnist_arrays

    images, labels, _, _ = load_mnist_arrays(source, path)
    idx = _balanced_pick(labels, n)
    save_grid(images[idx], [f"label {labels[i]}" for i in idx], out, cmap="gray_r",
              vmin=0, vmax=255, suptitle=f"MNIST ({source}) training digits")

"""Deterministic, stratified index splits: class proportions are kept up to rounding."""

from __future__ import annotations

import numpy as np

# Every data set draws its test subsets with this seed, so every model and every training seed
# is scored on the same examples.
TEST_SUBSET_SEED = 7


def _allocate(counts: np.ndarray, n: int) -> np.ndarray:
    """Share `n` among classes in proportion to `counts` (largest remainder method)."""
    total = int(counts.sum())
    exact = counts * (n / total)
    alloc = np.floor(exact).astype(np.int64)
    # hand the leftover units to the largest remainders; ties go to the lower class index
    order = np.lexsort((np.arange(len(counts)), -(exact - alloc)))
    for k in order[: n - int(alloc.sum())]:
        alloc[k] += 1
    return np.minimum(alloc, counts)


def stratified_split(
    labels: np.ndarray, n_second: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted index arrays (first, second) with `len(second) == n_second`, stratified by label.

    The same labels, size and seed always give the same split.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if not 0 <= n_second <= n:
        raise ValueError(f"cannot take {n_second} of {n} items")
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    take = _allocate(counts, n_second)
    rng = np.random.default_rng(seed)
    second: list[np.ndarray] = []
    for k in range(len(classes)):
        members = np.flatnonzero(inverse == k)
        second.append(rng.permutation(members)[: take[k]])
    second_idx = np.sort(np.concatenate(second)) if second else np.empty(0, np.int64)
    mask = np.ones(n, dtype=bool)
    mask[second_idx] = False
    return np.flatnonzero(mask), second_idx


def stratified_subsample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a stratified random subset of size `n`."""
    return stratified_split(labels, n, seed)[1]


def select_splits(
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    *,
    n_train: int | None,
    n_test: int | None,
    seed: int,
    test_seed: int = TEST_SUBSET_SEED,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) into the given training and test pools.

    The test subset depends only on `test_seed`; the training subset follows `seed`.
    """
    from pyode.data.errors import DataError

    for name, value, pool in (("n_train", n_train, train_labels), ("n_test", n_test, test_labels)):
        if value is not None and not 1 <= value <= len(pool):
            raise DataError(f"{name}={value} is outside 1..{len(pool)} (examples available)",
                            field=name)
    test_idx = (np.arange(len(test_labels)) if n_test is None
                else stratified_subsample(test_labels, n_test, test_seed))
    train_idx = (np.arange(len(train_labels)) if n_train is None
                 else stratified_subsample(train_labels, n_train, seed))
    return train_idx, test_idx

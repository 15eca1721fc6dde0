"""Stratified, seeded index splits."""

from __future__ import annotations

import numpy as np
import pytest

from pyode.data import DataError
from pyode.data.splits import select_splits, stratified_split


def test_stratified_split_is_deterministic_disjoint_and_proportional() -> None:
    labels = np.repeat([0, 1, 2], [500, 300, 200])
    first, second = stratified_split(labels, 100, seed=4)
    again = stratified_split(labels, 100, seed=4)
    other = stratified_split(labels, 100, seed=5)
    assert np.array_equal(first, again[0]) and np.array_equal(second, again[1])
    assert not np.array_equal(second, other[1])
    assert len(second) == 100 and np.intersect1d(first, second).size == 0
    assert np.array_equal(np.sort(np.concatenate([first, second])), np.arange(1000))
    assert np.bincount(labels[second]).tolist() == [50, 30, 20]


def test_rounding_keeps_the_requested_size() -> None:
    labels = np.repeat([0, 1], [851, 753])  # Kaggle's ships and icebergs
    _, test = stratified_split(labels, 304, seed=0)
    counts = np.bincount(labels[test])
    assert counts.sum() == 304 and abs(counts[1] / 304 - 753 / 1604) < 1 / 304


def test_select_splits_fixes_the_test_subset_and_checks_sizes() -> None:
    train, test = np.repeat([0, 1], 50), np.repeat([0, 1], 20)
    a = select_splits(train, test, n_train=40, n_test=10, seed=1, test_seed=7)
    b = select_splits(train, test, n_train=40, n_test=10, seed=2, test_seed=7)
    assert [len(x) for x in a] == [40, 10]
    assert np.array_equal(a[1], b[1]) and not np.array_equal(a[0], b[0])
    assert np.bincount(train[a[0]]).tolist() == [20, 20]  # stratified
    with pytest.raises(DataError, match="n_test=41"):
        select_splits(train, test, n_train=None, n_test=41, seed=0, test_seed=7)

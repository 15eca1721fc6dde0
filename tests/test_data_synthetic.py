"""The synthetic SAR generator: Kaggle schema, reproducible, physically plausible, learnable."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pyode.data.iceberg import load_records
from pyode.data.iceberg_synthetic import generate, write_synthetic


@pytest.fixture(scope="module")
def full() -> list[dict]:
    return generate(n=1604, seed=0)


@pytest.fixture(scope="module")
def arrays(full: list[dict]) -> dict[str, np.ndarray]:
    angle = np.array([np.nan if r["inc_angle"] == "na" else r["inc_angle"] for r in full])
    return {
        "hh": np.array([r["band_1"] for r in full], dtype=np.float64).reshape(-1, 75, 75),
        "hv": np.array([r["band_2"] for r in full], dtype=np.float64).reshape(-1, 75, 75),
        "angle": angle,
        "iceberg": np.array([r["is_iceberg"] for r in full], dtype=bool),
    }


def test_schema_is_exactly_kaggles(full: list[dict]) -> None:
    assert len(full) == 1604
    ids = [r["id"] for r in full]
    assert len(set(ids)) == 1604
    for record in full:
        assert list(record) == ["id", "band_1", "band_2", "inc_angle", "is_iceberg"]
        assert re.fullmatch(r"[0-9a-f]{8}", record["id"])
        for band in ("band_1", "band_2"):
            assert type(record[band]) is list and len(record[band]) == 5625
            assert all(type(v) is float for v in record[band][:50])
        assert record["inc_angle"] == "na" or type(record["inc_angle"]) is float
        assert type(record["is_iceberg"]) is int and record["is_iceberg"] in (0, 1)
    # the stated balance: 753 icebergs and 133 "na" angles, as in Kaggle's training set
    assert sum(r["is_iceberg"] for r in full) == 753
    assert sum(r["inc_angle"] == "na" for r in full) == 133
    sample = np.array(full[10]["band_1"])
    np.testing.assert_array_equal(np.round(sample, 4), sample)


def test_reproducible_per_seed_and_round_trips_through_the_loader(tmp_path: Path) -> None:
    assert generate(n=6, seed=4) == generate(n=6, seed=4)
    assert generate(n=6, seed=4) != generate(n=6, seed=5)
    path = tmp_path / "train.json"
    write_synthetic(path, n=30, seed=2)
    assert json.loads(path.read_text()) == generate(n=30, seed=2)
    assert [p.name for p in tmp_path.iterdir()] == ["train.json"]  # no temporary left behind
    records = load_records(path)
    assert len(records.ids) == 30


def test_physically_plausible(arrays: dict[str, np.ndarray]) -> None:
    hh, hv, angle = arrays["hh"], arrays["hv"], arrays["angle"]
    assert hh.min() > -50 and hh.max() < 40 and hv.min() > -50 and hv.max() < 40
    known = ~np.isnan(angle)
    assert angle[known].min() >= 30 and angle[known].max() <= 46
    # ocean (median pixel) falls with incidence angle, about half a dB per degree
    ocean_hh = np.median(hh.reshape(len(hh), -1), axis=1)
    slope = np.polyfit(angle[known], ocean_hh[known], 1)[0]
    assert -0.8 < slope < -0.25
    # cross-polarised clutter several dB below co-polarised
    ocean_hv = np.median(hv.reshape(len(hv), -1), axis=1)
    assert 5 < np.mean(ocean_hh - ocean_hv) < 12
    # multiplicative gamma speckle with a few looks: coefficient of variation of clutter power
    # near 1/sqrt(looks) in the chip border, far from the target
    border = np.concatenate([hh[:, :6, :].reshape(len(hh), -1), hh[:, -6:, :].reshape(len(hh), -1)],
                            axis=1)
    power = 10 ** (border / 10)
    cv = np.median(power.std(axis=1) / power.mean(axis=1))
    assert 0.4 < cv < 0.7


def _features(hh: np.ndarray, hv: np.ndarray) -> np.ndarray:
    """Max HH, HV/HH over the 20 brightest HH pixels, bright area and bright-shape elongation."""
    flat_hh, flat_hv = hh.reshape(len(hh), -1), hv.reshape(len(hv), -1)
    top = np.argsort(flat_hh, axis=1)[:, -20:]
    ratio = (np.take_along_axis(flat_hv, top, 1) - np.take_along_axis(flat_hh, top, 1)).mean(1)
    bright = flat_hh > np.median(flat_hh, axis=1, keepdims=True) + 8
    area = bright.sum(1)
    ys, xs = np.divmod(np.arange(75 * 75), 75)
    w = bright / np.maximum(area, 1)[:, None]
    my, mx = w @ ys, w @ xs
    cyy = w @ ys**2 - my**2
    cxx = w @ xs**2 - mx**2
    cxy = w @ (xs * ys) - mx * my
    spread = np.sqrt(((cxx - cyy) / 2) ** 2 + cxy**2)
    # ratio of the principal second moments, softened for one-pixel regions
    elongation = ((cxx + cyy) / 2 + spread + 0.25) / ((cxx + cyy) / 2 - spread + 0.25)
    return np.stack([flat_hh.max(1), ratio, np.log1p(area), np.log(elongation)], axis=1)


def test_classes_differ_as_described(arrays: dict[str, np.ndarray]) -> None:
    f = _features(arrays["hh"], arrays["hv"])
    ship, ice = f[~arrays["iceberg"]], f[arrays["iceberg"]]
    assert ship[:, 0].mean() > ice[:, 0].mean() + 2  # ships brighter (point scatterers)
    assert ship[:, 1].mean() > ice[:, 1].mean() + 1  # relatively stronger HV on ships
    assert ship[:, 3].mean() > ice[:, 3].mean() + 0.3  # ships elongated, icebergs compact


def test_learnable_but_not_trivial_from_simple_features(arrays: dict[str, np.ndarray]) -> None:
    """Logistic regression on max dB, HV/HH and bright area beats chance, far from perfect."""
    f = _features(arrays["hh"], arrays["hv"])[:, :3]
    y = arrays["iceberg"].astype(np.float64)
    train, test = slice(0, 1300), slice(1300, None)
    mean, std = f[train].mean(0), f[train].std(0)
    x = np.c_[(f - mean) / std, np.ones(len(f))]
    w = np.zeros(x.shape[1])
    for _ in range(2000):  # full-batch gradient descent on the logistic loss (convex)
        p = 1 / (1 + np.exp(-x[train] @ w))
        w -= 0.5 * x[train].T @ (p - y[train]) / len(p)
    accuracy = np.mean((x[test] @ w > 0) == (y[test] == 1))
    assert 0.7 < accuracy < 0.92, accuracy

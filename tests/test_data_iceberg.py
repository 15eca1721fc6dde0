"""The Kaggle-format iceberg loader: .json and .7z, every bad-input case, the bundle."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import py7zr
import pytest
import torch

from pyode.data import DataError, load_dataset
from pyode.data.iceberg import load_records, summarize
from pyode.data.iceberg_synthetic import generate

N_RECORDS = 10


@pytest.fixture(scope="module")
def records() -> list[dict]:
    recs = generate(n=N_RECORDS, seed=3)
    recs[2]["inc_angle"] = "na"  # make sure both angle kinds are present
    recs[5]["inc_angle"] = 41
    return recs


def _write(path: Path, records: list | dict, **kwargs) -> Path:
    path.write_text(json.dumps(records, **kwargs))
    return path


def _write_7z(path: Path, payload: bytes, name: str = "data/processed/train.json") -> Path:
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.writestr(payload, name)
    return path


def test_reads_json_and_7z_alike(tmp_path: Path, records: list[dict]) -> None:
    plain = load_records(_write(tmp_path / "train.json", records))
    packed = load_records(_write_7z(tmp_path / "train.json.7z", json.dumps(records).encode()))
    assert plain.ids == packed.ids == [r["id"] for r in records]
    np.testing.assert_array_equal(plain.band_1, packed.band_1)
    np.testing.assert_array_equal(plain.band_2[4].ravel(), np.float32(records[4]["band_2"]))
    assert plain.band_1.shape == (N_RECORDS, 75, 75)
    # row-major: the second value of the list is row 0, column 1
    assert plain.band_1[7, 0, 1] == np.float32(records[7]["band_1"][1])
    assert plain.angle_missing.tolist() == [r["inc_angle"] == "na" for r in records]
    assert plain.inc_angle[5] == 41.0
    assert plain.is_iceberg.tolist() == [r["is_iceberg"] for r in records]
    summary = summarize(plain)
    assert summary["records"] == N_RECORDS
    assert summary["icebergs"] + summary["ships"] == N_RECORDS
    assert summary["inc_angle_na"] == int(plain.angle_missing.sum())


def _mutate(records: list[dict], index: int, key: str, value) -> list[dict]:
    out = copy.deepcopy(records[:8])
    if value is _DELETE:
        del out[index][key]
    else:
        out[index][key] = value
    return out


_DELETE = object()
RECORD_CASES = {
    "missing key": (3, "band_2", _DELETE, "band_2", "missing key"),
    "unexpected key": (3, "colour", "red", "colour", "unexpected key"),
    "short band": (4, "band_1", [0.0] * 5624, "band_1", "expected 5625 values, got 5624"),
    "band not a list": (4, "band_1", "0.0", "band_1", "expected an array"),
    "string pixel": (1, "band_2", [-20.0] * 100 + ["-3.5"] + [-20.0] * 5524, "band_2", "value 100"),
    "null pixel": (1, "band_2", [-20.0] * 7 + [None] + [-20.0] * 5617, "band_2", "value 7"),
    "boolean pixel": (1, "band_1", [True] + [-20.0] * 5624, "band_1", "value 0"),
    "nan pixel": (6, "band_1", [-20.0] * 5 + [float("nan")] + [-20.0] * 5619, "band_1", "value 5"),
    "infinite pixel": (6, "band_2", [float("inf")] * 5625, "band_2", "not a finite"),
    "huge pixel": (6, "band_2", [10**400] + [-20.0] * 5624, "band_2", "not a finite"),
    "angle text": (2, "inc_angle", "n/a", "inc_angle", "number or \"na\""),
    "angle null": (2, "inc_angle", None, "inc_angle", "angle in degrees"),
    "angle out of range": (2, "inc_angle", 123.0, "inc_angle", "angle in degrees"),
    "label 2": (7, "is_iceberg", 2, "is_iceberg", "expected 0 or 1"),
    "label float": (7, "is_iceberg", 1.0, "is_iceberg", "expected 0 or 1"),
    "label string": (7, "is_iceberg", "1", "is_iceberg", "expected 0 or 1"),
    "id number": (0, "id", 12345, "id", "non-empty string"),
}


@pytest.mark.parametrize("case", RECORD_CASES, ids=list(RECORD_CASES))
def test_bad_record_names_file_record_id_and_field(
    tmp_path: Path, records: list[dict], case: str
) -> None:
    index, key, value, field, text = RECORD_CASES[case]
    bad = _mutate(records, index, key, value)
    path = _write(tmp_path / "train.json", bad)
    with pytest.raises(DataError) as info:
        load_records(path)
    err = info.value
    assert (err.file, err.record, err.field) == (str(path), index, field)
    assert text in str(err)
    message = str(err)
    assert "\n" not in message and f"record {index}" in message and f"'{field}'" in message
    if key != "id":
        assert err.record_id == bad[index]["id"] and repr(bad[index]["id"]) in message


def test_duplicate_id_points_at_the_second_record(tmp_path: Path, records: list[dict]) -> None:
    bad = copy.deepcopy(records[:6])
    bad[4]["id"] = bad[1]["id"]
    with pytest.raises(DataError, match=r"record 4 .*field 'id': duplicate id, first used by "
                                        r"record 1"):
        load_records(_write(tmp_path / "train.json", bad))


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("truncated", "invalid JSON at line 1"),
        ('{"id": "a"}', "expected a JSON array of records at top level, got object"),
        ("[]", "no records"),
        ("[1, 2]", "record 0: expected a JSON object, got number"),
        (b"\xff\xfe[", "not UTF-8"),
    ],
    ids=["truncated", "top-level object", "empty", "not objects", "not text"],
)
def test_bad_file_structure(tmp_path: Path, records: list[dict], content, text: str) -> None:
    path = tmp_path / "train.json"
    if content == "truncated":
        path.write_text(json.dumps(records[:2])[:-3000])
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(DataError, match=text) as info:
        load_records(path)
    assert info.value.file == str(path)


def test_corrupt_and_empty_7z(tmp_path: Path, records: list[dict]) -> None:
    good = _write_7z(tmp_path / "good.json.7z", json.dumps(records[:3]).encode()).read_bytes()
    corrupt = tmp_path / "train.json.7z"
    corrupt.write_bytes(good[: len(good) // 2] + bytes(64))
    with pytest.raises(DataError, match="corrupt or unreadable 7z") as info:
        load_records(corrupt)
    assert info.value.file == str(corrupt)
    no_json = _write_7z(tmp_path / "other.7z", b"hello", name="readme.txt")
    with pytest.raises(DataError, match=r"no \.json file"):
        load_records(no_json)


def test_missing_file_says_how_to_get_the_data(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("iceberg", source="kaggle", path=tmp_path / "train.json.7z")
    assert isinstance(info.value, DataError)
    assert "kaggle competitions download -c statoil-iceberg-classifier-challenge" in str(
        info.value)


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    recs = generate(n=120, seed=11)
    for i in (0, 3, 50, 77, 101):
        recs[i]["inc_angle"] = "na"
    path = tmp_path_factory.mktemp("ice") / "train.json"
    return _write(path, recs), recs


def test_bundle_standardises_with_training_statistics_only(
    bundle_file: tuple[Path, list[dict]]
) -> None:
    path, recs = bundle_file
    bundle = load_dataset("iceberg", source="synthetic", path=path, seed=0)
    assert bundle.data_source == "synthetic" and bundle.n_classes == 2
    assert bundle.input_shape == (3, 75, 75) and bundle.train_x.dtype == torch.float32
    assert bundle.train_y.dtype == torch.int64
    counts = bundle.counts()
    assert counts["test"] == round(120 * 304 / 1604) and sum(counts.values()) == 120

    by_id = {r["id"]: r for r in recs}
    raw_train = np.stack([
        np.stack([np.float32(by_id[i]["band_1"]), np.float32(by_id[i]["band_2"])])
        for i in bundle.extras["train_ids"]
    ]).astype(np.float64)
    raw_train = np.concatenate([raw_train, raw_train.mean(axis=1, keepdims=True)], axis=1)
    mean = raw_train.mean(axis=(0, 2))
    std = raw_train.std(axis=(0, 2))
    np.testing.assert_allclose(bundle.extras["channel_mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(bundle.extras["channel_std"], std, rtol=1e-5)
    x = bundle.train_x.double()
    np.testing.assert_allclose(x.mean(dim=(0, 2, 3)), 0.0, atol=1e-4)
    np.testing.assert_allclose(x.std(dim=(0, 2, 3), correction=0), 1.0, atol=1e-4)
    # the test split is transformed with the same (training) statistics
    first_test = by_id[bundle.extras["test_ids"][0]]
    expected = (np.float32(first_test["band_2"][0]) - mean[1]) / std[1]
    assert bundle.test_x[0, 1, 0, 0].item() == pytest.approx(expected, abs=1e-4)
    assert bundle.test_y[0].item() == first_test["is_iceberg"]


def test_missing_angles_are_imputed_with_the_training_median(
    bundle_file: tuple[Path, list[dict]]
) -> None:
    path, recs = bundle_file
    bundle = load_dataset("iceberg", source="synthetic", path=path)
    by_id = {r["id"]: r for r in recs}
    train_angles = [by_id[i]["inc_angle"] for i in bundle.extras["train_ids"]]
    median = float(np.median([a for a in train_angles if a != "na"]))
    assert bundle.extras["angle_median"] == pytest.approx(median)
    for split in ("train", "test"):
        ids = bundle.extras[f"{split}_ids"]
        missing = bundle.extras[f"{split}_angle_missing"]
        angle = bundle.extras[f"{split}_angle"]
        assert missing.dtype == torch.bool and angle.dtype == torch.float32
        assert missing.tolist() == [by_id[i]["inc_angle"] == "na" for i in ids]
        for i, flag, value in zip(ids, missing.tolist(), angle.tolist()):
            assert value == pytest.approx(median if flag else by_id[i]["inc_angle"], abs=1e-4)
    n_missing = sum(r["inc_angle"] == "na" for r in recs)
    assert n_missing >= 5
    assert int(bundle.extras["train_angle_missing"].sum() + bundle.extras[
        "test_angle_missing"].sum()) == n_missing


def test_split_is_fixed_stratified_and_subsets_follow_the_seed(
    bundle_file: tuple[Path, list[dict]]
) -> None:
    path, recs = bundle_file
    a = load_dataset("iceberg", source="kaggle", path=path, seed=0)
    b = load_dataset("iceberg", source="kaggle", path=path, seed=5)
    assert a.data_source == "kaggle"
    assert a.extras["test_ids"] == b.extras["test_ids"]  # the test set never depends on the seed
    assert set(a.extras["train_ids"]).isdisjoint(a.extras["test_ids"])
    share = np.mean([r["is_iceberg"] for r in recs])
    assert abs(a.test_y.float().mean().item() - share) < 1 / len(a.test_y) + 1e-9
    small0 = load_dataset("iceberg", source="kaggle", path=path, seed=0, n_train=40, n_test=10)
    small0b = load_dataset("iceberg", source="kaggle", path=path, seed=0, n_train=40, n_test=10)
    small1 = load_dataset("iceberg", source="kaggle", path=path, seed=1, n_train=40, n_test=10)
    assert small0.counts() == {"train": 40, "test": 10}
    assert small0.extras["train_ids"] == small0b.extras["train_ids"]
    assert small0.extras["train_ids"] != small1.extras["train_ids"]
    assert small0.extras["test_ids"] == small1.extras["test_ids"]
    assert torch.equal(small0.train_x, small0b.train_x)
    with pytest.raises(DataError, match="n_train=5000"):
        load_dataset("iceberg", source="kaggle", path=path, n_train=5000)

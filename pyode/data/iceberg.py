"""The Statoil/C-CORE Iceberg Classifier Challenge data in Kaggle's `train.json` format.

Each record is ``{"id": str, "band_1": [5625 floats], "band_2": [5625 floats],
"inc_angle": float | "na", "is_iceberg": 0 | 1}``: 75×75 row-major Sentinel-1 backscatter in dB, HH
(band_1) and HV (band_2), the incidence angle in degrees and the label (1 = iceberg). The file is
distributed as `train.json.7z`; both the archive and the plain JSON are read. Every record is
checked and the first bad one stops loading with a DataError naming file, record index, id and
field.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pyode.data.bundle import DatasetBundle
from pyode.data.errors import DataError, DataFileNotFoundError, shorten
from pyode.data.splits import select_splits, stratified_split
from pyode.registry.training import ICEBERG_SOURCES

SIDE = 75
N_PIXELS = SIDE * SIDE
KEYS = ("id", "band_1", "band_2", "inc_angle", "is_iceberg")
BANDS = ("band_1", "band_2")
# Kaggle's original has 1,604 records split here 1,300 train / 304 test; other sizes keep the ratio.
DEFAULT_TEST_FRACTION = 304 / 1604
SPLIT_SEED = 20171023  # fixed: the train/test partition never depends on the training seed
AUGMENT_PADDING = 4  # pixels of the random crops' zero padding

HOW_TO_GET = (
    "obtain it with `kaggle competitions download -c statoil-iceberg-classifier-challenge` "
    "(needs Kaggle credentials and accepting the competition rules) and place train.json.7z or "
    "train.json at this path, or use the synthetic source (`pyode data iceberg-synthetic`)"
)


@dataclass
class IcebergRecords:
    """Validated records as arrays; `inc_angle` is NaN where the file says "na"."""

    path: Path
    ids: list[str]
    band_1: np.ndarray  # (N, 75, 75) float32, dB
    band_2: np.ndarray  # (N, 75, 75) float32, dB
    inc_angle: np.ndarray  # (N,) float64, degrees
    angle_missing: np.ndarray  # (N,) bool
    is_iceberg: np.ndarray  # (N,) int64


def read_json_text(path: str | os.PathLike[str]) -> bytes:
    """The JSON bytes of `path`: a plain file, or the JSON member of a .7z archive."""
    path = Path(path)
    if not path.is_file():
        raise DataFileNotFoundError(f"no such file; {HOW_TO_GET}", file=path)
    if path.suffix.lower() != ".7z":
        return path.read_bytes()
    import py7zr

    try:
        with py7zr.SevenZipFile(path, mode="r") as archive:
            names = [n for n in archive.getnames() if n.lower().endswith(".json")]
            if not names:
                raise DataError("the 7z archive holds no .json file", file=path)
            member = next((n for n in names if Path(n).name == "train.json"), names[0])
            with tempfile.TemporaryDirectory() as tmp:
                archive.extract(path=tmp, targets=[member])
                return (Path(tmp) / member).read_bytes()
    except DataError:
        raise
    except Exception as exc:  # py7zr raises many types for damaged archives
        reason = shorten(str(exc)) or type(exc).__name__
        raise DataError(f"corrupt or unreadable 7z archive ({reason})", file=path) from None


def parse_json(raw: bytes, path: str | os.PathLike[str]) -> list[Any]:
    """Decode the top-level JSON array of records."""
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text at byte {exc.start}", file=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} "
                        "(truncated or corrupt file?)", file=path) from None
    except RecursionError:
        raise DataError("arrays or objects nested too deeply (Kaggle records are two levels "
                        "deep)", file=path) from None
    except ValueError:
        # Python refuses to convert integers longer than sys.get_int_max_str_digits().
        raise DataError(f"a number with more digits than any pixel or angle can have "
                        f"{_locate_long_integer(raw)}", file=path) from None
    if not isinstance(data, list):
        raise DataError(f"expected a JSON array of records at top level, got "
                        f"{_json_type(data)}", file=path)
    if not data:
        raise DataError("the array holds no records", file=path)
    return data


def _locate_long_integer(raw: bytes) -> str:
    match = re.search(rb"\d{%d,}" % sys.get_int_max_str_digits(), raw)
    if match is None:
        return ""
    line = raw.count(b"\n", 0, match.start()) + 1
    column = match.start() - (raw.rfind(b"\n", 0, match.start()) + 1) + 1
    return f"at line {line} column {column}"


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null",
             int: "number", float: "number"}
    return names.get(type(value), type(value).__name__)


def _band(values: Any, fail) -> np.ndarray:
    if not isinstance(values, list):
        fail(f"expected an array of {N_PIXELS} numbers, got {_json_type(values)}")
    if len(values) != N_PIXELS:
        fail(f"expected {N_PIXELS} values, got {len(values)}")
    # C-level type scan: rejects strings, null, booleans and nested arrays without a Python loop
    if not set(map(type, values)) <= {float, int}:
        i, bad = next((i, v) for i, v in enumerate(values) if type(v) not in (float, int))
        fail(f"value {i} is {_json_type(bad)} {json.dumps(bad)[:40]}, expected a number")
    try:
        band = np.array(values, dtype=np.float64).astype(np.float32)
    except OverflowError:
        band = np.full(N_PIXELS, np.inf, dtype=np.float32)
    finite = np.isfinite(band)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        fail(f"value {i} is not a finite number ({values[i]!r})")
    return band.reshape(SIDE, SIDE)


def validate_records(data: list[Any], path: str | os.PathLike[str]) -> IcebergRecords:
    """Check every record; stop at the first bad one with a DataError naming it."""
    n = len(data)
    ids: list[str] = []
    seen: dict[str, int] = {}
    band_1 = np.empty((n, SIDE, SIDE), dtype=np.float32)
    band_2 = np.empty((n, SIDE, SIDE), dtype=np.float32)
    angle = np.empty(n, dtype=np.float64)
    labels = np.empty(n, dtype=np.int64)
    for index, record in enumerate(data):
        record_id = record.get("id") if isinstance(record, dict) else None
        shown_id = record_id if isinstance(record_id, str) else None

        def fail(message: str, field: str | None = None, *, _i=index, _id=shown_id) -> None:
            raise DataError(message, file=path, record=_i, record_id=_id, field=field)

        if not isinstance(record, dict):
            fail(f"expected a JSON object, got {_json_type(record)}")
        for key in KEYS:
            if key not in record:
                fail(f"missing key {key!r}", key)
        extra = sorted(set(record) - set(KEYS))
        if extra:
            fail(f"unexpected key {extra[0]!r} (Kaggle records have {', '.join(KEYS)})", extra[0])
        if not isinstance(record_id, str) or not record_id:
            fail(f"expected a non-empty string, got {_json_type(record_id)}", "id")
        if record_id in seen:
            fail(f"duplicate id, first used by record {seen[record_id]}", "id")
        seen[record_id] = index
        ids.append(record_id)
        for name, out in (("band_1", band_1), ("band_2", band_2)):
            out[index] = _band(record[name], lambda m, _f=fail, _n=name: _f(m, _n))
        value = record["inc_angle"]
        if isinstance(value, str):
            if value != "na":
                fail(f'expected a number or "na", got string {value[:40]!r}', "inc_angle")
            angle[index] = math.nan
        elif type(value) in (int, float) and 0 < value < 90:
            angle[index] = value
        else:
            fail(f'expected an angle in degrees (0 < angle < 90) or "na", got '
                 f"{json.dumps(value)[:40]}", "inc_angle")
        label = record["is_iceberg"]
        if type(label) is not int or label not in (0, 1):
            fail(f"expected 0 or 1, got {json.dumps(label)[:40]}", "is_iceberg")
        labels[index] = label
    return IcebergRecords(Path(path), ids, band_1, band_2, angle, np.isnan(angle), labels)


def load_records(path: str | os.PathLike[str]) -> IcebergRecords:
    """Read and validate a Kaggle-format `train.json` or `train.json.7z`."""
    return validate_records(parse_json(read_json_text(path), path), path)


def summarize(records: IcebergRecords) -> dict[str, Any]:
    """Counts, class balance, missing angles and value ranges, for `pyode data check`."""
    n = len(records.ids)
    icebergs = int(records.is_iceberg.sum())
    angles = records.inc_angle[~records.angle_missing]
    out: dict[str, Any] = {
        "file": str(records.path),
        "format": "kaggle-iceberg",
        "records": n,
        "icebergs": icebergs,
        "ships": n - icebergs,
        "iceberg_fraction": round(icebergs / n, 4),
        "inc_angle_na": int(records.angle_missing.sum()),
        "inc_angle_range": [float(angles.min()), float(angles.max())] if len(angles) else None,
    }
    for name in BANDS:
        band = getattr(records, name)
        out[f"{name}_range_db"] = [round(float(band.min()), 4), round(float(band.max()), 4)]
        out[f"{name}_mean_db"] = round(float(band.mean(dtype=np.float64)), 4)
    return out


def _angles(records: IcebergRecords, idx: np.ndarray, median: float) -> tuple[torch.Tensor, ...]:
    angle = np.where(records.angle_missing[idx], median, records.inc_angle[idx])
    return (torch.from_numpy(angle.astype(np.float32)),
            torch.from_numpy(records.angle_missing[idx].copy()))


def prepare(s: Mapping[str, Any], out_dir: Path) -> dict[str, Any]:
    """Generate a synthetic source (Kaggle's file is read where it lies); the file's summary."""
    if s["source"] == "synthetic":
        from pyode.data.iceberg_synthetic import write_synthetic

        write_synthetic(s["path"], n=s["n"], seed=s["seed"])
    return {"source_file": summarize(load_records(s["path"]))}


def load_bundle(
    source: str,
    path: str | os.PathLike[str] | None,
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
) -> DatasetBundle:
    """Iceberg records as a DatasetBundle of 3-channel images (HH, HV, their mean).

    The train/test partition (1,300/304 for the 1,604 Kaggle records) is stratified with a fixed
    seed; `n_test` subsets the test part with another fixed seed, while `n_train` follows `seed`.
    Channels are standardised with the mean and standard deviation of the final training split only.
    Missing incidence angles ("na") are replaced by the median angle of the training split, and
    the `*_angle_missing` flags in `extras` keep track of which ones were imputed.
    """
    if path is None:
        raise DataError(f"iceberg source {source!r} needs a path to a Kaggle-format "
                        "train.json or train.json.7z", field="path")
    if source not in ICEBERG_SOURCES:
        raise DataError(f"unknown iceberg source {source!r}; choose one of "
                        f"{', '.join(ICEBERG_SOURCES)}", field="source")
    records = load_records(path)
    labels = records.is_iceberg
    n = len(labels)
    n_pool_test = round(n * DEFAULT_TEST_FRACTION)
    if n < 4 or not 1 <= n_pool_test < n - 1:
        raise DataError(f"{n} records are too few for a train/test split", file=path)
    pool_train, pool_test = stratified_split(labels, n_pool_test, SPLIT_SEED)
    tr, te = select_splits(labels[pool_train], labels[pool_test], n_train=n_train, n_test=n_test,
                           seed=seed)
    splits = {"train": pool_train[tr], "test": pool_test[te]}

    images = np.empty((n, 3, SIDE, SIDE), dtype=np.float32)
    images[:, 0] = records.band_1
    images[:, 1] = records.band_2
    images[:, 2] = 0.5 * (records.band_1 + records.band_2)
    train_images = images[splits["train"]]
    mean = train_images.mean(axis=(0, 2, 3), dtype=np.float64)
    std = train_images.std(axis=(0, 2, 3), dtype=np.float64)
    std = np.where(std > 0, std, 1.0)
    images -= mean.astype(np.float32)[None, :, None, None]
    images /= std.astype(np.float32)[None, :, None, None]

    known = records.inc_angle[splits["train"]][~records.angle_missing[splits["train"]]]
    if not len(known):
        raise DataError("no incidence angle in the training split to impute \"na\" from",
                        file=path, field="inc_angle")
    median = float(np.median(known))
    extras: dict[str, Any] = {
        "angle_median": median,
        "angle_mean": float(known.mean()),
        "angle_std": float(known.std()) if len(known) > 1 else 1.0,
        "channel_mean": mean.tolist(),
        "channel_std": std.tolist(),
        "channels": ["band_1 (HH, dB)", "band_2 (HV, dB)", "mean of band_1 and band_2"],
        "file": str(path),
    }
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for name, idx in splits.items():
        tensors[name] = (torch.from_numpy(images[idx]), torch.from_numpy(labels[idx].copy()))
        angle, missing = _angles(records, idx, median)
        extras[f"{name}_angle"] = angle
        extras[f"{name}_angle_missing"] = missing
        extras[f"{name}_ids"] = [records.ids[i] for i in idx]

    origin = ("synthetic Sentinel-1-like SAR chips in the Kaggle format of the Statoil/C-CORE "
              "Iceberg Classifier Challenge" if source == "synthetic" else
              "the Statoil/C-CORE Iceberg Classifier Challenge training set (Sentinel-1 SAR)")
    description = (
        f"Ship-versus-iceberg classification on {origin}: {n:,} 75×75 chips "
        f"({labels.mean():.0%} icebergs, {int(records.angle_missing.sum())} without incidence "
        f"angle) with HH, HV and their mean as channels, split {len(splits['train']):,} "
        f"training / {len(splits['test']):,} test and standardised per channel "
        f"with training statistics."
    )
    return DatasetBundle(
        train_x=tensors["train"][0], train_y=tensors["train"][1],
        test_x=tensors["test"][0], test_y=tensors["test"][1],
        n_classes=2, input_shape=(3, SIDE, SIDE), data_source=source,
        description=description, augment_padding=AUGMENT_PADDING, extras=extras,
    )

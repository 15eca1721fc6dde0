"""Atomic JSON output: strict JSON only, and a refused write leaves the old file in place."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pyode.atomic import NonFiniteJSONError, write_json


def test_json_is_written_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "run" / "summary.json"
    write_json(path, {"accuracy": 0.5, "epochs": [1, 2]})
    write_json(path, {"accuracy": 0.75})
    assert json.loads(path.read_text()) == {"accuracy": 0.75}
    assert [p.name for p in path.parent.iterdir()] == ["summary.json"]


@pytest.mark.parametrize(("obj", "where"), [
    ({"loss": math.nan}, "loss"),
    ({"config": {"lr": math.inf}}, "config.lr"),
    ({"rows": [{"x": 1.0}, {"x": -math.inf}]}, "rows.1.x"),
])
def test_non_finite_values_are_refused_and_named(tmp_path: Path, obj: dict, where: str) -> None:
    path = tmp_path / "summary.json"
    write_json(path, {"old": True})
    with pytest.raises(NonFiniteJSONError, match=f"non-finite value at '{where}'"):
        write_json(path, obj)
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]

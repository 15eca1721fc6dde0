"""The solver benchmark runs end to end at a tiny size and writes its CSV."""

from __future__ import annotations

import pandas as pd
import pytest

from pyode.bench import solver

pytest.importorskip("torchdiffeq")


def test_bench_writes_csv(tmp_path) -> None:
    out = tmp_path / "bench" / "solver.csv"
    args = ["--repeats", "1", "--batch", "2", "--dim", "4", "--size", "3", "--out", str(out)]
    assert solver.main(args) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == solver.COLUMNS
    assert set(frame["case"]) == {c.name for c in solver.CASES}
    assert set(frame["library"]) == {"pyode", "torchdiffeq"}
    assert (frame["median_seconds"] > 0).all() and (frame["nfe_forward"] > 0).all()
    assert (frame["nfe_backward"] > 0).all()
    assert not list(out.parent.glob(".*.tmp"))
